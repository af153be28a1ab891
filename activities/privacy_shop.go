package activities

// shop/redact at scale: a shop may have hundreds of thousands of orders, so
// each step works in committed batches, heartbeats what it has done, and a
// new attempt picks up what is left (what is done is gone) with the counts
// from the heartbeat.

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// shopEraseBatch is how many rows (or data keys) one transaction of a
// shop's erasure deletes.
const shopEraseBatch = 5000

// shopDeleteParallel bounds the Temporal deletes of a shop's erasure in
// flight at once.
const shopDeleteParallel = 16

// shopProgress is what a shop erasure step did in earlier attempts: its
// heartbeat details.
type shopProgress struct {
	Done     int  `json:"done"`
	Recorded bool `json:"recorded,omitempty"` // the registry entry of the step is written
}

func lastProgress(ctx context.Context) shopProgress {
	var p shopProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &p); err != nil {
			return shopProgress{}
		}
	}
	return p
}

// shopReviewsQuery lists every review workflow of the shop, open or closed:
// visibility knows them whether or not a request row still names them.
func shopReviewsQuery(shop string) string {
	return fmt.Sprintf("WorkflowType = '%s' AND WorkflowId STARTS_WITH '%s'", review.WorkflowType, review.ShopWorkflowIDPrefix(shop))
}

// stopShopReviews terminates and deletes every review workflow of the shop,
// a page of visibility at a time, and reads back that visibility lists none.
func (a *Activities) stopShopReviews(ctx context.Context, r store.PrivacyRequest) (StepResult, error) {
	p := lastProgress(ctx)
	query := shopReviewsQuery(r.Shop)
	var token []byte
	for {
		page, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: a.namespace(), Query: query, NextPageToken: token, PageSize: 1000})
		if err != nil {
			return StepResult{}, fmt.Errorf("list the shop's review workflows: %w", err)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(shopDeleteParallel)
		for _, e := range page.Executions {
			exec := e.GetExecution()
			running := e.GetCloseTime() == nil
			g.Go(func() error {
				var nf *serviceerror.NotFound
				if running {
					if err := a.Temporal.TerminateWorkflow(gctx, exec.GetWorkflowId(), exec.GetRunId(), "privacy request "+r.ID); err != nil && !errors.As(err, &nf) {
						return fmt.Errorf("terminate a review workflow: %w", err)
					}
				}
				_, err := a.Temporal.WorkflowService().DeleteWorkflowExecution(gctx, &workflowservice.DeleteWorkflowExecutionRequest{
					Namespace: a.namespace(), WorkflowExecution: exec})
				if err != nil && !errors.As(err, &nf) {
					return fmt.Errorf("delete a review workflow: %w", err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return StepResult{}, err
		}
		p.Done += len(page.Executions)
		activity.RecordHeartbeat(ctx, p)
		if token = page.NextPageToken; len(token) == 0 {
			break
		}
	}
	// Read back: deletion is asynchronous, and visibility forgets a
	// workflow once its deletion is through.
	left, err := a.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: a.namespace(), Query: query})
	if err != nil {
		return StepResult{}, fmt.Errorf("read back the shop's review workflows: %w", err)
	}
	if left.GetCount() > 0 {
		return StepResult{}, temporal.NewApplicationError(fmt.Sprintf("%d review workflows not yet gone", left.GetCount()), ErrNotYetGone)
	}
	return StepResult{Found: p.Done, Done: p.Done, Verified: true}, a.finishStep(ctx, r, registry.SystemTemporal, registry.DatumPurchaseHistory, p.Done > 0, store.Receipt{
		System: registry.SystemTemporal, AskedAt: a.now(),
		Asked:    fmt.Sprintf("terminate and delete the histories of the shop's %d review workflows (all that visibility lists)", p.Done),
		Verified: "read back: visibility lists none of the shop's review workflows (CountWorkflowExecutions: 0)",
	})
}

// shredShopKeys destroys the shop's data keys in batches, each in its own
// transaction; the first that destroys any also records it.
func (a *Activities) shredShopKeys(ctx context.Context, r store.PrivacyRequest) (int, error) {
	p := lastProgress(ctx)
	for {
		var ids []string
		err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
			if err := tx.SelectContext(ctx, &ids, `DELETE FROM data_keys WHERE id IN (
				SELECT id FROM data_keys WHERE shop = $1 LIMIT $2) RETURNING id`, r.Shop, shopEraseBatch); err != nil {
				return err
			}
			if len(ids) == 0 || p.Recorded {
				return nil
			}
			now := a.now()
			var es []registry.Entry
			for _, sys := range []string{registry.SystemPostgres, registry.SystemTemporal} {
				es = append(es, registry.Entry{Shop: r.Shop, Subject: r.Subject, Datum: registry.DatumPurchaseHistory,
					System: sys, Action: registry.ActionErased, Purpose: registry.PurposeErasure,
					LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: r.ID})
			}
			_, err := registry.Append(ctx, tx, now, es...)
			return err
		})
		if err != nil {
			return p.Done, fmt.Errorf("destroy data keys: %w", err)
		}
		if len(ids) > 0 {
			p.Recorded = true
		}
		a.DataKeys.Forget(ids...)
		p.Done += len(ids)
		activity.RecordHeartbeat(ctx, p)
		if len(ids) < shopEraseBatch {
			return p.Done, nil
		}
	}
}

// deleteShopRequests deletes the shop's review requests in batches (their
// data keys go with them, by trigger), each in its own transaction, and
// says how many it deleted over every attempt.
func (a *Activities) deleteShopRequests(ctx context.Context, shop string) (int, error) {
	p := lastProgress(ctx)
	for {
		r, err := a.DB.ExecContext(ctx, `DELETE FROM review_requests WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM review_requests WHERE shop = $1 LIMIT $2)) AND shop = $1`, shop, shopEraseBatch)
		if err != nil {
			return p.Done, fmt.Errorf("delete the shop's review requests: %w", err)
		}
		n, _ := r.RowsAffected()
		p.Done += int(n)
		activity.RecordHeartbeat(ctx, p)
		if n == 0 {
			return p.Done, nil
		}
	}
}
