package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

const otherShop = "quay-supplies.myshopify.com" // keeps every default

// seedRequests inserts n finished review requests of one shop with the given
// creation time and expiry.
func (s *system) seedRequests(t *testing.T, shopDomain, prefix string, firstOrder int64, n int, created, expires time.Time) {
	t.Helper()
	ctx := context.Background()
	err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		for i := 0; i < n; i++ {
			if _, err := store.CreateRequest(ctx, tx, store.Request{RequestID: fmt.Sprintf("%s_%d", prefix, i), Shop: shopDomain,
				OrderID: firstOrder + int64(i), OrderName: "#1", ExpiresAt: expires}, []store.Product{{ID: 1, Title: "Mug"}}); err != nil {
				return err
			}
		}
		// Finished requests (skipped): the sweep never deletes one still
		// waiting to send.
		_, err := tx.ExecContext(ctx, `UPDATE review_requests SET created_at = $2, status = 'skipped', reason = 'cancelled'
			WHERE request_id LIKE $1 || '\_%'`, prefix, created)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *system) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.Get(&n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (s *system) sweep(t *testing.T) activities.SweepResult {
	t.Helper()
	return runWorkflow[activities.SweepResult](t, s, fmt.Sprintf("retention/test/%d", time.Now().UnixNano()), 3*time.Minute, workflows.Retention, workflows.RetentionInput{})
}

// TestRetention_SweepDeletesWhatIsPastPolicyInEverySystemAndNothingElse runs
// the sweep two days in the future of everything it sweeps (the activities'
// clock is moved; Temporal's close times are real). The main shop shortens
// review_requests, temporal_histories and sendgrid_activity; the other
// shop keeps the defaults, so the same data survives there.
func TestRetention_SweepDeletesWhatIsPastPolicyInEverySystemAndNothingElse(t *testing.T) {
	s := start(t, nil)
	// The schedule is created idempotently and is visible.
	for i := 0; i < 2; i++ {
		if err := workflows.EnsureRetentionSchedule(context.Background(), s.tc); err != nil {
			t.Fatalf("ensure schedule (%d): %v", i, err)
		}
	}
	desc, err := s.tc.ScheduleClient().GetHandle(context.Background(), workflows.RetentionScheduleID).Describe(context.Background())
	if err != nil || len(desc.Schedule.Spec.Intervals) != 1 || desc.Schedule.Spec.Intervals[0].Every != workflows.RetentionInterval {
		t.Fatalf("schedule: %+v, %v", desc, err)
	}
	_ = s.tc.ScheduleClient().GetHandle(context.Background(), workflows.RetentionScheduleID).Delete(context.Background())

	var offset atomic.Int64
	s.acts.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	ctx := context.Background()
	sealed, _ := s.ring.Seal([]byte("shpat_e2e_token"), otherShop)
	if err := s.db.AddShop(ctx, store.Shop{Domain: otherShop, TokenSealed: sealed, Settings: store.DefaultSettings(otherShop)}); err != nil {
		t.Fatal(err)
	}

	// One real review flow per shop, so each has a closed review workflow;
	// the main shop's is sent, so SendGrid holds its recipient.
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 7)
	o.Customer.Email = "rosalind.retention@example.org"
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("review flow: %+v", r)
	}
	otherOrder := o.ID + 1 // unknown to the stand-in store: skipped, closed at once
	otherRun, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: review.WorkflowID(otherShop, otherOrder), TaskQueue: workflows.TaskQueue},
		workflows.ReviewRequest, workflows.ReviewRequestInput{Shop: otherShop, OrderID: otherOrder, OrderName: "#9", RequestID: s.ring.RequestID(otherShop, otherOrder),
			Products: []store.Product{{ID: 1, Title: "Mug"}}, FulfilledAt: time.Now().Add(-30 * 24 * time.Hour), DeliveredAt: ptr(time.Now().Add(-30 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if err := otherRun.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	reviewLinks := regexp1(t, s.mail.Outbox()[0].HTML)

	// From here on the sweep's clock runs two days ahead.
	offset.Store(int64(48 * time.Hour))
	now := time.Now().Add(48 * time.Hour)
	for _, o := range []struct {
		policy string
		keep   time.Duration
	}{{retention.ReviewRequests, 30 * 24 * time.Hour}, {retention.TemporalHistories, 24 * time.Hour}, {retention.SendGridActivity, 24 * time.Hour}} {
		if err := s.db.SetOverride(ctx, shop, o.policy, o.keep); err != nil {
			t.Fatal(err)
		}
	}
	// Review requests: past expiry in both shops (more than one batch);
	// 40 days old, which is past the main shop's 30 days only; new.
	s.seedRequests(t, shop, "rq_old", 9_100_000, 6_000, now.Add(-200*24*time.Hour), now.Add(-time.Hour))
	s.seedRequests(t, otherShop, "rq_oldother", 9_200_000, 10, now.Add(-200*24*time.Hour), now.Add(-time.Hour))
	s.seedRequests(t, shop, "rq_forty", 9_300_000, 20, now.Add(-40*24*time.Hour), now.Add(140*24*time.Hour))
	s.seedRequests(t, otherShop, "rq_fortyother", 9_400_000, 20, now.Add(-40*24*time.Hour), now.Add(140*24*time.Hour))
	s.seedRequests(t, shop, "rq_new", 9_500_000, 50, now, now.Add(time.Hour))
	// Setting the override again restamps rows already held.
	if err := s.db.SetOverride(ctx, shop, retention.ReviewRequests, 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	// The other shop sent a request yesterday: SendGrid keeps it 30 days.
	if _, err := s.db.Exec(`UPDATE review_requests SET status = 'sent', sent_at = $2 WHERE request_id = $1`, "rq_fortyother_0", now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO webhook_deliveries (webhook_id, shop, topic, received_at) VALUES
		('old-1', $1, 'x', $2), ('new-1', $1, 'x', $3)`, shop, now.Add(-8*24*time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	// API tokens: revoked 31 days ago, revoked yesterday, unused for 400
	// days, in use.
	day := 24 * time.Hour
	for _, tk := range []struct {
		id                string
		created           time.Time
		lastUsed, revoked *time.Time
	}{
		{"tok_revoked_old", now.Add(-40 * day), nil, ptr(now.Add(-31 * day))},
		{"tok_revoked_new", now.Add(-40 * day), nil, ptr(now.Add(-day))},
		{"tok_unused", now.Add(-400 * day), nil, nil},
		{"tok_used_lately", now.Add(-400 * day), ptr(now.Add(-day)), nil},
		{"tok_fresh_unused", now.Add(-day), nil, nil},
	} {
		if _, err := s.db.Exec(`INSERT INTO api_tokens (id, token_sha256, name, role, created_at, last_used_at, revoked_at, expires_at) VALUES ($1, $1, $1, 'auditor', $2, $3, $4, now() + interval '90 days')`,
			tk.id, tk.created, tk.lastUsed, tk.revoked); err != nil {
			t.Fatal(err)
		}
	}
	// Shop tokens: one shop uninstalled two hours ago whose revoke never
	// happened; one reinstalled after its uninstall.
	for _, d := range []struct {
		shop      string
		updatedAt time.Time
	}{{"gone-goods.myshopify.com", now.Add(-3 * time.Hour)}, {"back-again.myshopify.com", now.Add(-time.Hour)}} {
		if err := s.db.AddShop(ctx, store.Shop{Domain: d.shop, TokenSealed: "v1.k.sealed", Settings: store.DefaultSettings(d.shop)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.Exec(`UPDATE shops SET updated_at = $2 WHERE domain = $1`, d.shop, d.updatedAt); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.Exec(`INSERT INTO privacy_requests (id, kind, shop, received_at) VALUES ($1, 'uninstall', $2, $3)`,
			"pr_"+d.shop[:4], d.shop, now.Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	res := s.sweep(t)
	t.Logf("sweep: %+v", res)
	for policy, want := range map[string]int64{
		retention.ReviewRequests: 6_000 + 10 + 20, retention.WebhookDeliveries: 1, retention.APITokens: 2,
		retention.ShopToken: 1, retention.SendGridActivity: 1,
		// At least this test's; closed review workflows of the package's
		// earlier tests (same Temporal, same shop name) go too.
		retention.TemporalHistories: -1,
	} {
		if got := res.Deleted(policy); got != want && (want != -1 || got < 1) {
			t.Errorf("%s: deleted %d, want %d", policy, got, want)
		}
	}
	if !res.TemporalWithinRule {
		t.Errorf("namespace retention %s reported above policy", res.TemporalRetention)
	}

	// Postgres: exactly what was past policy is gone.
	for q, want := range map[string]int{
		`SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq\_old%'`:                             0,
		`SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq\_forty\_%'`:                         0,
		`SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq\_fortyother\_%'`:                    20,
		`SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq\_new\_%'`:                           50,
		`SELECT count(*) FROM webhook_deliveries WHERE webhook_id IN ('old-1', 'new-1')`:                    1,
		`SELECT count(*) FROM webhook_deliveries WHERE webhook_id = 'new-1'`:                                1,
		`SELECT count(*) FROM api_tokens WHERE id LIKE 'tok\_%'`:                                            3,
		`SELECT count(*) FROM api_tokens WHERE id IN ('tok_revoked_old', 'tok_unused')`:                     0,
		`SELECT count(*) FROM shops WHERE access_token_sealed = ''`:                                         1,
		`SELECT count(*) FROM shops WHERE domain = 'gone-goods.myshopify.com' AND access_token_sealed = ''`: 1,
		// One per policy for the whole sweep (three kept over all shops,
		// three sums of the per-shop ones), and one per shop and policy
		// where the shop had something past it: the main shop's three, the
		// other shop's expired rows.
		`SELECT count(*) FROM retention_receipts`:                             6 + 3 + 1,
		`SELECT count(*) FROM retention_receipts WHERE shop = ''`:             6,
		`SELECT count(*) FROM retention_receipts WHERE shop = '` + shop + `'`: 3,
	} {
		if got := s.count(t, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	// The real flow's request (sent today) stays, but it is past the main
	// shop's one day at SendGrid: its recipient was erased there.
	if got := s.count(t, `SELECT count(*) FROM review_requests WHERE shop = $1 AND order_id = $2 AND sendgrid_erased_at IS NOT NULL`, shop, o.ID); got != 1 {
		t.Errorf("the sent request is not marked erased at SendGrid (%d)", got)
	}
	if got := s.count(t, `SELECT count(*) FROM review_requests WHERE request_id = 'rq_fortyother_0' AND sendgrid_erased_at IS NULL`); got != 1 {
		t.Error("the other shop's request sent yesterday was erased at SendGrid before its 30 days")
	}
	if erased := s.mail.Erased(); !slices.Equal(erased, []string{o.Customer.Email}) {
		t.Errorf("SendGrid erasure jobs named %v, want only the main shop's recipient", erased)
	}

	// Temporal: the main shop's closed review workflow is gone, the other
	// shop's (7 days) is kept.
	if _, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(shop, o.ID), ""); err == nil {
		t.Error("the main shop's closed review workflow still exists")
	}
	if _, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(otherShop, otherOrder), ""); err != nil {
		t.Errorf("the other shop's closed review workflow was deleted: %v", err)
	}

	// Registry: a deleted entry per request and per history, an erased one
	// per SendGrid recipient, and the chains still verify.
	for q, want := range map[string]int{
		`SELECT count(*) FROM registry_entries WHERE action = 'deleted' AND system = 'postgres' AND purpose = 'retention'`:                                                  6_030,
		`SELECT count(*) FROM registry_entries WHERE action = 'deleted' AND system = 'temporal' AND purpose = 'retention' AND ref = '` + s.ring.RequestID(shop, o.ID) + `'`: 1,
		`SELECT count(*) FROM registry_entries WHERE action = 'erased' AND system = 'sendgrid' AND purpose = 'retention'`:                                                   1,
		`SELECT count(*) FROM registry_entries WHERE action = 'read' AND system = 'shopify' AND purpose = 'retention'`:                                                      1,
	} {
		if got := s.count(t, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	for _, sh := range []string{shop, otherShop} {
		if es, _ := registry.Entries(ctx, s.db, sh); registry.VerifyChain(es) != -1 {
			t.Fatalf("%s: registry chain broken by the sweep", sh)
		}
	}

	// The review link of the sent email keeps working until its row
	// expires; once the row is past its expiry (not yet swept) it does not.
	if code := statusOf(t, reviewLinks); code != http.StatusFound {
		t.Fatalf("review link before expiry: %d", code)
	}
	if _, err := s.db.Exec(`UPDATE review_requests SET expires_at = now() - interval '1 second' WHERE shop = $1 AND order_id = $2`, shop, o.ID); err != nil {
		t.Fatal(err)
	}
	if code := statusOf(t, reviewLinks); code != http.StatusGone {
		t.Fatalf("review link of an expired request: %d, want 410", code)
	}

	// A second sweep finds nothing more.
	again := s.sweep(t)
	for _, p := range again.Policies {
		if p.Deleted != 0 && p.Policy != retention.ReviewRequests {
			t.Errorf("second sweep deleted %d for %s", p.Deleted, p.Policy)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// regexp1 is the first review link in an email.
func regexp1(t *testing.T, html string) string {
	t.Helper()
	i := strings.Index(html, "/r/")
	if i < 0 {
		t.Fatal("no review link in the email")
	}
	j := strings.IndexAny(html[i:], `"<> `)
	start := strings.LastIndex(html[:i], "http")
	return html[start : i+j]
}

// statusOf GETs url without following a redirect.
func statusOf(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestUninstallThenShopRedact_LeavesNoRowOfTheShopButTheEvidence follows
// Shopify's order of events: app/uninstalled revokes the token and stops the
// shop's workflows at once; shop/redact, 48 hours later, deletes the rest.
// Afterwards only what docs/retention.md lists as kept names the shop: the
// registry and the privacy requests with their receipts.
func TestUninstallThenShopRedact_LeavesNoRowOfTheShopButTheEvidence(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 11)
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("review flow: %+v", r)
	}
	// A second order is still waiting when the app is uninstalled.
	o2 := o
	o2.ID, o2.Name = o.ID+1, "#5151"
	s.shopify.SetOrder(o2)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o2, ""))
	time.Sleep(300 * time.Millisecond)
	if err := s.db.SetOverride(ctx, shop, retention.ReviewRequests, 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleMerchant, Shop: shop}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO suppressions (shop, subject, reason) VALUES ($1, 'sub_x', 'unsubscribe_link')`, shop); err != nil {
		t.Fatal(err)
	}

	uninstall := []byte(`{"id":954889,"name":"Harbour Goods","domain":"harbour-goods.example","myshopify_domain":"` + shop + `"}`)
	_, res := s.privacy(t, shopify.TopicAppUninstalled, store.KindUninstall, shopifytest.NewWebhookID(), uninstall)
	if st := res.Steps["token"]; !st.Verified || st.Done != 1 {
		t.Fatalf("token step %+v", st)
	}
	if n := s.count(t, `SELECT count(*) FROM shops WHERE domain = $1 AND access_token_sealed <> ''`, shop); n != 0 {
		t.Fatal("the token is still held after app/uninstalled")
	}
	desc, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(shop, o2.ID), "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetCloseTime() == nil {
		t.Fatalf("the waiting review workflow is not stopped by the uninstall: %v", err)
	}

	redact := []byte(`{"shop_id":954889,"shop_domain":"` + shop + `"}`)
	_, res = s.privacy(t, shopify.TopicShopRedact, store.KindShopRedact, shopifytest.NewWebhookID(), redact)
	for _, step := range []string{"temporal", "postgres", "sendgrid"} {
		if !res.Steps[step].Verified {
			t.Errorf("shop/redact step %s not verified: %+v", step, res.Steps[step])
		}
	}
	for _, order := range []int64{o.ID, o2.ID} {
		if _, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(shop, order), ""); err == nil {
			t.Errorf("review workflow of order %d still exists after shop/redact", order)
		}
	}

	// Every table, every row: which still name the shop?
	kept := map[string]bool{"registry_entries": true, "registry_heads": true, "privacy_requests": true, "privacy_receipts": true,
		"shredded_data_keys": true, "access_log": true, "registry_checkpoints": true}
	var tables []string
	if err := s.db.Select(&tables, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, table := range tables {
		seen[table] = s.count(t, `SELECT count(*) FROM `+table+` t WHERE strpos(t::text, $1) > 0`, shop)
		if seen[table] > 0 && !kept[table] {
			t.Errorf("table %s still holds %d rows of the shop", table, seen[table])
		}
	}
	if seen["registry_entries"] == 0 || seen["privacy_requests"] != 2 {
		t.Fatalf("the evidence is missing, so the search proves nothing: %v", seen)
	}
	for _, ident := range append(personal(o), fmt.Sprint(o.ID), fmt.Sprint(o2.ID), o.Name, o2.Name) {
		if strings.Contains(s.dump(t), ident) {
			t.Errorf("Postgres still holds %q", ident)
		}
	}
}
