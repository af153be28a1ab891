package activities_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
)

// Reconciliation reads every recently fulfilled order, with all its line
// items, in queries Shopify accepts: more orders than one page holds, and
// an order with more line items than the search reads per order. The
// shop's cost bucket holds only the first page, so the search is throttled
// part-way and must wait, not fail or start anything twice.
func TestReconcileShop_ReadsEveryFulfilledOrderInQueriesShopifyAccepts(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.acts.PublicURL = "" // no subscription calls: this is about the orders search
	var mu sync.Mutex
	started := map[int64]activities.ReviewStart{}
	calls := 0
	f.acts.StartReview = func(_ context.Context, s activities.ReviewStart) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		started[s.OrderID] = s
		calls++
		return true, nil
	}
	now := time.Now()
	const orders = 60 // three pages of 25
	for i := int64(0); i < orders; i++ {
		o := shopifytest.DemoOrder(770_000 + i)
		o.Fulfilled, o.UpdatedAt = true, now.Add(-time.Hour).Add(time.Duration(i)*time.Second)
		f.shop.SetOrder(o)
	}
	big := shopifytest.DemoOrder(770_500)
	big.Fulfilled, big.UpdatedAt = true, now.Add(-30*time.Minute)
	big.Products = nil
	for i := int64(0); i < 23; i++ {
		big.Products = append(big.Products, shopifytest.Product{ID: 66_000 + i, Title: "Item", Handle: "item"})
	}
	f.shop.SetOrder(big)
	// One page of orders requests 577 points; at 100 points a second the
	// second page finds the bucket short and must wait about two seconds.
	f.shop.SetPlan(shopifytest.PlanStandard)
	f.shop.SetBucketAvailable(577)

	val, err := f.env.ExecuteActivity(f.acts.ReconcileShop, testShop)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	var res activities.ReconcileShopResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.OrdersSeen != orders+1 || res.Started != orders+1 || len(started) != orders+1 || calls != orders+1 {
		t.Fatalf("result %+v, %d orders started in %d calls; want all %d, once each", res, len(started), calls, orders+1)
	}
	if f.shop.Throttled() == 0 {
		t.Error("the search was never throttled: the test did not reach the bucket's limit")
	}
	items := started[big.ID].Items
	if len(items) != len(big.Products) {
		t.Fatalf("the order with %d line items started with %d", len(big.Products), len(items))
	}
	for i, li := range items {
		if li.ProductID == nil || *li.ProductID != big.Products[i].ID {
			t.Fatalf("line item %d: %+v, want product %d", i, li, big.Products[i].ID)
		}
	}
}

// A fulfilled order of gift cards alone, which no webhook announced, is
// not started by reconciliation either: nobody reviews a gift card.
func TestReconcileShop_SkipsAnOrderOfGiftCards(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.acts.PublicURL = ""
	var started []int64
	f.acts.StartReview = func(_ context.Context, s activities.ReviewStart) (bool, error) {
		started = append(started, s.OrderID)
		return true, nil
	}
	now := time.Now()
	gift := shopifytest.DemoOrder(771_000)
	gift.Fulfilled, gift.UpdatedAt = true, now.Add(-time.Hour)
	gift.Products = []shopifytest.Product{{ID: 9901, Title: "Gift card $50", Handle: "gift-card", GiftCard: true}}
	f.shop.SetOrder(gift)
	shirt := shopifytest.DemoOrder(771_001)
	shirt.Fulfilled, shirt.UpdatedAt = true, now.Add(-time.Hour)
	f.shop.SetOrder(shirt)

	if _, err := f.env.ExecuteActivity(f.acts.ReconcileShop, testShop); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if len(started) != 1 || started[0] != shirt.ID {
		t.Fatalf("started %v, want only order %d (not the gift card order %d)", started, shirt.ID, gift.ID)
	}
}

// A start that Temporal accepted, whose registry write then failed (Postgres
// broke right after the start), leaves the workflow without its registry
// entry. The activity fails; its retry finds the row the started workflow
// wrote and writes the entry, once, and starts nothing again.
func TestReconcileShop_AStartWhoseRegistryWriteFailedIsRecordedOnRetry(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.acts.PublicURL = ""
	ctx := context.Background()
	o := shopifytest.DemoOrder(772_000)
	o.Fulfilled, o.UpdatedAt = true, time.Now().Add(-time.Hour)
	f.shop.SetOrder(o)
	ref := f.ring.RequestID(testShop, o.ID)
	starts := 0
	breakPostgres := func() {
		// Whatever transaction is open is cut off, and no registry entry
		// can be written until the test mends it.
		for _, q := range []string{
			`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()
				AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`,
			`CREATE FUNCTION registry_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'registry down'; END $$`,
			`CREATE TRIGGER registry_down BEFORE INSERT ON registry_entries FOR EACH ROW EXECUTE FUNCTION registry_down()`,
		} {
			if _, err := f.db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.acts.StartReview = func(_ context.Context, s activities.ReviewStart) (bool, error) {
		if s.OrderID != o.ID {
			return false, nil
		}
		starts++
		if starts > 1 {
			return false, nil // the workflow ID is taken: Temporal refuses a second start
		}
		breakPostgres()
		return true, nil
	}
	if _, err := f.env.ExecuteActivity(f.acts.ReconcileShop, testShop); err == nil {
		t.Fatal("the reconciliation succeeded though its registry write failed")
	}
	// Postgres is back; the started workflow has written its request row.
	if _, err := f.db.ExecContext(ctx, `DROP TRIGGER registry_down ON registry_entries`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ExecContext(ctx, `INSERT INTO review_requests (request_id, shop, order_id, order_name, products, status,
		created_at, updated_at, expires_at) VALUES ($1, $2, $3, '#1', '[]', 'scheduled', now(), now(), now() + interval '30 days')`,
		ref, testShop, o.ID); err != nil {
		t.Fatal(err)
	}
	for attempt := 2; attempt <= 3; attempt++ {
		val, err := f.env.ExecuteActivity(f.acts.ReconcileShop, testShop)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		var res activities.ReconcileShopResult
		if err := val.Get(&res); err != nil {
			t.Fatal(err)
		}
		if res.Started != 0 {
			t.Fatalf("attempt %d started %d again", attempt, res.Started)
		}
	}
	var n int
	if err := f.db.GetContext(ctx, &n, `SELECT count(*) FROM registry_entries WHERE ref = $1 AND system = 'temporal' AND action = 'stored'`, ref); err != nil {
		t.Fatal(err)
	}
	if n != 1 || starts != 1 {
		t.Fatalf("%d registry entries for the started workflow's input (want 1), %d starts (want 1)", n, starts)
	}
}
