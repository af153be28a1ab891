package e2e

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

// redactOrders is how many orders TestShopRedact_ManyOrdersComplete seeds.
// docs/benchmarks.md records the run with -redact.orders=100000.
var redactOrders = flag.Int("redact.orders", 3000, "orders of the shop that TestShopRedact_ManyOrdersComplete erases")

// TestShopRedact_ManyOrdersComplete erases a shop whose orders are seeded
// straight into Postgres (review requests with their data keys), more than
// a batch of each step, and times it.
func TestShopRedact_ManyOrdersComplete(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	n := *redactOrders
	if _, err := s.db.ExecContext(ctx, `INSERT INTO data_keys (id, shop, owner, wrapped)
	SELECT 'dk_big_' || i, $1, 'rq_big_' || i, 'v1.00000000.' || md5(i::text) FROM generate_series(1, $2) AS i`, shop, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO review_requests (request_id, shop, order_id, order_name, products, subject,
		status, sent_at, created_at, updated_at, expires_at)
	SELECT 'rq_big_' || i, $1, 6000000000 + i, '#' || i, '[{"id":1,"title":"Mug"}]', 'sub_' || md5(i::text), 'sent',
		now() - interval '20 days', now() - interval '20 days', now() - interval '20 days', now() + interval '300 days'
	FROM generate_series(1, $2) AS i`, shop, n); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"review_requests", "data_keys"} {
		if _, err := s.db.ExecContext(ctx, `VACUUM ANALYZE `+table); err != nil {
			t.Fatal(err)
		}
	}

	started := time.Now()
	got := s.deliver(t, shopify.TopicShopRedact, shopifytest.NewWebhookID(), []byte(`{"shop_id":954889,"shop_domain":"`+shop+`"}`))
	id := got[len("accepted "):]
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	var res workflows.PrivacyRequestResult
	if err := s.tc.GetWorkflow(wctx, workflows.PrivacyRequestID(store.KindShopRedact, shop, id), "").Get(wctx, &res); err != nil {
		t.Fatalf("shop/redact: %v\nlogs:\n%s", err, lastLines(s.logs.String(), 15))
	}
	took := time.Since(started)
	t.Logf("shop/redact of %d orders: %s (%+v)", n, took.Round(time.Millisecond), res.Steps)
	for _, step := range []string{"temporal", "sendgrid", "keys", "postgres"} {
		if !res.Steps[step].Verified {
			t.Errorf("step %s not verified: %+v", step, res.Steps[step])
		}
	}
	if got := res.Steps["postgres"].Found; got < n {
		t.Errorf("postgres step found %d rows, want at least the %d requests", got, n)
	}
	if got := res.Steps["keys"].Found; got < n {
		t.Errorf("keys step destroyed %d keys, want at least %d", got, n)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM review_requests WHERE shop = $1`: 0,
		`SELECT count(*) FROM data_keys WHERE shop = $1`:       0,
		`SELECT count(*) FROM shops WHERE domain = $1`:         0,
		`SELECT count(*) FROM privacy_receipts WHERE request_id = (SELECT id FROM privacy_requests WHERE kind = 'shop_redact' AND shop = $1)`: 4,
	} {
		if got := s.count(t, q, shop); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	// The receipts stay readable: none lists every key it destroyed.
	if n := s.count(t, `SELECT max(length(asked) + length(verified)) FROM privacy_receipts WHERE request_id = $1`, id); n > 2000 {
		t.Errorf("a receipt of %d characters", n)
	}
}
