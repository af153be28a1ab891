package prod

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
)

// shopifyTimeout is how long Shopify waits for a webhook's answer before it
// counts the delivery as failed: "Your app has five seconds to respond"
// (shopify.dev/docs/apps/build/webhooks/troubleshooting-webhooks).
const shopifyTimeout = 5 * time.Second

// TestTemporalDown_IntakeAnswers503WithinShopifysTimeoutThenTheRetrySucceeds
// stops the Temporal server while a fulfillment arrives. The delivery gets
// 503 before Shopify's timeout, so Shopify retries it, and nothing is
// written. Once Temporal is back, Shopify's retry of the same delivery (same
// webhook ID) is accepted and the order gets its one email.
func TestTemporalDown_IntakeAnswers503WithinShopifysTimeoutThenTheRetrySucceeds(t *testing.T) {
	d := deploy(t, 1, 1)
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 77)
	d.shopify.SetOrder(o)
	body := shopifytest.FulfillmentPayload(o, "delivered")
	id := shopifytest.NewWebhookID()
	entries := d.count(t, `SELECT count(*) FROM registry_entries`)

	temporal.Stop()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = temporal.Start(context.Background())
		}
	})
	began := time.Now()
	code, msg := d.deliver(t, 0, shopify.TopicFulfillmentCreate, id, body)
	took := time.Since(began)
	t.Logf("Temporal down: %d %q after %v", code, msg, took.Round(time.Millisecond))
	if code != http.StatusServiceUnavailable {
		t.Fatalf("with Temporal down: %d %s, want 503", code, msg)
	}
	if took >= shopifyTimeout {
		t.Errorf("503 after %v, not within Shopify's %v timeout", took.Round(time.Millisecond), shopifyTimeout)
	}
	if n := d.count(t, `SELECT count(*) FROM registry_entries`); n != entries {
		t.Errorf("%d registry entries written for a refused delivery", n-entries)
	}
	if n := d.count(t, `SELECT count(*) FROM review_requests`) + d.count(t, `SELECT count(*) FROM webhook_deliveries`); n != 0 {
		t.Errorf("%d rows written for a refused delivery", n)
	}

	if err := temporal.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	back := time.Now()
	for {
		code, msg = d.deliver(t, 0, shopify.TopicFulfillmentCreate, id, body)
		if code == http.StatusOK || time.Since(back) > time.Minute {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("Temporal back: the retry got %d %q %v after the restart", code, msg, time.Since(back).Round(time.Millisecond))
	if code != http.StatusOK || msg != "started" {
		t.Fatalf("retry after the restart: %d %s, want 200 started", code, msg)
	}
	if mails := d.mail.WaitFor(1, 60*time.Second); len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	time.Sleep(2 * time.Second)
	if n := len(d.mail.Outbox()); n != 1 {
		t.Fatalf("%d emails, want exactly 1", n)
	}
}

// TestWorkerKilled_WaitingRequestsAreSentOnceByTheWorkerThatComesBack kills
// both workers (SIGKILL, as an OOM kill does) while six requests wait for
// their send time, lets the timers fire with no worker running, then starts
// one worker again. Every request is sent exactly once, and none is left
// running.
func TestWorkerKilled_WaitingRequestsAreSentOnceByTheWorkerThatComesBack(t *testing.T) {
	d := deploy(t, 1, 2)
	const orders = 6
	base := time.Now().UnixNano()%1_000_000_000 + 300
	for i := range int64(orders) {
		o := shopifytest.DemoOrder(base + i)
		o.Customer.Email = fmt.Sprintf("prod.kill.%d@example.net", base+i)
		d.shopify.SetOrder(o)
		// No delivery event: each waits for the 3 s fallback delay.
		if code, msg := d.deliver(t, 0, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "")); code != http.StatusOK {
			t.Fatalf("delivery: %d %s", code, msg)
		}
	}
	waitRunning(t, d, orders)
	killed := time.Now()
	for _, w := range d.workers {
		w.Kill()
	}
	time.Sleep(5 * time.Second) // every send time passes with no worker
	if n := len(d.mail.Outbox()); n != 0 {
		t.Fatalf("%d emails with no worker running", n)
	}
	if err := d.workers[0].Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mails := d.mail.WaitFor(orders, 90*time.Second)
	t.Logf("%d of %d sent %v after the kill", len(mails), orders, time.Since(killed).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	per := map[string]int{}
	for _, m := range d.mail.Outbox() {
		per[m.To[0]]++
	}
	if len(per) != orders || len(d.mail.Outbox()) != orders {
		t.Fatalf("%d emails to %d addresses, want one to each of %d", len(d.mail.Outbox()), len(per), orders)
	}
	if n := openReviews(t, d); n != 0 {
		t.Errorf("%d review requests still running", n)
	}
}

// openReviews counts the review workflows not yet closed.
func openReviews(t testing.TB, d *deployment) int {
	t.Helper()
	resp, err := d.tc.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: d.ns, Query: "WorkflowType = 'ReviewRequest' AND ExecutionStatus = 'Running'"})
	if err != nil {
		t.Fatal(err)
	}
	return int(resp.GetCount())
}

// waitRunning waits until n review workflows are open.
func waitRunning(t *testing.T, d *deployment, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for openReviews(t, d) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d review workflows running", openReviews(t, d), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPostgresRestarted_IntakeAnswers503ThenRecoversWithoutRestartingCandor
// stops the one PostgreSQL (Candor's and Temporal's) while fulfillments
// arrive, for a shop already cached and for a delivery that needs the
// database. Each gets a 503 inside Shopify's timeout. After PostgreSQL is
// back, the same serve and worker processes, not restarted, accept Shopify's
// retries; each order gets one email and the registry chain verifies with
// no gap.
func TestPostgresRestarted_IntakeAnswers503ThenRecoversWithoutRestartingCandor(t *testing.T) {
	d := deploy(t, 1, 1)
	base := time.Now().UnixNano()%1_000_000_000 + 500
	warm := shopifytest.DemoOrder(base)
	d.shopify.SetOrder(warm)
	if code, msg := d.deliver(t, 0, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(warm, "delivered")); code != http.StatusOK {
		t.Fatalf("first delivery: %d %s", code, msg)
	}
	d.mail.WaitFor(1, 60*time.Second)

	type delivery struct {
		id   string
		body []byte
	}
	var pending []delivery
	for i := range int64(3) {
		o := shopifytest.DemoOrder(base + 1 + i)
		o.Customer.Email = fmt.Sprintf("prod.pg.%d@example.net", base+i)
		d.shopify.SetOrder(o)
		pending = append(pending, delivery{shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered")})
	}
	restartPostgres := stopPostgres(t)
	stopped := time.Now()
	for _, p := range pending {
		d.refused(t, p.id, p.body, "PostgreSQL")
	}
	restartPostgres()
	back := time.Now()
	for _, p := range pending {
		d.retryUntilAccepted(t, p.id, p.body, back.Add(2*time.Minute))
	}
	t.Logf("PostgreSQL down for %v; every retry accepted %v after it came back",
		back.Sub(stopped).Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	mails := d.mail.WaitFor(4, 2*time.Minute)
	time.Sleep(2 * time.Second)
	if mails = d.mail.Outbox(); len(mails) != 4 {
		t.Fatalf("%d emails, want 4 (one per order)", len(mails))
	}
	t.Logf("verify after the restart: %s", d.exportVerified(t))
}

// refused delivers a fulfillment while a dependency is down: it must get a
// 503 inside Shopify's timeout, so that Shopify retries it.
func (d *deployment) refused(t *testing.T, webhookID string, body []byte, down string) {
	t.Helper()
	began := time.Now()
	code, msg := d.deliver(t, 0, shopify.TopicFulfillmentCreate, webhookID, body)
	took := time.Since(began)
	t.Logf("%s down: %d %q after %v", down, code, msg, took.Round(time.Millisecond))
	if code != http.StatusServiceUnavailable {
		t.Errorf("with %s down: %d %s, want 503", down, code, msg)
	}
	if took >= shopifyTimeout {
		t.Errorf("answered after %v, not within Shopify's %v", took.Round(time.Millisecond), shopifyTimeout)
	}
}

// retryUntilAccepted delivers the same fulfillment again, as Shopify
// retries it, until it is accepted; past deadline the test fails.
func (d *deployment) retryUntilAccepted(t *testing.T, webhookID string, body []byte, deadline time.Time) {
	t.Helper()
	for {
		code, msg := d.deliver(t, 0, shopify.TopicFulfillmentCreate, webhookID, body)
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Shopify's retry still answered %d %s at %v", code, msg, deadline.Format(time.TimeOnly))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// stopPostgres stops the one PostgreSQL and returns what starts it again;
// if the test ends before that, its cleanup starts it.
func stopPostgres(t testing.TB) (restart func()) {
	t.Helper()
	if err := postgres.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = postgres.restart(context.Background())
		}
	})
	return func() {
		t.Helper()
		if err := postgres.restart(context.Background()); err != nil {
			t.Fatal(err)
		}
		restarted = true
	}
}
