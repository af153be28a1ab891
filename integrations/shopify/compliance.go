package shopify

import "strings"

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

// ParseCompliance decodes and checks a compliance payload for topic.
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
	if c.Customer == nil || c.Customer.ID <= 0 {
		return c, bad("missing customer.id")
	}
	c.Customer.Email = strings.TrimSpace(c.Customer.Email)
	if topic == TopicCustomersDataRequest && (c.DataRequest == nil || c.DataRequest.ID <= 0) {
		return c, bad("missing data_request.id")
	}
	return c, nil
}
