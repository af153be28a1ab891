package workflows

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// ReconcileScheduleID is the Temporal Schedule that runs Reconcile daily.
const ReconcileScheduleID = "candor-reconcile"

// ReconcileInterval is how often the schedule reconciles.
const ReconcileInterval = 24 * time.Hour

// ReconcileResult sums up one reconciliation. Failed names the shops whose
// reconciliation gave up after its retries (the first maxFailedNamed of
// them; FailedShops counts them all); the others were done.
type ReconcileResult struct {
	Shops       int      `json:"shops"`
	Started     int      `json:"started"`
	Failed      []string `json:"failed,omitempty"`
	FailedShops int      `json:"failed_shops"`
	// PerShop is each shop's result when the reconciliation covered one
	// page of shops (shopPage); a larger one reports the sums, and each
	// shop's result is its ReconcileOneShop child's.
	PerShop map[string]activities.ReconcileShopResult `json:"per_shop"`
}

// maxFailedNamed bounds the failed shops a result names, so that the input
// the fan-out carries across continue-as-new stays small when every shop
// fails (a Shopify outage).
const maxFailedNamed = 100

func (r *ReconcileResult) fail(shop string) {
	r.FailedShops++
	if len(r.Failed) < maxFailedNamed {
		r.Failed = append(r.Failed, shop)
	}
}

// ReconcileInput carries a reconciliation across continue-as-new: the
// schedule and `candor reconcile run` start it empty.
type ReconcileInput struct {
	After string           `json:"after,omitempty"` // the last shop the earlier runs covered
	SoFar *ReconcileResult `json:"so_far,omitempty"`
}

// reconcileActivity is how one shop's reconciliation is tried: a transient
// failure five times, a rejected token once.
var reconcileActivity = workflow.ActivityOptions{
	StartToCloseTimeout: 15 * time.Minute,
	HeartbeatTimeout:    2 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 5 * time.Minute,
		MaximumAttempts: 5, NonRetryableErrorTypes: []string{review.ErrShopifyRejected}},
}

// reconcileFanOut is the change that moved each shop into its own child
// workflow, a page of shops per run: before it one history held every shop,
// and reached Temporal's event limit at about 8,500 shops.
const reconcileFanOut = "reconcile-fanout"

// Reconcile checks and repairs every connected shop's webhook subscriptions
// and starts the review requests for fulfilled orders no webhook announced,
// which Shopify says can happen. Each shop is a ReconcileOneShop child, at
// most shopParallel at once, a page of shopPage shops per run, and the next
// page in a new run (continue-as-new). One shop's failure does not stop the
// others.
func Reconcile(ctx workflow.Context, in ReconcileInput) (ReconcileResult, error) {
	if workflow.GetVersion(ctx, reconcileFanOut, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return reconcileInOneHistory(ctx)
	}
	res := ReconcileResult{}
	if in.SoFar != nil {
		res = *in.SoFar
	}
	shops, err := listShopPage(ctx, true, in.After)
	if err != nil {
		return res, err
	}
	results, errs := forEachShop[activities.ReconcileShopResult](ctx, shops, ReconcileOneShop, func(shop string) any { return shop })
	onePage := in.After == "" && len(shops) < shopPage
	if onePage {
		res.PerShop = map[string]activities.ReconcileShopResult{}
	}
	for i, shop := range shops {
		res.Shops++
		if errs[i] != nil {
			workflow.GetLogger(ctx).Warn("reconcile shop failed", "shop", shop, "error", errs[i].Error())
			res.fail(shop)
			continue
		}
		res.Started += results[i].Started
		if onePage {
			res.PerShop[shop] = results[i]
		}
	}
	if len(shops) == shopPage {
		return res, workflow.NewContinueAsNewError(ctx, Reconcile, ReconcileInput{After: shops[len(shops)-1], SoFar: &res})
	}
	return res, nil
}

// ReconcileOneShop reconciles one shop, for Reconcile's fan-out.
func ReconcileOneShop(ctx workflow.Context, shop string) (activities.ReconcileShopResult, error) {
	var a *activities.Activities
	var r activities.ReconcileShopResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, reconcileActivity), a.ReconcileShop, shop).Get(ctx, &r)
	return r, err
}

// reconcileInOneHistory is Reconcile before reconcileFanOut, kept so that
// runs recorded before it replay.
func reconcileInOneHistory(ctx workflow.Context) (ReconcileResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, reconcileActivity)
	res := ReconcileResult{PerShop: map[string]activities.ReconcileShopResult{}}
	var shops []string
	if err := workflow.ExecuteActivity(ctx, a.ConnectedShops).Get(ctx, &shops); err != nil {
		return res, err
	}
	res.Shops = len(shops)
	for _, shop := range shops {
		var r activities.ReconcileShopResult
		if err := workflow.ExecuteActivity(ctx, a.ReconcileShop, shop).Get(ctx, &r); err != nil {
			workflow.GetLogger(ctx).Warn("reconcile shop failed", "shop", shop, "error", err.Error())
			res.fail(shop)
			continue
		}
		res.PerShop[shop] = r
		res.Started += r.Started
	}
	return res, nil
}

// EnsureReconcileSchedule creates the daily schedule, or brings an existing
// one back to the current spec; it is safe to call at every worker start.
func EnsureReconcileSchedule(ctx context.Context, c client.Client) error {
	return ensureSchedule(ctx, c, ReconcileScheduleID, ReconcileInterval, "reconcile/scheduled", Reconcile, ReconcileInput{})
}

// NewReviewRequestInput is the workflow input for a fulfilled order: each
// product once, line items without a product (tips, custom items) dropped.
func NewReviewRequestInput(shop string, orderID int64, orderName, requestID string, items []shopify.LineItem, fulfilledAt time.Time) ReviewRequestInput {
	in := ReviewRequestInput{Shop: shop, OrderID: orderID, OrderName: orderName, RequestID: requestID, FulfilledAt: fulfilledAt}
	seen := map[int64]bool{}
	for _, li := range items {
		if !li.Reviewable() || seen[*li.ProductID] {
			continue
		}
		seen[*li.ProductID] = true
		in.Products = append(in.Products, store.Product{ID: *li.ProductID, Title: li.Title})
	}
	return in
}

// ReviewRequestStartOptions refuse a second start of an order's
// ReviewRequest while Temporal holds the first, running or closed (a closed
// run is kept for the namespace's retention period), so a duplicate webhook
// cannot start a second workflow. A start after that finds the request
// already settled in Postgres (SendReviewRequest sends nothing), or, once
// the request was deleted, its data key shredded (StartReviewRequest). The
// workflow starts with its search attributes (startAttributes).
func ReviewRequestStartOptions(in ReviewRequestInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                                       review.WorkflowID(in.Shop, in.OrderID),
		TypedSearchAttributes:                    startAttributes(in),
		TaskQueue:                                TaskQueue,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
}

// StartReviewRequest starts the workflow; false means its ID was used. An
// error wrapping datakeys.ErrShredded means the request's data key was
// destroyed (an erased customer's order, or a request already deleted):
// nothing was written, and that order is never asked about again.
func StartReviewRequest(ctx context.Context, c client.Client, in ReviewRequestInput) (bool, error) {
	_, err := c.ExecuteWorkflow(ctx, ReviewRequestStartOptions(in), ReviewRequest, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return false, nil
	}
	return err == nil, err
}

// ReviewStarter is the activities' way to start a ReviewRequest (used by
// reconciliation), through the same input and options as webhook intake.
func ReviewStarter(c client.Client, requestID func(shop string, orderID int64) string) activities.ReviewStarter {
	return func(ctx context.Context, s activities.ReviewStart) (bool, error) {
		in := NewReviewRequestInput(s.Shop, s.OrderID, s.OrderName, requestID(s.Shop, s.OrderID), s.Items, s.FulfilledAt)
		if len(in.Products) == 0 {
			return false, nil
		}
		ok, err := StartReviewRequest(ctx, c, in)
		if errors.Is(err, datakeys.ErrShredded) {
			return false, nil // erased or deleted: not asked about again
		}
		return ok, err
	}
}
