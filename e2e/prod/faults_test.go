package prod

import (
	"context"
	"net/http"
	"testing"
	"time"

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
