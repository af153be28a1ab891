package shopify_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/candorhq/candor/integrations/shopify"
)

// The IDs in Shopify's published samples are above 2^53: read through a
// float64 they would change.
const (
	sampleOrderID    int64 = 820982911946154508
	sampleCustomerID int64 = 115310627314723954
	sampleRefundID   int64 = 890088186047892319
)

// fixture reads one of Shopify's published sample payloads
// (testdata/webhooks/README.md names the sources), with the docs' "{shop}"
// placeholder filled in.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("{shop}.myshopify.com"), []byte("sample-shop.myshopify.com"))
}

func TestPublishedSamples_FulfillmentsParseWithCustomItemsAndNullShipmentStatus(t *testing.T) {
	for _, name := range []string{"fulfillments_create.json", "fulfillments_update.json"} {
		f, err := shopify.ParseFulfillment(fixture(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.OrderID != sampleOrderID || f.ID != 123456 || f.Status != "pending" || f.ShipmentStatus != "" || f.OrderName() != "#9999" {
			t.Errorf("%s: %+v", name, f)
		}
		reviewable := 0
		for _, li := range f.LineItems {
			if li.Reviewable() {
				reviewable++
			}
		}
		if len(f.LineItems) != 5 || reviewable != 3 {
			t.Errorf("%s: %d line items, %d reviewable; want 5 and 3 (two custom items have no product)", name, len(f.LineItems), reviewable)
		}
		if !f.Email || !f.Destination {
			t.Errorf("%s: the email and destination went unnoticed", name)
		}
	}
}

func TestPublishedSamples_OrdersAndRefundsParseWithExactLargeIDs(t *testing.T) {
	for _, c := range []struct {
		name      string
		needItems bool
	}{{"orders_fulfilled.json", true}, {"orders_cancelled.json", false}} {
		o, err := shopify.ParseOrder(fixture(t, c.name), c.needItems)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.ID != sampleOrderID || o.Customer == nil || o.Customer.ID != sampleCustomerID || o.Name != "#9999" || len(o.LineItems) != 5 {
			t.Errorf("%s: %+v", c.name, o)
		}
		if *o.LineItems[0].ProductID != 788032119674292922 || o.LineItems[1].ProductID != nil {
			t.Errorf("%s: line items %+v", c.name, o.LineItems)
		}
	}
	r, err := shopify.ParseRefund(fixture(t, "refunds_create.json"))
	if err != nil || r.ID != sampleRefundID || r.OrderID != sampleOrderID {
		t.Fatalf("refund %+v, %v", r, err)
	}
	// One more than the sample, so a float64 round trip would show.
	o, err := shopify.ParseOrder([]byte(`{"id":9007199254740993,"name":"#1","line_items":[]}`), true)
	if err != nil || o.ID != 9007199254740993 {
		t.Fatalf("2^53+1 parsed as %d, %v", o.ID, err)
	}
}

func TestPublishedSamples_CompliancePayloadsParse(t *testing.T) {
	for _, c := range []struct {
		topic, name string
		customer    int64
		orders      int
	}{
		{shopify.TopicCustomersRedact, "customers_redact.json", 191167, 3},
		{shopify.TopicCustomersDataRequest, "customers_data_request.json", 191167, 3},
		{shopify.TopicShopRedact, "shop_redact.json", 0, 0},
		{shopify.TopicAppUninstalled, "app_uninstalled.json", 0, 0},
	} {
		body := fixture(t, c.name)
		got, err := shopify.ParseCompliance(c.topic, body)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.customer != 0 && (got.Customer == nil || got.Customer.ID != c.customer || got.Customer.Email != "john@example.com") {
			t.Errorf("%s: customer %+v", c.name, got.Customer)
		}
		if n := len(got.OrdersToRedact) + len(got.OrdersRequested); n != c.orders {
			t.Errorf("%s: %d orders, want %d", c.name, n, c.orders)
		}
		if shopify.IsComplianceTopic(c.topic) && shopify.ComplianceShop(body) != "sample-shop.myshopify.com" {
			t.Errorf("%s: shop_domain not read", c.name)
		}
	}
}

// Shopify documents email-only customer records; such a request names the
// person by address and orders. A customer with neither is still refused.
func TestParseCompliance_EmailOnlyCustomerIsAccepted(t *testing.T) {
	c, err := shopify.ParseCompliance(shopify.TopicCustomersRedact,
		[]byte(`{"shop_id":954889,"shop_domain":"a.myshopify.com","customer":{"email":" john@example.com "},"orders_to_redact":[299938]}`))
	if err != nil || c.Customer.ID != 0 || c.Customer.Email != "john@example.com" || len(c.OrdersToRedact) != 1 {
		t.Fatalf("%+v, %v", c, err)
	}
	for name, body := range map[string]string{
		"no customer":             `{"shop_domain":"a.myshopify.com","orders_to_redact":[1]}`,
		"neither id nor email":    `{"shop_domain":"a.myshopify.com","customer":{"phone":"555"}}`,
		"blank email, no id":      `{"shop_domain":"a.myshopify.com","customer":{"email":"  "}}`,
		"negative id":             `{"shop_domain":"a.myshopify.com","customer":{"id":-1,"email":"x@example.com"}}`,
		"data request without id": `{"shop_domain":"a.myshopify.com","customer":{"email":"x@example.com"}}`,
	} {
		topic := shopify.TopicCustomersRedact
		if name == "data request without id" {
			topic = shopify.TopicCustomersDataRequest
		}
		if _, err := shopify.ParseCompliance(topic, []byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
