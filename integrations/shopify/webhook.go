// Package shopify talks to Shopify: it verifies and parses webhooks, and reads
// order state and the recipient just in time through the Admin GraphQL API.
//
// Payload types hold only the fields Candor uses. Email addresses, names,
// postal addresses, phone numbers and prices in a payload are skipped by the
// decoder and never stored; at most their presence is noted for the registry.
package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Webhook topics Candor acts on. Every other topic is acknowledged and ignored.
const (
	TopicFulfillmentCreate = "fulfillments/create"
	TopicFulfillmentUpdate = "fulfillments/update"
	TopicOrderFulfilled    = "orders/fulfilled"
	TopicOrderCancelled    = "orders/cancelled"
	TopicRefundCreate      = "refunds/create"
)

// Webhook headers.
const (
	HeaderTopic     = "X-Shopify-Topic"
	HeaderHMAC      = "X-Shopify-Hmac-Sha256"
	HeaderShop      = "X-Shopify-Shop-Domain"
	HeaderWebhookID = "X-Shopify-Webhook-Id"
)

// MaxWebhookBody is the largest webhook body Candor reads.
const MaxWebhookBody = 1 << 20

// ShopDomainPattern is the one definition of a shop's domain: a
// *.myshopify.com name, anchored at both ends. The shops table's CHECK
// (store/migrations/0001_init.sql) repeats it verbatim, because SQL cannot
// import it; a store test reads the CHECK back from Postgres and holds the
// two equal.
const ShopDomainPattern = `^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$`

var shopDomainRe = regexp.MustCompile(ShopDomainPattern)

// ValidShopDomain is the anchored check applied to every shop domain that
// comes from outside, and before any shop is stored.
func ValidShopDomain(s string) bool { return shopDomainRe.MatchString(s) }

// Sign is the base64 HMAC-SHA256 of body, as Shopify sends it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyHMAC checks a webhook signature in constant time. An empty secret
// never verifies.
func VerifyHMAC(secret string, body []byte, header string) bool {
	if secret == "" || header == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// LineItem is what Candor keeps of a line item: the product, not the price.
// A custom line item has no product (product_id null). A gift card is a
// product nobody reviews.
type LineItem struct {
	ProductID *int64 `json:"product_id"`
	Title     string `json:"title"`
	GiftCard  bool   `json:"gift_card"`
}

// Reviewable reports whether the line item names a product a customer can
// review: not a custom item, not a gift card.
func (li LineItem) Reviewable() bool { return li.ProductID != nil && !li.GiftCard }

// present records whether a JSON field held a non-empty value, without
// keeping the value. It lets intake tell the registry which personal data
// Shopify sent (and include_fields should have dropped).
type present bool

func (p *present) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	*p = present(s != "null" && s != `""` && s != "{}" && s != "[]")
	return nil
}

// PersonalFields notes which personal data a payload carried.
type PersonalFields struct {
	Email       present `json:"email"`
	Phone       present `json:"phone"`
	Destination present `json:"destination"`      // fulfillment: name, address, phone
	Shipping    present `json:"shipping_address"` // order
	Billing     present `json:"billing_address"`  // order
}

// Fulfillment statuses Candor acts on (the Fulfillment resource's status:
// https://shopify.dev/docs/api/admin-graphql/latest/enums/fulfillmentstatus,
// in the REST/webhook payload lower-case). An order may have several
// fulfillments, one per shipment; it is wholly fulfilled when all its items
// are sent, which orders/fulfilled announces
// (https://shopify.dev/docs/api/webhooks/latest, topic orders/fulfilled).
const (
	FulfillmentSuccess   = "success"
	FulfillmentCancelled = "cancelled"
)

// Fulfillment is a fulfillments/create or fulfillments/update payload.
type Fulfillment struct {
	ID             int64      `json:"id"`
	OrderID        int64      `json:"order_id"`
	Status         string     `json:"status"`
	ShipmentStatus string     `json:"shipment_status"`
	Name           string     `json:"name"` // "#1001.1"
	LineItems      []LineItem `json:"line_items"`
	PersonalFields
}

// Order is an orders/* payload.
type Order struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	LineItems []LineItem `json:"line_items"`
	Customer  *struct {
		ID int64 `json:"id"`
	} `json:"customer"`
	PersonalFields
}

// Refund is a refunds/create payload.
type Refund struct {
	ID      int64 `json:"id"`
	OrderID int64 `json:"order_id"`
}

// ErrBadPayload wraps every parse failure; its message is safe to return to
// the caller because it names fields, never values.
var ErrBadPayload = errors.New("bad payload")

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPayload, fmt.Sprintf(format, a...))
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return bad("malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return bad("field %q has the wrong type", te.Field)
		default:
			return bad("malformed JSON")
		}
	}
	return nil
}

func checkLineItems(items []LineItem) error {
	if items == nil {
		return bad("missing line_items")
	}
	for i, li := range items {
		if li.ProductID != nil && strings.TrimSpace(li.Title) == "" {
			return bad("line_items[%d] has a product_id but no title", i)
		}
	}
	return nil
}

// ParseFulfillment decodes and checks a fulfillment payload.
func ParseFulfillment(body []byte) (Fulfillment, error) {
	var f Fulfillment
	if err := decode(body, &f); err != nil {
		return f, err
	}
	switch {
	case f.ID <= 0:
		return f, bad("missing fulfillment id")
	case f.OrderID <= 0:
		return f, bad("missing order_id")
	case f.Status == "":
		return f, bad("missing status")
	}
	return f, checkLineItems(f.LineItems)
}

// OrderName is the order's name, from the fulfillment's name ("#1001.1").
func (f Fulfillment) OrderName() string {
	if i := strings.LastIndexByte(f.Name, '.'); i > 0 {
		return f.Name[:i]
	}
	if f.Name != "" {
		return f.Name
	}
	return fmt.Sprintf("#%d", f.OrderID)
}

// ParseOrder decodes and checks an order payload. Line items are required
// only where the topic needs them.
func ParseOrder(body []byte, needItems bool) (Order, error) {
	var o Order
	if err := decode(body, &o); err != nil {
		return o, err
	}
	if o.ID <= 0 {
		return o, bad("missing order id")
	}
	if needItems {
		if o.Name == "" {
			return o, bad("missing order name")
		}
		return o, checkLineItems(o.LineItems)
	}
	return o, nil
}

// ParseRefund decodes and checks a refund payload.
func ParseRefund(body []byte) (Refund, error) {
	var r Refund
	if err := decode(body, &r); err != nil {
		return r, err
	}
	if r.OrderID <= 0 {
		return r, bad("missing order_id")
	}
	return r, nil
}
