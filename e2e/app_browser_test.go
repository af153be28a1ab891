package e2e

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/web"
)

// screenshotPath is where the test leaves a picture of the settings page,
// for the README.
const screenshotPath = "../docs/app-settings.png"

// A merchant logs in with a login link in a real headless chromium, changes
// the delay and the send window through the settings form, has a bad value
// refused, sees the next review request planned by the new settings, and
// sends themselves a test email.
func TestMerchantPages_InARealBrowser(t *testing.T) {
	s := start(t, nil)
	br := startBrowser(t)
	ctx := context.Background()

	// Log in: the link `candor shops login` prints, then one click.
	br.open(s.url + "/app/login?token=" + web.LoginLink(s.ring, shop, 15*time.Minute, time.Now()))
	br.follow("button[type=submit]")
	if u := br.currentURL(); u != s.url+"/app" {
		t.Fatalf("after login the browser is at %s, want /app", u)
	}
	if got := br.text("main"); !strings.Contains(got, shop) || !strings.Contains(got, "present, sealed at rest") {
		t.Fatalf("overview does not show the connection:\n%s", got)
	}

	// A bad value: the form says so next to the field, and nothing is saved.
	br.follow(`a[href="/app/settings"]`)
	br.fill("#f-delay", "-5d")
	br.fill("#f-time_zone", "Mars/Olympus_Mons")
	br.follow("form[action='/app/settings'] button[type=submit]:not([formaction])")
	if got := br.text("#delay-error"); !strings.Contains(got, "must not be negative") {
		t.Errorf("delay error = %q", got)
	}
	if got := br.text("#time_zone-error"); !strings.Contains(got, "not an IANA time zone") {
		t.Errorf("time zone error = %q", got)
	}
	if got := br.attr("#f-delay", "aria-describedby"); !strings.Contains(got, "delay-error") {
		t.Errorf("the delay field is not described by its error: %q", got)
	}
	before := store.DefaultSettings(shop)
	before.Delay, before.FallbackDelay = 2*time.Second, 20*time.Second // start's settings
	if got, _ := s.db.Shop(ctx, shop); !reflect.DeepEqual(got.Settings, before) {
		t.Fatalf("a refused form changed the settings: %+v", got.Settings)
	}

	// Good values: an hour after delivery or fulfillment, and a one-hour
	// window that opens two hours from now (UTC), so the next request must
	// wait for it.
	now := time.Now().UTC()
	open := now.Add(2 * time.Hour).Truncate(time.Minute)
	br.fill("#f-delay", "1h")
	br.fill("#f-fallback_delay", "1h")
	br.fill("#f-window_start", open.Format("15:04"))
	br.fill("#f-window_end", open.Add(time.Hour).Format("15:04"))
	br.fill("#f-time_zone", "UTC")
	br.follow("form[action='/app/settings'] button[type=submit]:not([formaction])")
	if got := br.text("[role=status]"); !strings.Contains(got, "Settings saved") {
		t.Fatalf("no confirmation after saving: %q", got)
	}
	saved, _ := s.db.Shop(ctx, shop)
	if saved.Delay != time.Hour || saved.FallbackDelay != time.Hour || saved.TimeZone != "UTC" ||
		store.FormatClock(saved.WindowStart) != open.Format("15:04") {
		t.Fatalf("saved settings %+v", saved.Settings)
	}
	png := br.screenshot()
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	if err := os.WriteFile(filepath.FromSlash(screenshotPath), png, 0o644); err != nil {
		t.Fatal(err)
	}

	// The next fulfillment is planned by the new settings: an hour after
	// fulfillment is before the window, so it waits for the window to open.
	o := shopifytest.DemoOrder(time.Now().UnixNano() % 1_000_000_000)
	s.shopify.SetOrder(o)
	if got := s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "")); got != "started" {
		t.Fatalf("fulfillment: %s", got)
	}
	// At the request's place in the window's first half hour (it opens
	// for an hour): activities.SpreadOpening.
	wantText := ""
	deadline := time.Now().Add(30 * time.Second)
	for {
		var reqID string
		if wantText == "" && s.db.Get(&reqID, `SELECT request_id FROM review_requests WHERE shop = $1 AND order_id = $2`, shop, o.ID) == nil {
			from := now.Add(time.Hour)
			want := activities.SpreadOpening(from, activities.NextOpen(from, time.UTC, saved.WindowStart, saved.WindowEnd),
				saved.WindowStart, saved.WindowEnd, reqID, activities.KindFirst)
			wantText = "planned for " + want.Format("2 Jan 2006 15:04 MST")
		}
		br.open(s.url + "/app/requests")
		row := ""
		if strings.Contains(br.source(), o.Name) {
			row = br.text("tbody tr")
		}
		if wantText != "" && strings.Contains(row, o.Name) && strings.Contains(row, wantText) {
			for _, p := range personal(o) {
				if strings.Contains(br.source(), p) {
					t.Errorf("the requests page shows personal data %q", p)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the requests page never showed %s %s; last row: %q", o.Name, wantText, row)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// "Send me a test email": it goes to the shop owner's address in
	// Shopify (the default choice) and arrives in the SendGrid stand-in.
	br.follow(`a[href="/app"]`)
	br.follow("form[action='/app/test-email'] button[type=submit]")
	if got := br.text("[role=status]"); !strings.Contains(got, "Test email sent") {
		t.Fatalf("no confirmation of the test email: %q", got)
	}
	mails := s.mail.WaitFor(1, 10*time.Second)
	if len(mails) != 1 || !reflect.DeepEqual(mails[0].To, []string{"owner@harbour-goods.example"}) ||
		!strings.HasPrefix(mails[0].Subject, "[Test] ") {
		t.Fatalf("outbox after the test email: %+v", mails)
	}
	if strings.Contains(s.logs.String(), "owner@harbour-goods.example") {
		t.Error("the test email's address was logged")
	}

	// The customer asks for erasure; the merchant looks up the evidence by
	// the customer's ID, as an auditor would ask for it.
	id, _ := s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, shopifytest.NewWebhookID(), redactPayload(o, o.ID))
	br.follow(`a[href="/app/privacy"]`)
	br.fill("#customer_id", strconv.FormatInt(o.Customer.ID, 10))
	br.follow("form[action='/app/privacy'] button")
	page := br.text("main")
	for _, want := range []string{"Erasure " + id, "temporal", "sendgrid", "data_keys", "postgres", "read back"} {
		if !strings.Contains(page, want) {
			t.Errorf("the privacy page lacks %q:\n%s", want, page)
		}
	}
	for _, p := range personal(o) {
		// The customer ID is what the merchant typed; the page repeats it.
		if p != strconv.FormatInt(o.Customer.ID, 10) && strings.Contains(br.source(), p) {
			t.Errorf("the privacy page shows personal data %q", p)
		}
	}
}
