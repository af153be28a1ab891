package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/store"
)

// An order shipped in two parcels, delivered in the opposite order, on the
// default setting (one email per order): one email, about both products,
// after the later delivery.
func TestReviewFlow_TwoShipmentsDeliveredOutOfOrderGetOneEmailAboutBoth(t *testing.T) {
	s := start(t, func(st *store.Settings) { st.Delay, st.FallbackDelay = 2*time.Second, time.Hour })
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 23)
	s.shopify.SetOrder(o)
	a, b := o.Products[:1], o.Products[1:2]
	steps := []struct {
		topic string
		body  []byte
		want  string
	}{
		{shopify.TopicFulfillmentCreate, shopifytest.ShipmentPayload(o, 1, shopify.FulfillmentSuccess, "", a), "started"},
		{shopify.TopicFulfillmentCreate, shopifytest.ShipmentPayload(o, 2, shopify.FulfillmentSuccess, "", b), "signalled"},
		{shopify.TopicOrderFulfilled, shopifytest.OrderPayload(o), "signalled"},
		{shopify.TopicFulfillmentUpdate, shopifytest.ShipmentPayload(o, 2, shopify.FulfillmentSuccess, "delivered", b), "signalled"},
	}
	for _, st := range steps {
		if got := s.deliver(t, st.topic, shopifytest.NewWebhookID(), st.body); got != st.want {
			t.Fatalf("%s: %q, want %q", st.topic, got, st.want)
		}
	}
	// Well past the delay after the first delivery: nothing yet, the first
	// parcel is still on its way.
	time.Sleep(5 * time.Second)
	if n := len(s.mail.Outbox()); n != 0 {
		t.Fatalf("%d emails before the whole order was delivered", n)
	}
	delivered := time.Now()
	if got := s.deliver(t, shopify.TopicFulfillmentUpdate, shopifytest.NewWebhookID(),
		shopifytest.ShipmentPayload(o, 1, shopify.FulfillmentSuccess, "delivered", a)); got != "signalled" {
		t.Fatalf("delivery of the first parcel: %q", got)
	}
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("result %+v", r)
	}
	mails := s.mail.Outbox()
	if len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	if got := mails[0].ReceivedAt.Sub(delivered); got < 2*time.Second {
		t.Errorf("sent %v after the last delivery, before the 2s delay", got)
	}
	for _, p := range o.Products {
		if !strings.Contains(mails[0].Text, p.Title) {
			t.Errorf("the email does not ask about %s:\n%s", p.Title, mails[0].Text)
		}
	}
	var rows int
	_ = s.db.Get(&rows, `SELECT count(*) FROM review_requests WHERE order_id = $1`, o.ID)
	if rows != 1 {
		t.Errorf("%d request rows, want the order's one", rows)
	}
}

// One email per shipment: three parcels, the second cancelled, the other
// two delivered out of order. Two emails, each about its own parcel's
// product, each under its own request; nothing about the cancelled one.
func TestReviewFlow_PerShipmentThreeParcelsOneCancelled(t *testing.T) {
	s := start(t, func(st *store.Settings) {
		st.Delay, st.FallbackDelay, st.EmailPer = 2*time.Second, time.Hour, store.EmailPerShipment
	})
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 29)
	o.Products = append(o.Products, shopifytest.Product{ID: 8804, Title: "Cedar Candle", Handle: "cedar-candle", Price: "24.00"})
	s.shopify.SetOrder(o)
	p1, p2, p3 := o.Products[:1], o.Products[1:2], o.Products[2:3]
	kept := o
	kept.Products = append(append([]shopifytest.Product(nil), p1...), p3...) // the cancelled parcel's item edited out
	for _, st := range []struct {
		topic string
		body  []byte
	}{
		{shopify.TopicFulfillmentCreate, shopifytest.ShipmentPayload(o, 1, shopify.FulfillmentSuccess, "", p1)},
		{shopify.TopicFulfillmentCreate, shopifytest.ShipmentPayload(o, 2, shopify.FulfillmentSuccess, "", p2)},
		{shopify.TopicFulfillmentCreate, shopifytest.ShipmentPayload(o, 3, shopify.FulfillmentSuccess, "", p3)},
		{shopify.TopicFulfillmentUpdate, shopifytest.ShipmentPayload(o, 2, shopify.FulfillmentCancelled, "", p2)},
		{shopify.TopicOrderFulfilled, shopifytest.OrderPayload(kept)},
		{shopify.TopicFulfillmentUpdate, shopifytest.ShipmentPayload(o, 3, shopify.FulfillmentSuccess, "delivered", p3)},
	} {
		s.deliver(t, st.topic, shopifytest.NewWebhookID(), st.body)
	}
	if mails := s.mail.WaitFor(1, 30*time.Second); len(mails) != 1 || !strings.Contains(mails[0].Text, p3[0].Title) {
		t.Fatalf("first email: %d emails", len(mails))
	}
	s.deliver(t, shopify.TopicFulfillmentUpdate, shopifytest.NewWebhookID(), shopifytest.ShipmentPayload(o, 1, shopify.FulfillmentSuccess, "delivered", p1))
	if mails := s.mail.WaitFor(2, 30*time.Second); len(mails) != 2 {
		t.Fatalf("%d emails, want 2\nlogs:\n%s", len(mails), lastLines(s.logs.String(), 40))
	}
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("result %+v", r)
	}
	mails := s.mail.Outbox()
	if len(mails) != 2 {
		t.Fatalf("%d emails, want 2", len(mails))
	}
	for i, want := range []shopifytest.Product{p3[0], p1[0]} {
		m := mails[i]
		if !strings.Contains(m.Text, want.Title) {
			t.Errorf("email %d does not ask about %s", i+1, want.Title)
		}
		for _, other := range o.Products {
			if other.ID != want.ID && strings.Contains(m.Text, other.Title) {
				t.Errorf("email %d asks about %s too", i+1, other.Title)
			}
		}
	}
	var rows []store.Request
	if err := s.db.Select(&rows, `SELECT * FROM review_requests WHERE order_id = $1 ORDER BY created_at`, o.ID); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].RequestID == rows[1].RequestID || rows[0].Status != store.StatusSent || rows[1].Status != store.StatusSent {
		t.Fatalf("request rows = %+v", rows)
	}
	if rows[0].RequestID != s.ring.RequestID(shop, o.ID) || rows[1].OrderName != o.Name+".1" {
		t.Errorf("rows: %s %q, want the order's own request first and the later one named after its shipment", rows[0].RequestID, rows[1].OrderName)
	}
}
