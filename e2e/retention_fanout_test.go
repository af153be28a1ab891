package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

// TestRetention_SendGridFailingForOneShopHoldsUpOnlyThatShop: SendGrid
// answers 500 to every erasure job that names the other shop's recipient.
// The sweep still ends; the main shop is swept in every system; the other
// shop's Temporal retention and the rest of its rows are done too, and only
// its SendGrid step (and the one row that names the recipient) wait, with
// receipts that say so. The next sweep, with SendGrid back, finishes it.
func TestRetention_SendGridFailingForOneShopHoldsUpOnlyThatShop(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	var offset atomic.Int64
	s.acts.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	sealed, _ := s.ring.Seal([]byte("shpat_e2e_token"), otherShop)
	if err := s.db.AddShop(ctx, store.Shop{Domain: otherShop, TokenSealed: sealed, Settings: store.DefaultSettings(otherShop)}); err != nil {
		t.Fatal(err)
	}
	// A closed review workflow of the other shop, which keeps histories a day.
	base := time.Now().UnixNano()%1_000_000_000 + 11
	otherOrder := base + 5 // unknown to the stand-in store: skipped, closed at once
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: review.WorkflowID(otherShop, otherOrder), TaskQueue: workflows.TaskQueue},
		workflows.ReviewRequest, workflows.ReviewRequestInput{Shop: otherShop, OrderID: otherOrder, OrderName: "#9", RequestID: s.ring.RequestID(otherShop, otherOrder),
			Products: []store.Product{{ID: 1, Title: "Mug"}}, FulfilledAt: time.Now().Add(-30 * 24 * time.Hour), DeliveredAt: ptr(time.Now().Add(-30 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.db.SetOverride(ctx, otherShop, retention.TemporalHistories, 24*time.Hour); err != nil {
		t.Fatal(err)
	}

	offset.Store(int64(48 * time.Hour))
	now := time.Now().Add(48 * time.Hour)
	// Each shop: five expired rows, and one expired row of a request sent
	// 40 days ago, whose recipient SendGrid must be asked to erase first.
	for _, x := range []struct {
		shop, prefix, email string
		order               int64
	}{{shop, "rq_main", "mara.main@example.org", base}, {otherShop, "rq_other", "otto.other@example.org", base + 1}} {
		o := shopifytest.DemoOrder(x.order)
		o.Customer.Email = x.email
		s.shopify.SetOrder(o)
		s.seedRequests(t, x.shop, x.prefix+"sent", x.order, 1, now.Add(-200*24*time.Hour), now.Add(-time.Hour))
		s.seedRequests(t, x.shop, x.prefix+"old", x.order+1000, 5, now.Add(-200*24*time.Hour), now.Add(-time.Hour))
		if _, err := s.db.Exec(`UPDATE review_requests SET status = 'sent', sent_at = $2 WHERE request_id = $1`, x.prefix+"sent_0", now.Add(-40*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	s.mail.FailErasureOf("otto.other@example.org", http.StatusInternalServerError)

	res := s.sweep(t)
	t.Logf("sweep: %+v", res)
	if got := res.Deleted(retention.ReviewRequests); got != 6+5 {
		t.Errorf("review requests deleted %d, want 11 (the main shop's 6, the other shop's 5)", got)
	}
	if got := res.Deleted(retention.SendGridActivity); got != 1 {
		t.Errorf("SendGrid recipients erased %d, want 1", got)
	}
	left := func(q string, args ...any) int { return s.count(t, q, args...) }
	if n := left(`SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq\_main%'`); n != 0 {
		t.Errorf("%d of the main shop's expired rows left", n)
	}
	if n := left(`SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq\_other%'`); n != 1 {
		t.Errorf("%d of the other shop's expired rows left, want only the one whose recipient SendGrid still has", n)
	}
	if _, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(otherShop, otherOrder), ""); err == nil {
		t.Error("the other shop's closed review workflow was not deleted: its Temporal retention waited for SendGrid")
	}
	// Receipts, per shop and system.
	receipt := func(policy, sh string) (deleted int64, verified string) {
		t.Helper()
		var r struct {
			Deleted  int64  `db:"deleted"`
			Verified string `db:"verified"`
		}
		if err := s.db.Get(&r, `SELECT deleted, verified FROM retention_receipts WHERE policy = $1 AND shop = $2 ORDER BY at DESC LIMIT 1`, policy, sh); err != nil {
			t.Fatalf("receipt %s/%s: %v", policy, sh, err)
		}
		return r.Deleted, r.Verified
	}
	if d, v := receipt(retention.ReviewRequests, shop); d != 6 || !strings.Contains(v, "read back") {
		t.Errorf("main shop's review_requests receipt: %d, %q", d, v)
	}
	if d, v := receipt(retention.SendGridActivity, shop); d != 1 || !strings.Contains(v, "accepted 1 erasure jobs") {
		t.Errorf("main shop's sendgrid receipt: %d, %q", d, v)
	}
	if d, _ := receipt(retention.TemporalHistories, otherShop); d != 1 {
		t.Errorf("other shop's temporal receipt: %d deleted, want 1", d)
	}
	if d, v := receipt(retention.SendGridActivity, otherShop); d != 0 || !strings.Contains(v, "not done") {
		t.Errorf("other shop's sendgrid receipt: %d, %q", d, v)
	}
	if d, v := receipt(retention.ReviewRequests, otherShop); d != 5 || !strings.Contains(v, "kept until their recipients are named to SendGrid") {
		t.Errorf("other shop's review_requests receipt: %d, %q", d, v)
	}
	if _, v := receipt(retention.SendGridActivity, ""); !strings.Contains(v, "1 not done") {
		t.Errorf("sendgrid summary receipt: %q", v)
	}
	// Nothing personal in the receipts.
	if n := left(`SELECT count(*) FROM retention_receipts WHERE verified LIKE '%@%' OR asked LIKE '%@%'`); n != 0 {
		t.Errorf("%d receipts name an address", n)
	}

	// SendGrid is back: the next sweep finishes the other shop.
	s.mail.FailErasureOf("otto.other@example.org", 0)
	again := s.sweep(t)
	if again.Deleted(retention.SendGridActivity) != 1 || again.Deleted(retention.ReviewRequests) != 1 {
		t.Errorf("second sweep: %+v", again)
	}
	if n := left(`SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq\_other%'`); n != 0 {
		t.Errorf("%d of the other shop's expired rows left after the second sweep", n)
	}
	for _, sh := range []string{shop, otherShop} {
		if es, _ := registry.Entries(ctx, s.db, sh); registry.VerifyChain(es) != -1 {
			t.Fatalf("%s: registry chain broken by the sweep", sh)
		}
	}
}
