package workflows

// The per-shop fan-out that Reconcile and Retention share: a run lists one
// page of shops, runs a child workflow per shop with a bounded number in
// flight, and continues as new for the next page. No history grows with
// the number of shops: a run holds at most shopPage children, and a child
// holds one shop's steps.

import (
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
)

// shopPage is how many shops one run of a fan-out workflow covers before it
// continues as new. Each child costs its parent three events (initiated,
// started, closed) plus its share of workflow tasks: a page stays at a few
// thousand events, far below Temporal's 50,000-event limit (and its 10,000
// warning).
const shopPage = 200

// shopParallel bounds the children in flight at once. Each shop's own steps
// run one after another in its child, so a shop never sees two of Candor's
// calls at once and its Shopify cost bucket is spent as by a single client.
const shopParallel = 20

// shopChildID is the child workflow for one shop in the fan-out run
// parentID: a business key, stable across the parent's continue-as-new.
func shopChildID(parentID, shop string) string {
	return parentID + "/" + shop
}

// listShopPage runs the activity that lists the shops after `after`.
func listShopPage(ctx workflow.Context, connectedOnly bool, after string) ([]string, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute},
	})
	var shops []string
	err := workflow.ExecuteActivity(ctx, a.ShopPage, activities.ShopPageInput{After: after, Limit: shopPage, ConnectedOnly: connectedOnly}).Get(ctx, &shops)
	return shops, err
}

// forEachShop runs child(ctx, shop) as a child workflow per shop, at most
// shopParallel at once, and returns each shop's result and error in the
// order of shops. One shop's failure is only that shop's.
func forEachShop[R any](ctx workflow.Context, shops []string, child any, input func(shop string) any) ([]R, []error) {
	parentID := workflow.GetInfo(ctx).WorkflowExecution.ID
	out := make([]R, len(shops))
	errs := make([]error, len(shops))
	sel := workflow.NewSelector(ctx)
	inFlight := 0
	for i, shop := range shops {
		if inFlight == shopParallel {
			sel.Select(ctx)
			inFlight--
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: shopChildID(parentID, shop),
			// A child that failed may run again under its ID (a reset
			// parent); one that completed is not done twice (its start is
			// refused, and the shop counts as failed in that run).
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		})
		f := workflow.ExecuteChildWorkflow(cctx, child, input(shop))
		sel.AddFuture(f, func(f workflow.Future) { errs[i] = f.Get(ctx, &out[i]) })
		inFlight++
	}
	for ; inFlight > 0; inFlight-- {
		sel.Select(ctx)
	}
	return out, errs
}
