package activities

// Retention's Temporal sweep: closed review workflows found through
// visibility, their histories deleted and read back, and the namespace check.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
)

// TemporalSweep adds the namespace check to the policy's sweep.
type TemporalSweep struct {
	PolicySweep
	NamespaceRetention string `json:"namespace_retention"`
	WithinPolicy       bool   `json:"within_policy"`
}

// SweepTemporal deletes closed review workflows whose close is older than
// their shop's temporal_histories period, reads back that each is gone, and
// records a `deleted` entry per history. It then checks the namespace's
// retention against the default policy.
func (a *Activities) SweepTemporal(ctx context.Context, runID string) (TemporalSweep, error) {
	return retentionStep[TemporalSweep](ctx, registry.SystemTemporal)(a.sweepTemporal(ctx, runID))
}

func (a *Activities) sweepTemporal(ctx context.Context, runID string) (TemporalSweep, error) {
	var out TemporalSweep
	res := PolicySweep{Policy: retention.TemporalHistories, System: registry.SystemTemporal}
	if a.Temporal == nil {
		res.Notes = append(res.Notes, "no Temporal client: nothing swept")
		out.PolicySweep = res
		return out, saveReceipt(ctx, a.DB, runID, res)
	}
	now := a.now()
	all, err := a.DB.AllOverrides(ctx)
	if err != nil {
		return out, err
	}
	def := retention.Lookup(retention.TemporalHistories).Keep
	shortest := def
	for _, ov := range all {
		shortest = min(shortest, ov.Keep(retention.TemporalHistories))
	}
	listBefore := now.Add(-shortest)
	res.Asked = fmt.Sprintf("delete closed %s workflows closed longer ago than their shop's period (default %s); listed closed before %s",
		review.WorkflowType, retention.Human(def), listBefore.UTC().Format(time.RFC3339))
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'Running' AND CloseTime < '%s'",
		review.WorkflowType, listBefore.UTC().Format(time.RFC3339Nano))

	if err := a.deleteReviewHistories(ctx, query, now, all, &res); err != nil {
		return out, err
	}

	d, err := a.Temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: a.namespace()})
	if err != nil {
		return out, fmt.Errorf("read the namespace's retention: %w", err)
	}
	got := d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
	within := got <= def
	res.Verified += fmt.Sprintf("; namespace retention %s (policy %s)", retention.Human(got), retention.Human(def))
	if !within {
		res.Notes = append(res.Notes, "the namespace keeps closed histories longer than the policy; the sweep deletes review workflows, but other workflows follow the namespace")
		activity.GetLogger(ctx).Warn("Temporal namespace keeps closed histories longer than the policy",
			"namespace_retention", got.String(), "policy", def.String())
	}
	out.PolicySweep, out.NamespaceRetention, out.WithinPolicy = res, got.String(), within
	return out, saveReceipt(ctx, a.DB, runID, res)
}

// deleteReviewHistories deletes the closed review workflows query lists
// that are past their shop's period (all), reads each back, records the
// ones gone, and fills res's count and read-back. Deleted histories not yet
// gone end the attempt with ErrNotYetGone, to be retried.
func (a *Activities) deleteReviewHistories(ctx context.Context, query string, now time.Time, all map[string]retention.Overrides, res *PolicySweep) error {
	deleted, err := a.deleteClosedReviews(ctx, query, now, all)
	if err != nil {
		return err
	}
	verified, pending, err := a.readBackDeleted(ctx, deleted)
	if err != nil {
		return err
	}
	if err := a.recordTemporalDeletions(ctx, now, verified); err != nil {
		return err
	}
	if len(pending) > 0 {
		return temporal.NewApplicationError(fmt.Sprintf("%d deleted review workflows not yet gone", len(pending)), ErrNotYetGone)
	}
	res.Deleted = int64(len(verified))
	res.Verified = fmt.Sprintf("read back: none of the %d exists any more (DescribeWorkflowExecution: not found)", len(verified))
	return nil
}

// deleteClosedReviews lists the closed review workflows that query finds
// and deletes each whose shop's period is over.
func (a *Activities) deleteClosedReviews(ctx context.Context, query string, now time.Time, all map[string]retention.Overrides) ([]closedReview, error) {
	var deleted []closedReview
	var token []byte
	for {
		page, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: a.namespace(), Query: query, NextPageToken: token, PageSize: 1000})
		if err != nil {
			return nil, fmt.Errorf("list closed review workflows: %w", err)
		}
		for _, e := range page.Executions {
			shop, order, ok := review.ParseWorkflowID(e.GetExecution().GetWorkflowId())
			if !ok {
				continue
			}
			if e.GetCloseTime().AsTime().After(now.Add(-all[shop].Keep(retention.TemporalHistories))) {
				continue // the shop keeps it longer than the shortest period
			}
			req := &workflowservice.DeleteWorkflowExecutionRequest{Namespace: a.namespace(), WorkflowExecution: e.GetExecution()}
			var nf *serviceerror.NotFound
			if _, err := a.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, req); err != nil && !errors.As(err, &nf) {
				return nil, fmt.Errorf("delete a closed review workflow: %w", err)
			}
			deleted = append(deleted, closedReview{shop, order, req})
		}
		activity.RecordHeartbeat(ctx, len(deleted))
		if token = page.NextPageToken; len(token) == 0 {
			break
		}
	}
	return deleted, nil
}

// readBackDeleted reads back the deleted workflows. Deletion is
// asynchronous in Temporal: it waits a little, then says what is verified
// gone and what is still pending, for the activity's retry.
func (a *Activities) readBackDeleted(ctx context.Context, deleted []closedReview) (verified, pending []closedReview, err error) {
	pending = deleted
	for wait := 0; len(pending) > 0 && wait < 30; wait++ {
		var still []closedReview
		for _, g := range pending {
			_, err := a.Temporal.WorkflowService().DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
				Namespace: a.namespace(), Execution: g.exec.WorkflowExecution})
			var nf *serviceerror.NotFound
			switch {
			case errors.As(err, &nf):
				verified = append(verified, g)
			case err != nil:
				return nil, nil, fmt.Errorf("read back a review workflow: %w", err)
			default:
				still = append(still, g)
			}
		}
		if pending = still; len(pending) > 0 {
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(time.Second):
			}
			activity.RecordHeartbeat(ctx, len(verified))
		}
	}
	return verified, pending, nil
}

// closedReview is a review workflow the sweep deleted.
type closedReview struct {
	shop  string
	order int64
	exec  *workflowservice.DeleteWorkflowExecutionRequest
}

// recordTemporalDeletions writes a `deleted` entry per verified history,
// under the request's opaque ID and the customer's pseudonym when the
// request row still names it.
func (a *Activities) recordTemporalDeletions(ctx context.Context, now time.Time, gs []closedReview) error {
	for start := 0; start < len(gs); start += sweepBatch {
		chunk := gs[start:min(start+sweepBatch, len(gs))]
		refs := make([]string, len(chunk))
		for i, g := range chunk {
			refs[i] = a.Keys.RequestID(g.shop, g.order)
		}
		err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
			var subjects []struct {
				RequestID string `db:"request_id"`
				Subject   string `db:"subject"`
			}
			if err := tx.SelectContext(ctx, &subjects, `SELECT request_id, subject FROM review_requests WHERE request_id = ANY($1)`, pq.Array(refs)); err != nil {
				return err
			}
			bySubject := map[string]string{}
			for _, s := range subjects {
				bySubject[s.RequestID] = s.Subject
			}
			es := make([]registry.Entry, len(chunk))
			for i, g := range chunk {
				es[i] = registry.Entry{Shop: g.shop, Subject: bySubject[refs[i]], Datum: registry.DatumPurchaseHistory,
					System: registry.SystemTemporal, Action: registry.ActionDeleted, Purpose: registry.PurposeRetention,
					LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: refs[i]}
			}
			_, err := registry.Append(ctx, tx, now, es...)
			return err
		})
		if err != nil {
			return fmt.Errorf("record deleted histories: %w", err)
		}
	}
	return nil
}
