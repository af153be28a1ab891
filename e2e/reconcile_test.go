package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/serviceerror"

	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

func (s *system) reconcile(t *testing.T, id string) workflows.ReconcileResult {
	t.Helper()
	return runWorkflow[workflows.ReconcileResult](t, s, id, 60*time.Second, workflows.Reconcile, workflows.ReconcileInput{})
}

func (s *system) workflowExists(t *testing.T, orderID int64) bool {
	t.Helper()
	_, err := s.tc.DescribeWorkflowExecution(context.Background(), review.WorkflowID(shop, orderID), "")
	var nf *serviceerror.NotFound
	if asNotFound(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestReconcile_RepairsSubscriptionsAndStartsOnlyTheOrdersNoWebhookAnnounced(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	hook := s.url + "/webhooks/shopify"
	// What an older deployment left: one topic pointing elsewhere with every
	// field, one topic Candor does not handle.
	s.shopify.AddSubscription("FULFILLMENTS_CREATE", "https://old-host.example/webhooks/shopify", nil)
	s.shopify.AddSubscription("CUSTOMERS_CREATE", hook, nil)

	now := time.Now()
	order := func(id int64, fulfilled bool, updated time.Time, cancelled bool) shopifytest.Order {
		o := shopifytest.DemoOrder(id)
		o.Fulfilled, o.UpdatedAt, o.Cancelled = fulfilled, updated, cancelled
		s.shopify.SetOrder(o)
		return o
	}
	missed := order(880101, true, now.Add(-2*time.Hour), false)
	announced := order(880102, true, now.Add(-time.Hour), false)
	order(880103, true, now.Add(-time.Hour), true)            // cancelled
	order(880104, true, now.Add(-5*24*time.Hour), false)      // outside the lookback
	erased := order(880105, true, now.Add(-time.Hour), false) // Candor had it; the customer was erased since
	order(880106, false, now.Add(-time.Hour), false)          // not fulfilled

	if got := s.deliver(t, shopify.TopicFulfillmentCreate, "wh-880102", shopifytest.FulfillmentPayload(announced, "")); got != "started" {
		t.Fatalf("webhook for the announced order: %s", got)
	}
	// An erasure leaves the registry's entries (ref = request ID) and no
	// workflow; reconciliation must not bring the order back.
	if err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := registry.Append(ctx, tx, now, registry.Entry{Shop: shop, Datum: registry.DatumPurchaseHistory,
			System: registry.SystemPostgres, Action: registry.ActionErased, Purpose: registry.PurposeErasure,
			LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: s.ring.RequestID(shop, erased.ID)})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	res := s.reconcile(t, "reconcile/test-1")
	r := res.PerShop[shop]
	if res.Shops != 1 || len(res.Failed) != 0 || res.Started != 1 || r.Started != 1 || r.Known != 2 || r.OrdersSeen != 4 {
		t.Fatalf("first run: %+v %+v", res, r)
	}
	if r.Subscriptions != (shopify.SubscriptionChanges{Created: 5, Updated: 1, Deleted: 1}) {
		t.Fatalf("subscription changes %+v", r.Subscriptions)
	}
	if !s.workflowExists(t, missed.ID) {
		t.Fatal("the missed order has no review request")
	}
	for _, id := range []int64{880103, 880104, 880105, 880106} {
		if s.workflowExists(t, id) {
			t.Errorf("order %d was started", id)
		}
	}
	subs := s.shopify.Subscriptions()
	if len(subs) != len(shopify.SubscriptionFields) {
		t.Fatalf("subscriptions after repair: %+v", subs)
	}
	for _, sub := range subs {
		topic := strings.ToLower(strings.Replace(sub.Topic, "_", "/", 1))
		if sub.URI != hook || !slices.Equal(sub.IncludeFields, shopify.SubscriptionFields[topic]) {
			t.Errorf("subscription %+v", sub)
		}
	}

	// The missed order is recorded like an intake start: its input is
	// stored in Temporal, under the request ID.
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM registry_entries WHERE ref = $1 AND system = $2 AND action = $3`,
		s.ring.RequestID(shop, missed.ID), registry.SystemTemporal, registry.ActionStored); err != nil || n != 1 {
		t.Fatalf("%d registry entries for the started order (%v)", n, err)
	}
	// The review request it started runs like any other.
	if got := s.result(t, missed.ID); got.Status != "sent" {
		t.Fatalf("missed order's request: %+v", got)
	}

	// Reconciliation reads no customer data, so none reaches Temporal.
	for _, id := range []string{"reconcile/test-1", review.WorkflowID(shop, missed.ID)} {
		h, _, err := devenv.HistoryText(ctx, s.tc, id, s.codec())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range personal(missed) {
			if strings.Contains(h, p) {
				t.Errorf("history of %s holds %q", id, p)
			}
		}
	}

	again := s.reconcile(t, "reconcile/test-2")
	r = again.PerShop[shop]
	if again.Started != 0 || r.Known != 3 || r.Subscriptions != (shopify.SubscriptionChanges{OK: len(shopify.SubscriptionFields)}) {
		t.Fatalf("second run is not a no-op: %+v %+v", again, r)
	}
}

// TestReconcile_FewShopsEachInItsOwnChildWithinTheCostBudget reconciles
// three connected shops (all served by the one stand-in store, so they share
// one cost bucket: stricter than Shopify, where each shop has its own). The
// bucket starts empty: the queries are answered THROTTLED and waited out,
// none fails. Each shop is its own child workflow, named after the run and
// the shop, and each starts the order no webhook announced.
func TestReconcile_FewShopsEachInItsOwnChildWithinTheCostBudget(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	others := []string{"ash-and-oak.myshopify.com", "birch-lane.myshopify.com"}
	for _, d := range others {
		sealed, _ := s.ring.Seal([]byte("shpat_e2e_token"), d)
		if err := s.db.AddShop(ctx, store.Shop{Domain: d, TokenSealed: sealed, Settings: store.DefaultSettings(d)}); err != nil {
			t.Fatal(err)
		}
	}
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 21)
	o.Fulfilled, o.UpdatedAt = true, time.Now().Add(-time.Hour)
	s.shopify.SetOrder(o)
	s.shopify.SetBucketAvailable(0)

	res := s.reconcile(t, "reconcile/test-few")
	all := append([]string{shop}, others...)
	if res.Shops != 3 || res.FailedShops != 0 || res.Started != 3 || len(res.PerShop) != 3 {
		t.Fatalf("result %+v", res)
	}
	for _, d := range all {
		if r := res.PerShop[d]; r.Started != 1 {
			t.Errorf("%s: %+v", d, r)
		}
		desc, err := s.tc.DescribeWorkflowExecution(ctx, "reconcile/test-few/"+d, "")
		if err != nil || desc.GetWorkflowExecutionInfo().GetType().GetName() != "ReconcileOneShop" {
			t.Errorf("%s has no ReconcileOneShop child: %v", d, err)
		}
		if _, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(d, o.ID), ""); err != nil {
			t.Errorf("%s: the missed order has no review request: %v", d, err)
		}
	}
	if s.shopify.Throttled() == 0 {
		t.Error("the empty bucket throttled nothing: the test proves nothing about the budget")
	}
}
