package prod

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/store"
)

// newOrder puts an order with its own customer address in the Shopify
// stand-in.
func (d *deployment) newOrder(id int64, label string) shopifytest.Order {
	o := shopifytest.DemoOrder(id)
	o.Customer.Email = fmt.Sprintf("prod.%s.%d@example.net", label, id)
	d.shopify.SetOrder(o)
	return o
}

// fulfil delivers the order's fulfillment to the first replica; shipment is
// "delivered" (sent after the shop's 1 s delay) or "" (after the 3 s
// fallback delay).
func (d *deployment) fulfil(t *testing.T, o shopifytest.Order, shipment string) {
	t.Helper()
	if code, msg := d.deliver(t, 0, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, shipment)); code != http.StatusOK {
		t.Fatalf("order %d: delivery answered %d %s", o.ID, code, msg)
	}
}

// request is the order's review request row: its status and SendGrid
// message ID.
func (d *deployment) request(t *testing.T, orderID int64) (status, messageID string) {
	t.Helper()
	var r struct {
		Status    string `db:"status"`
		MessageID string `db:"message_id"`
	}
	if err := d.db.Get(&r, `SELECT status, coalesce(message_id, '') AS message_id FROM review_requests WHERE shop = $1 AND order_id = $2`, shop, orderID); err != nil {
		t.Fatalf("order %d: %v", orderID, err)
	}
	return r.Status, r.MessageID
}

// waitClosed waits up to d for every review workflow to close and says how
// long that took; it fails the test if any is still running then.
func waitClosed(t *testing.T, dep *deployment, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	for openReviews(t, dep) > 0 {
		if time.Since(began) > within {
			t.Fatalf("%d review requests still running after %v", openReviews(t, dep), within)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return time.Since(began)
}

// onePerAddress fails the test unless the outbox holds exactly one email to
// each address.
func onePerAddress(t *testing.T, dep *deployment, addrs ...string) {
	t.Helper()
	per := map[string]int{}
	mails := dep.mail.Outbox()
	for _, m := range mails {
		per[m.To[0]]++
	}
	for _, a := range addrs {
		if per[a] != 1 {
			t.Errorf("%d emails to %s, want exactly 1", per[a], a)
		}
	}
	if len(mails) != len(addrs) {
		t.Errorf("%d emails in all, want %d", len(mails), len(addrs))
	}
}

// wait fails the test if ch is not closed within d.
func wait(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s did not happen within %v", what, d)
	}
}

// TestWorkerKilledMidSend_NoRequestLostAtMostOneEmailAndTruthfulOutcomes
// SIGKILLs the one worker while it has two sends in flight: one held
// reading the recipient from Shopify, before anything left for SendGrid,
// and one whose mail SendGrid has queued but whose 202 the worker has not
// seen. A worker started again finishes both within the send's heartbeat
// timeout (not its 2-minute StartToClose): the first is sent once, on the
// retry; the second is not sent again and is recorded as what it is,
// sent_unconfirmed. Nothing is left running, and the registry verifies.
func TestWorkerKilledMidSend_NoRequestLostAtMostOneEmailAndTruthfulOutcomes(t *testing.T) {
	d := deploy(t, 1, 1)
	ctx := context.Background()
	base := time.Now().UnixNano()%1_000_000_000 + 900
	before := d.newOrder(base, "kill-before")
	after := d.newOrder(base+1, "kill-after")

	recipientRead, _ := d.shopify.HoldNext("CandorRecipient")
	d.fulfil(t, before, "delivered")
	wait(t, recipientRead, 30*time.Second, "the first send's recipient read")
	queued, release := d.mail.HoldNext()
	defer release()
	d.fulfil(t, after, "delivered")
	wait(t, queued, 30*time.Second, "the second send reaching SendGrid")
	if st, _ := d.request(t, before.ID); st != store.StatusScheduled {
		t.Fatalf("before the kill, the first request is %s, want %s", st, store.StatusScheduled)
	}
	if st, _ := d.request(t, after.ID); st != store.StatusSending {
		t.Fatalf("before the kill, the second request is %s, want %s", st, store.StatusSending)
	}

	killed := time.Now()
	d.workers[0].Kill()
	if err := d.workers[0].Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The heartbeat timeout (20 s) and the first retry interval (5 s),
	// with room for this machine's load; the StartToClose alone is 2 min.
	waitClosed(t, d, 75*time.Second)
	took := time.Since(killed)
	t.Logf("worker killed with two sends in flight; both settled %v after the kill", took.Round(time.Millisecond))

	onePerAddress(t, d, before.Customer.Email, after.Customer.Email)
	if st, id := d.request(t, before.ID); st != store.StatusSent || id == "" {
		t.Errorf("killed before SendGrid: %s (message ID %q), want %s with SendGrid's message ID", st, id, store.StatusSent)
	}
	if st, _ := d.request(t, after.ID); st != store.StatusSentUnconfirmed {
		t.Errorf("killed after SendGrid queued it: %s, want %s", st, store.StatusSentUnconfirmed)
	}
	t.Logf("verify: %s", d.exportVerified(t))
}

// TestRollingDeploy_StoppedWorkerFinishesItsSendAndTheNewWorkerCarriesOn
// sends SIGTERM, as a rolling deploy does, to the one worker while its send
// is in flight past SendGrid's acceptance and four more requests wait.
// The stopping worker drains: it sees the 202 and records the send as
// sent, with SendGrid's message ID, then exits within its grace period.
// The deploy's new worker sends the four others. Exactly one email per
// order.
func TestRollingDeploy_StoppedWorkerFinishesItsSendAndTheNewWorkerCarriesOn(t *testing.T) {
	d := deploy(t, 1, 1)
	ctx := context.Background()
	old := d.workers[0]
	base := time.Now().UnixNano()%1_000_000_000 + 1200
	inFlight := d.newOrder(base, "deploy")
	queued, release := d.mail.HoldNext()
	defer release()
	d.fulfil(t, inFlight, "delivered")
	wait(t, queued, 30*time.Second, "the send reaching SendGrid")
	addrs := []string{inFlight.Customer.Email}
	var waiting []shopifytest.Order
	for i := range int64(4) {
		o := d.newOrder(base+1+i, "deploy")
		d.fulfil(t, o, "") // waits for the 3 s fallback delay
		waiting = append(waiting, o)
		addrs = append(addrs, o.Customer.Email)
	}

	sigterm := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- old.Stop(time.Minute) }()
	next, err := d.candor.Worker(ctx, "worker-2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = next.Stop(30 * time.Second) })
	// The send stays in flight for 3 s after the SIGTERM.
	time.Sleep(3*time.Second - time.Since(sigterm))
	select {
	case err := <-stopped:
		t.Fatalf("the old worker exited with a send in flight (%v)", err)
	default:
	}
	release()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	drained := time.Since(sigterm)

	took := waitClosed(t, d, 60*time.Second)
	t.Logf("SIGTERM with a send in flight: the old worker exited %v after it; every request settled %v after that",
		drained.Round(time.Millisecond), took.Round(time.Millisecond))
	onePerAddress(t, d, addrs...)
	for _, o := range append([]shopifytest.Order{inFlight}, waiting...) {
		if st, id := d.request(t, o.ID); st != store.StatusSent || id == "" {
			t.Errorf("order %d: %s (message ID %q), want %s with SendGrid's message ID", o.ID, st, id, store.StatusSent)
		}
	}
	if n := strings.Count(old.AllLogs(), "review request sent"); n != 1 {
		t.Errorf("the stopped worker logged %d sends, want its 1 in flight", n)
	}
	if n := strings.Count(next.AllLogs(), "review request sent"); n != len(waiting) {
		t.Errorf("the new worker logged %d sends, want the %d that waited", n, len(waiting))
	}
}
