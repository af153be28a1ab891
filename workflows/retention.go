package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
)

// RetentionScheduleID is the Temporal Schedule that runs the sweep.
const RetentionScheduleID = "candor-retention"

// RetentionInterval is how often the schedule sweeps.
const RetentionInterval = time.Hour

// RetentionInput carries a sweep across continue-as-new: the schedule and
// `candor retention run` start it empty.
type RetentionInput struct {
	After string      `json:"after,omitempty"` // the last shop the earlier runs swept
	Sums  []policySum `json:"sums,omitempty"`
}

// policySum adds up one per-shop policy over the shops swept so far.
type policySum struct {
	Policy  string   `json:"policy"`
	System  string   `json:"system"`
	Deleted int64    `json:"deleted"`
	Shops   int      `json:"shops"`
	NotDone int      `json:"not_done"`
	Notes   []string `json:"notes,omitempty"`
}

// maxSweepNotes bounds the notes a sweep's result carries per policy (each
// shop's are in its receipts), so the input carried across continue-as-new
// stays small.
const maxSweepNotes = 100

func addSweep(sums []policySum, p activities.PolicySweep) []policySum {
	i := slices.IndexFunc(sums, func(s policySum) bool { return s.Policy == p.Policy })
	if i < 0 {
		sums, i = append(sums, policySum{Policy: p.Policy, System: p.System}), len(sums)
	}
	s := &sums[i]
	s.Shops++
	s.Deleted += p.Deleted
	if p.NotDone {
		s.NotDone++
	}
	for _, n := range p.Notes {
		if len(s.Notes) < maxSweepNotes {
			s.Notes = append(s.Notes, p.Shop+": "+n)
		}
	}
	return sums
}

// retentionFanOut is the change that swept each shop in its own child
// workflow, its systems side by side, a page of shops per run: before it
// one sequence swept SendGrid, then Temporal, then Postgres, for every shop,
// so one shop's or one system's failure held up all of them.
const retentionFanOut = "retention-fanout"

// retentionStep is how a shop's sweep step is tried: five times over about
// 75 s (a restart of Postgres or a short outage is waited out), then it
// gives up for this sweep, and the hourly schedule tries again, so that one
// shop or system that keeps failing never holds up the page of shops.
var retentionStep = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Minute,
	HeartbeatTimeout:    2 * time.Minute,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
}

// Retention runs one sweep: the same workflow for the schedule and for
// `candor retention run`. Each shop is a RetentionShop child (at most
// shopParallel at once, a page of shopPage shops per run, the next page in
// a new run); after the last page, SweepShared deletes what is kept over
// all shops at once and records the per-policy sums.
func Retention(ctx workflow.Context, in RetentionInput) (activities.SweepResult, error) {
	if workflow.GetVersion(ctx, retentionFanOut, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return retentionInOneSequence(ctx)
	}
	var a *activities.Activities
	runID := workflow.GetInfo(ctx).WorkflowExecution.ID
	var res activities.SweepResult
	shops, err := listShopPage(ctx, false, in.After)
	if err != nil {
		return res, err
	}
	results, errs := forEachShop[[]activities.PolicySweep](ctx, shops, RetentionShop, func(shop string) any {
		return activities.SweepShopInput{RunID: runID, Shop: shop}
	})
	sums := in.Sums
	for i, shop := range shops {
		if errs[i] != nil { // the child itself failed, not one of its steps
			workflow.GetLogger(ctx).Warn("retention shop failed", "shop", shop, "error", errs[i].Error())
			for _, p := range []activities.PolicySweep{
				{Policy: retention.SendGridActivity, System: registry.SystemSendGrid},
				{Policy: retention.TemporalHistories, System: registry.SystemTemporal},
				{Policy: retention.ReviewRequests, System: registry.SystemPostgres},
			} {
				p.Shop, p.NotDone = shop, true
				sums = addSweep(sums, p)
			}
			continue
		}
		for _, p := range results[i] {
			sums = addSweep(sums, p)
		}
	}
	if len(shops) == shopPage {
		return res, workflow.NewContinueAsNewError(ctx, Retention, RetentionInput{After: shops[len(shops)-1], Sums: sums})
	}
	var perShop []activities.PolicySweep
	for _, s := range sums {
		perShop = append(perShop, activities.PolicySweep{Policy: s.Policy, System: s.System, Deleted: s.Deleted, Notes: s.Notes,
			Asked:    fmt.Sprintf("sweep each of %d shops by its own period", s.Shops),
			Verified: fmt.Sprintf("read back per shop: %d shops verified, %d not done this sweep (their receipts say why)", s.Shops-s.NotDone, s.NotDone)})
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute},
	})
	var shared activities.SharedSweep
	if err := workflow.ExecuteActivity(ctx, a.SweepShared, activities.SweepSharedInput{RunID: runID, PerShop: perShop}).Get(ctx, &shared); err != nil {
		return res, err
	}
	res.Policies = append(perShop, shared.Policies...)
	res.TemporalRetention, res.TemporalWithinRule = shared.NamespaceRetention, shared.WithinPolicy
	return res, nil
}

// RetentionShop sweeps one shop: SendGrid and Temporal side by side, then
// Postgres, whose rows name the recipients SendGrid must erase and the
// customers Temporal's deletions are recorded under. A step that gives up
// is recorded as not done; the others go on (Postgres then keeps the rows
// SendGrid still needs).
func RetentionShop(ctx workflow.Context, in activities.SweepShopInput) ([]activities.PolicySweep, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, retentionStep)
	sgF := workflow.ExecuteActivity(ctx, a.SweepSendGridShop, in)
	trF := workflow.ExecuteActivity(ctx, a.SweepTemporalShop, in)
	var sg, tr, pg activities.PolicySweep
	sgErr := sgF.Get(ctx, &sg)
	trErr := trF.Get(ctx, &tr)
	pgIn := in
	pgIn.KeepSendGridDue = sgErr != nil
	pgErr := workflow.ExecuteActivity(ctx, a.SweepPostgresShop, pgIn).Get(ctx, &pg)
	out := []activities.PolicySweep{sg, tr, pg}
	for i, step := range []struct {
		policy, system string
		err            error
	}{
		{retention.SendGridActivity, registry.SystemSendGrid, sgErr},
		{retention.TemporalHistories, registry.SystemTemporal, trErr},
		{retention.ReviewRequests, registry.SystemPostgres, pgErr},
	} {
		if step.err == nil {
			continue
		}
		why := step.err.Error()
		var ae *temporal.ApplicationError
		if errors.As(step.err, &ae) {
			why = ae.Error()
		}
		out[i] = activities.PolicySweep{Policy: step.policy, System: step.system, Shop: in.Shop, NotDone: true,
			Asked: "sweep the shop by its own period", Verified: "not done this sweep; the next sweep tries again",
			Notes: []string{"gave up after its retries: " + why}}
		if err := workflow.ExecuteActivity(ctx, a.SaveSweepReceipt, in.RunID, out[i]).Get(ctx, nil); err != nil {
			return out, err
		}
	}
	return out, nil
}

// retentionInOneSequence is Retention before retentionFanOut, kept so that
// sweeps recorded before it replay. SendGrid goes first, while the request
// rows still say which recipients to name; then Temporal histories; then
// the rows. Each activity reads back what it deleted and fails (and is
// retried) while anything past policy is left.
func retentionInOneSequence(ctx workflow.Context) (activities.SweepResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute},
	})
	runID := workflow.GetInfo(ctx).WorkflowExecution.ID
	var res activities.SweepResult
	var sg activities.PolicySweep
	if err := workflow.ExecuteActivity(ctx, a.SweepSendGrid, runID).Get(ctx, &sg); err != nil {
		return res, err
	}
	var tr activities.TemporalSweep
	if err := workflow.ExecuteActivity(ctx, a.SweepTemporal, runID).Get(ctx, &tr); err != nil {
		return res, err
	}
	var pg []activities.PolicySweep
	if err := workflow.ExecuteActivity(ctx, a.SweepPostgres, runID).Get(ctx, &pg); err != nil {
		return res, err
	}
	res.Policies = append(append(pg, sg), tr.PolicySweep)
	res.TemporalRetention, res.TemporalWithinRule = tr.NamespaceRetention, tr.WithinPolicy
	return res, nil
}

// EnsureRetentionSchedule creates the schedule, or brings an existing one
// back to the current interval; it is safe to call at every worker start.
func EnsureRetentionSchedule(ctx context.Context, c client.Client) error {
	return ensureSchedule(ctx, c, RetentionScheduleID, RetentionInterval, "retention/scheduled", Retention, RetentionInput{}) // one sweep at a time
}
