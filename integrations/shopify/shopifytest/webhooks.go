package shopifytest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
)

// The payload builders below follow Shopify's webhook payloads field for
// field, including the personal data a subscription without include_fields
// delivers, so intake is tested against what it will really receive.

func address(c *Customer) map[string]any {
	if c == nil {
		return nil
	}
	return map[string]any{
		"first_name": c.FirstName, "last_name": c.LastName, "name": c.FirstName + " " + c.LastName,
		"address1": c.Address1, "address2": nil, "city": c.City, "zip": c.Zip, "province": "Oregon",
		"country": c.Country, "country_code": c.Country, "phone": c.Phone, "company": nil,
	}
}

func lineItems(o Order) []map[string]any {
	var items []map[string]any
	for i, p := range o.Products {
		items = append(items, map[string]any{
			"id": o.ID*10 + int64(i), "product_id": p.ID, "variant_id": p.ID*100 + 1, "title": p.Title,
			"name": p.Title, "quantity": 1, "price": p.Price, "sku": fmt.Sprintf("SKU-%d", p.ID),
			"fulfillment_status": "fulfilled", "requires_shipping": true, "taxable": true, "gift_card": p.GiftCard,
			"price_set": map[string]any{"shop_money": map[string]string{"amount": p.Price, "currency_code": "USD"}},
		})
	}
	return items
}

func email(o Order) string {
	if o.Customer != nil {
		return o.Customer.Email
	}
	return o.GuestEmail
}

// FulfillmentPayload is a fulfillments/create or fulfillments/update body:
// the order's one shipment, with every product.
func FulfillmentPayload(o Order, shipmentStatus string) []byte {
	return ShipmentPayload(o, 1, shopify.FulfillmentSuccess, shipmentStatus, o.Products)
}

// ShipmentPayload is the body of the order's n-th fulfillment (n from 1;
// its ID is o.ID*7+n and its name o.Name+".n", as Shopify numbers an
// order's fulfillments) holding products, with the fulfillment status
// (success, cancelled) and shipment status given ("" = none yet).
func ShipmentPayload(o Order, n int, status, shipmentStatus string, products []Product) []byte {
	var ss any
	if shipmentStatus != "" {
		ss = shipmentStatus
	}
	now := time.Now().UTC().Format(time.RFC3339)
	id := o.ID*7 + int64(n)
	only := o
	only.Products = products
	b, _ := json.Marshal(map[string]any{
		"id": id, "order_id": o.ID, "status": status, "created_at": now, "updated_at": now,
		"service": "manual", "tracking_company": "UPS", "shipment_status": ss,
		"location_id": 905684977, "email": email(o), "destination": address(o.Customer),
		"tracking_number": "1Z2345", "tracking_numbers": []string{"1Z2345"},
		"tracking_url": "https://www.ups.com/track?tracknum=1Z2345", "name": fmt.Sprintf("%s.%d", o.Name, n),
		"admin_graphql_api_id": fmt.Sprintf("gid://shopify/Fulfillment/%d", id),
		"line_items":           lineItems(only), "receipt": map[string]any{},
	})
	return b
}

// OrderPayload is an orders/fulfilled or orders/cancelled body.
func OrderPayload(o Order) []byte {
	var customer any
	if c := o.Customer; c != nil {
		customer = map[string]any{
			"id": c.ID, "email": c.Email, "first_name": c.FirstName, "last_name": c.LastName,
			"phone": c.Phone, "default_address": address(c), "state": "enabled",
			"email_marketing_consent": map[string]any{"state": "subscribed"},
		}
	}
	b, _ := json.Marshal(map[string]any{
		"id": o.ID, "name": o.Name, "order_number": o.ID % 10000, "email": email(o), "contact_email": email(o),
		"phone": nil, "currency": "USD", "total_price": "108.00", "subtotal_price": "108.00",
		"financial_status": "paid", "fulfillment_status": "fulfilled", "created_at": time.Now().UTC().Format(time.RFC3339),
		"customer": customer, "shipping_address": address(o.Customer), "billing_address": address(o.Customer),
		"line_items": lineItems(o), "browser_ip": "203.0.113.7",
	})
	return b
}

// RefundPayload is a refunds/create body.
func RefundPayload(o Order) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": o.ID*3 + 2, "order_id": o.ID, "created_at": time.Now().UTC().Format(time.RFC3339),
		"note": "Customer returned item", "restock": true,
		"refund_line_items": []map[string]any{{"line_item_id": o.ID * 10, "quantity": 1, "subtotal": "89.00"}},
		"transactions":      []map[string]any{{"amount": "89.00", "kind": "refund", "status": "success"}},
	})
	return b
}

// NewWebhookID is a fresh X-Shopify-Webhook-Id.
func NewWebhookID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// WebhookRequest builds a delivery as Shopify sends it, signed with secret.
func WebhookRequest(url, topic, shop, secret, webhookID string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(shopify.HeaderTopic, topic)
	req.Header.Set(shopify.HeaderShop, shop)
	req.Header.Set(shopify.HeaderHMAC, shopify.Sign(secret, body))
	req.Header.Set(shopify.HeaderWebhookID, webhookID)
	// Shopify also names the subscription's API version and the time of the
	// event (https://shopify.dev/docs/apps/build/webhooks); Candor reads neither.
	req.Header.Set("X-Shopify-API-Version", "2026-10")
	req.Header.Set("X-Shopify-Triggered-At", time.Now().UTC().Format(time.RFC3339Nano))
	req.Header.Set("User-Agent", "Shopify-Captain-Hook")
	return req, nil
}

// RedactPayload is a customers/redact body for the order's customer.
func RedactPayload(shop string, o Order) []byte {
	b, _ := json.Marshal(map[string]any{"shop_id": 954889, "shop_domain": shop,
		"customer":         map[string]any{"id": o.Customer.ID, "email": o.Customer.Email, "phone": o.Customer.Phone},
		"orders_to_redact": []int64{o.ID}})
	return b
}

// DataRequestPayload is a customers/data_request body for the order's
// customer.
func DataRequestPayload(shop string, o Order) []byte {
	b, _ := json.Marshal(map[string]any{"shop_id": 954889, "shop_domain": shop,
		"customer":         map[string]any{"id": o.Customer.ID, "email": o.Customer.Email, "phone": o.Customer.Phone},
		"orders_requested": []int64{o.ID}, "data_request": map[string]any{"id": o.ID % 10000}})
	return b
}
