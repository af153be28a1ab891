package activities

// Retention's per-shop sweep: one activity per shop and system, which the
// Retention workflow's per-shop children run in bounded parallel, and the
// policies that are swept across all shops at the end. Each heartbeats
// where it stands, and the next attempt resumes there.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// SweepShopInput names one shop's sweep in the sweep run RunID.
type SweepShopInput struct {
	RunID string `json:"run_id"`
	Shop  string `json:"shop"`
	// KeepSendGridDue keeps the expired requests whose recipients are
	// still to be named to SendGrid: set when the shop's SendGrid step
	// failed, so that the rows that name them outlive it until the next
	// sweep.
	KeepSendGridDue bool `json:"keep_sendgrid_due,omitempty"`
}

// saveShopReceipt records a shop's sweep of one policy when it did or left
// something: a shop with nothing past policy is counted in the policy's
// summary receipt (SweepShared), not given a row of its own every hour.
func (a *Activities) saveShopReceipt(ctx context.Context, runID string, p PolicySweep) error {
	if p.Deleted == 0 && len(p.Notes) == 0 {
		return nil
	}
	return saveReceipt(ctx, a.DB, runID, p)
}

// sendGridCursor is where a shop's SendGrid sweep stands: its heartbeat
// details. The requests already done are marked (sendgrid_erased_at), so a
// new attempt picks up the rest by itself; the cursor keeps the counts and
// job IDs for the receipt.
type sendGridCursor struct {
	Done    int64    `json:"done"`
	Jobs    []string `json:"jobs"`
	Missing int      `json:"missing"`
}

// SweepSendGridShop is SweepSendGrid for one shop.
func (a *Activities) SweepSendGridShop(ctx context.Context, in SweepShopInput) (PolicySweep, error) {
	return retentionStep[PolicySweep](ctx, registry.SystemSendGrid)(a.sweepSendGridShop(ctx, in))
}

func (a *Activities) sweepSendGridShop(ctx context.Context, in SweepShopInput) (PolicySweep, error) {
	res := PolicySweep{Policy: retention.SendGridActivity, System: registry.SystemSendGrid, Shop: in.Shop}
	sh, err := a.DB.Shop(ctx, in.Shop)
	if errors.Is(err, store.ErrNotFound) {
		return res, nil // erased since it was listed: nothing of it is left to name
	}
	if err != nil {
		return res, fmt.Errorf("load shop: %w", err)
	}
	ov, err := a.DB.Overrides(ctx, in.Shop)
	if err != nil {
		return res, err
	}
	now := a.now()
	keep := ov.Keep(retention.SendGridActivity)
	res.Asked = fmt.Sprintf("erase, through SendGrid's Recipients' Data Erasure API, the recipients of requests last emailed longer ago than %s; addresses read from Shopify just in time", retention.Human(keep))
	cutoff := now.Add(-keep)
	var cur sendGridCursor
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &cur); err != nil {
			cur = sendGridCursor{}
		}
	}
	done, note, err := a.eraseShopRecipients(ctx, sh, cutoff, now, &cur.Jobs, &cur.Missing, func(done int64) {
		activity.RecordHeartbeat(ctx, sendGridCursor{Done: cur.Done + done, Jobs: cur.Jobs, Missing: cur.Missing})
	})
	res.Deleted = cur.Done + done
	if err != nil {
		return res, err
	}
	if note != "" {
		res.Notes = append(res.Notes, note)
	} else {
		var left int
		if err := a.DB.GetContext(ctx, &left, `SELECT count(*) FROM review_requests WHERE `+dueForErasure, in.Shop, cutoff, now); err != nil {
			return res, fmt.Errorf("read back: %w", err)
		}
		if left > 0 {
			return res, temporal.NewApplicationError(fmt.Sprintf("%d requests still due for SendGrid erasure", left), ErrNotYetGone)
		}
	}
	if cur.Missing > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d sent requests' recipients are no longer in Shopify, so they could not be named to SendGrid; its own 30-day activity retention applies", cur.Missing))
	}
	res.Verified = fmt.Sprintf("SendGrid accepted %d erasure jobs (HTTP 202", len(cur.Jobs))
	if len(cur.Jobs) > 0 {
		res.Verified += ": " + strings.Join(cur.Jobs, ", ")
	}
	res.Verified += "); SendGrid offers no read-back of erasure jobs. Read back: no request past policy is left unasked, except as noted"
	return res, a.saveShopReceipt(ctx, in.RunID, res)
}

// SweepTemporalShop is SweepTemporal for one shop's review workflows, found
// through visibility by their ID prefix. A new attempt lists again what is
// left: the histories already deleted are no longer listed.
func (a *Activities) SweepTemporalShop(ctx context.Context, in SweepShopInput) (PolicySweep, error) {
	return retentionStep[PolicySweep](ctx, registry.SystemTemporal)(a.sweepTemporalShop(ctx, in))
}

func (a *Activities) sweepTemporalShop(ctx context.Context, in SweepShopInput) (PolicySweep, error) {
	res := PolicySweep{Policy: retention.TemporalHistories, System: registry.SystemTemporal, Shop: in.Shop}
	if a.Temporal == nil {
		res.Notes = append(res.Notes, "no Temporal client: nothing swept")
		return res, a.saveShopReceipt(ctx, in.RunID, res)
	}
	ov, err := a.DB.Overrides(ctx, in.Shop)
	if err != nil {
		return res, err
	}
	now := a.now()
	keep := ov.Keep(retention.TemporalHistories)
	before := now.Add(-keep)
	res.Asked = fmt.Sprintf("delete closed %s workflows closed longer ago than %s (before %s)",
		review.WorkflowType, retention.Human(keep), before.UTC().Format(time.RFC3339))
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'Running' AND CloseTime < '%s' AND WorkflowId STARTS_WITH '%s'",
		review.WorkflowType, before.UTC().Format(time.RFC3339Nano), review.ShopWorkflowIDPrefix(in.Shop))
	if err := a.deleteReviewHistories(ctx, query, now, map[string]retention.Overrides{in.Shop: ov}, &res); err != nil {
		return res, err
	}
	return res, a.saveShopReceipt(ctx, in.RunID, res)
}

// SweepPostgresShop deletes one shop's review requests past their expiry,
// in batches, each with its registry entries; it heartbeats its cursor
// after each batch and resumes from it. Then it reads back.
func (a *Activities) SweepPostgresShop(ctx context.Context, in SweepShopInput) (PolicySweep, error) {
	return retentionStep[PolicySweep](ctx, registry.SystemPostgres)(a.sweepPostgresShop(ctx, in))
}

func (a *Activities) sweepPostgresShop(ctx context.Context, in SweepShopInput) (PolicySweep, error) {
	now := a.now()
	var cur sweepCursor
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &cur); err != nil {
			cur = sweepCursor{}
		}
	}
	rr, err := a.sweepExpiredRequests(ctx, now, sweepScope{Shop: in.Shop, KeepSendGridDue: in.KeepSendGridDue}, cur)
	if err != nil {
		return rr, err
	}
	var left struct {
		Requests int64 `db:"requests"`
		Waiting  int64 `db:"waiting"`
		Kept     int64 `db:"kept"`
	}
	notWaiting := strings.ReplaceAll(expiredNotWaiting, "$4", "$3")
	if err := a.DB.GetContext(ctx, &left, `SELECT
		count(*) FILTER (WHERE `+notWaiting+` AND NOT ($4 AND `+sendGridDue+`)) AS requests,
		count(*) FILTER (WHERE NOT (`+notWaiting+`)) AS waiting,
		count(*) FILTER (WHERE `+notWaiting+` AND $4 AND `+sendGridDue+`) AS kept
		FROM review_requests WHERE shop = $1 AND expires_at < $2`, in.Shop, now, pq.Array(store.Waiting), in.KeepSendGridDue); err != nil {
		return rr, fmt.Errorf("read back: %w", err)
	}
	if left.Requests > 0 {
		return rr, temporal.NewApplicationError(fmt.Sprintf("%d rows past policy left after the sweep", left.Requests), ErrNotYetGone)
	}
	rr.Verified = "read back: 0 review requests past their expiry, other than those still waiting to send"
	if left.Waiting > 0 {
		rr.Notes = append(rr.Notes, fmt.Sprintf("%d review requests past their expiry still wait to send (scheduled or sending); kept until their workflow ends", left.Waiting))
	}
	if left.Kept > 0 {
		rr.Notes = append(rr.Notes, fmt.Sprintf("%d review requests past their expiry kept until their recipients are named to SendGrid (its step failed this sweep)", left.Kept))
	}
	return rr, a.saveShopReceipt(ctx, in.RunID, rr)
}

// SweepSharedInput is the end of a per-shop sweep: its run, and the sums of
// its shops' sweeps, one per policy, for the summary receipts.
type SweepSharedInput struct {
	RunID   string        `json:"run_id"`
	PerShop []PolicySweep `json:"per_shop"`
}

// SharedSweep is what SweepShared did: the policies kept over all shops at
// once, and the namespace check.
type SharedSweep struct {
	Policies           []PolicySweep `json:"policies"`
	NamespaceRetention string        `json:"namespace_retention"`
	WithinPolicy       bool          `json:"within_policy"`
}

// SweepShared ends a per-shop sweep: it deletes and reads back what is kept
// over all shops at once (webhook delivery IDs, API tokens, uninstalled
// shops' tokens), checks the Temporal namespace's retention against the
// policy, and records a receipt per policy, the per-shop ones as sums.
func (a *Activities) SweepShared(ctx context.Context, in SweepSharedInput) (SharedSweep, error) {
	var out SharedSweep
	now := a.now()
	shared, err := a.sweepSharedPolicies(ctx, now)
	if err != nil {
		return out, err
	}
	out.Policies = shared
	if a.Temporal != nil {
		d, err := a.Temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: a.namespace()})
		if err != nil {
			return out, fmt.Errorf("read the namespace's retention: %w", err)
		}
		got, def := d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(), retention.Lookup(retention.TemporalHistories).Keep
		out.NamespaceRetention, out.WithinPolicy = got.String(), got <= def
		note := fmt.Sprintf("namespace retention %s (policy %s)", retention.Human(got), retention.Human(def))
		if !out.WithinPolicy {
			note += ": the namespace keeps closed histories longer than the policy; the sweep deletes review workflows, but other workflows follow the namespace"
			activity.GetLogger(ctx).Warn("Temporal namespace keeps closed histories longer than the policy",
				"namespace_retention", got.String(), "policy", def.String())
		}
		for i, p := range in.PerShop {
			if p.Policy == retention.TemporalHistories {
				in.PerShop[i].Verified += "; " + note
			}
		}
	}
	return out, a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		for _, p := range append(shared, in.PerShop...) {
			if err := saveReceipt(ctx, tx, in.RunID, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// SaveSweepReceipt records a shop's sweep step that gave up this run (its
// activity's retries ran out), so the receipts say what was not done.
func (a *Activities) SaveSweepReceipt(ctx context.Context, runID string, p PolicySweep) error {
	return saveReceipt(ctx, a.DB, runID, p)
}
