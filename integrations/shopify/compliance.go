package shopify

import (
	"encoding/json"
	"strings"
)

// Shopify's mandatory compliance topics, and app/uninstalled.
const (
	TopicCustomersDataRequest = "customers/data_request"
	TopicCustomersRedact      = "customers/redact"
	TopicShopRedact           = "shop/redact"
	TopicAppUninstalled       = "app/uninstalled"
)

// Compliance is a customers/* or shop/redact payload: the fields the work
// needs, and nothing else (the customer's phone is not parsed).
type Compliance struct {
	ShopDomain string `json:"shop_domain"`
	Customer   *struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	} `json:"customer"`
	OrdersToRedact  []int64 `json:"orders_to_redact"`
	OrdersRequested []int64 `json:"orders_requested"`
	DataRequest     *struct {
		ID int64 `json:"id"`
	} `json:"data_request"`
}

// IsComplianceTopic reports whether topic is one of the mandatory
// compliance topics, whose bodies name the shop (shop_domain).
func IsComplianceTopic(topic string) bool {
	return topic == TopicCustomersDataRequest || topic == TopicCustomersRedact || topic == TopicShopRedact
}

// ComplianceShop is the shop_domain a compliance body names, or "" when it
// names none. It is for a delivery that came without X-Shopify-Shop-Domain,
// which Shopify has sent; call it only after the HMAC verified.
func ComplianceShop(body []byte) string {
	var c struct {
		ShopDomain string `json:"shop_domain"`
	}
	if json.Unmarshal(body, &c) != nil {
		return ""
	}
	return c.ShopDomain
}

// ParseCompliance decodes and checks a compliance payload for topic. The
// customer is named by its ID, or, in an email-only customer record, by
// its email address alone (Customer.ID is then 0).
func ParseCompliance(topic string, body []byte) (Compliance, error) {
	var c Compliance
	if err := decode(body, &c); err != nil {
		return c, err
	}
	if topic == TopicAppUninstalled {
		return c, nil // the shop object; the shop comes from the header
	}
	if !ValidShopDomain(c.ShopDomain) {
		return c, bad("missing or invalid shop_domain")
	}
	if topic == TopicShopRedact {
		return c, nil
	}
	if c.Customer == nil {
		return c, bad("missing customer")
	}
	c.Customer.Email = strings.TrimSpace(c.Customer.Email)
	// "In some cases, a customer record contains only the customer's email
	// address" (https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance):
	// such a request names the person by the address and the orders.
	switch {
	case c.Customer.ID < 0:
		return c, bad("customer.id is not a Shopify ID")
	case c.Customer.ID == 0 && c.Customer.Email == "":
		return c, bad("missing customer.id and customer.email")
	}
	if topic == TopicCustomersDataRequest && (c.DataRequest == nil || c.DataRequest.ID <= 0) {
		return c, bad("missing data_request.id")
	}
	return c, nil
}
