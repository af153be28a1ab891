// Package retention says how long Candor keeps each kind of data and why.
// The sweep that enforces it is the Retention workflow (workflows) and its
// activity (activities); docs/retention.md explains each default.
//
// It never extends a retention: a policy can only be met early.
package retention

import "time"

// Policy is how long one kind of data is kept.
type Policy struct {
	Key    string
	What   string
	System string
	Keep   time.Duration // 0: deleted when its purpose ends, by an event, not by age
	Why    string
}

const day = 24 * time.Hour

// Policies are the defaults, in the order docs/retention.md gives them.
var Policies = []Policy{
	{"review_requests", "review request rows: order ID and name, products, the customer's pseudonym, status", "postgres", 180 * day,
		"long enough to show the merchant what was sent and to keep one request per order; review links stop working with the row"},
	{"webhook_deliveries", "IDs of handled Shopify webhook deliveries and SendGrid events (no body, no customer data)", "postgres", 7 * day,
		"Shopify retries a delivery for up to 48 hours; a week covers clock skew and outages"},
	{"temporal_histories", "closed workflow histories: order ID and name, product titles", "temporal", 7 * day,
		"checked, not set, by the sweep: the namespace's retention must not exceed this"},
	{"sendgrid_activity", "recipient address and delivery events at SendGrid", "sendgrid", 30 * day,
		"SendGrid's email activity retention; erasure requests go to its Recipients' Data Erasure API at once"},
	{"suppressions", "unsubscribed and erased customers, by pseudonym", "postgres", 0,
		"kept while the shop is connected, so an objection is honoured; deleted with the shop (shop/redact)"},
	{"shop_token", "the shop's sealed Admin API token", "postgres", 0,
		"revoked at app/uninstalled; the shop row goes with shop/redact, 48 hours later"},
	{"registry", "registry entries: pseudonyms, categories, systems, opaque refs", "postgres", 0,
		"the accountability record (GDPR Art. 5(2), 30); holds no direct identifier, so erasure does not rewrite it"},
}

// Lookup finds a policy.
func Lookup(key string) Policy {
	for _, p := range Policies {
		if p.Key == key {
			return p
		}
	}
	panic("retention: no policy " + key)
}
