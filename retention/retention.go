// Package retention says how long Candor keeps each kind of data and why,
// and how far a shop may move each period. The sweep that enforces it is the
// Retention workflow (workflows) and its activities (activities);
// docs/retention.md explains each default and each bound.
//
// A shop may shorten a policy down to its minimum, and lengthen it only up to
// its maximum: a privacy-first product does not let retention grow without
// bound.
package retention

import (
	"fmt"
	"time"

	"github.com/candorhq/candor/config"
)

// Policy is how long one kind of data is kept.
type Policy struct {
	Key    string
	What   string
	System string
	Keep   time.Duration // 0: deleted when its purpose ends, by an event, not by age
	Why    string
	// Min and Max bound a per-shop override; Max == 0 means the policy is
	// the same for every shop. Bounds says why.
	Min, Max time.Duration
	Bounds   string
}

// Overridable reports whether a shop may set its own period.
func (p Policy) Overridable() bool { return p.Max > 0 }

const day = 24 * time.Hour

// Policy keys.
const (
	ReviewRequests    = "review_requests"
	ReviewLinks       = "review_links"
	UnsubscribeLinks  = "unsubscribe_links"
	WebhookDeliveries = "webhook_deliveries"
	TemporalHistories = "temporal_histories"
	SendGridActivity  = "sendgrid_activity"
	APITokens         = "api_tokens"
	ShopToken         = "shop_token"
	Suppressions      = "suppressions"
	Registry          = "registry"
)

// Policies are the defaults, in the order docs/retention.md gives them.
var Policies = []Policy{
	{Key: ReviewRequests, System: "postgres", Keep: 180 * day,
		What: "review request rows: order ID and name, products, the customer's pseudonym, status",
		Why:  "long enough to show the merchant what was sent and to keep one request per order; review and unsubscribe links stop working with the row",
		Min:  30 * day, Max: 365 * day,
		Bounds: "at least 30 days, and at least the shop's wait before its last email (fallback + delay + reminder, plus 2 days per email), so a request outlives it; at most a year, after which an order is not fulfilled again"},
	{Key: ReviewLinks, System: "email", Keep: 60 * day,
		What: "review links (/r/…) in sent emails: signed tokens naming the request and product",
		Why:  "two months is enough to try the products and write a review; a link never outlives its request row",
		Min:  7 * day, Max: 90 * day,
		Bounds: "at least a week, so a customer who opens the email late can still review; at most 90 days"},
	{Key: UnsubscribeLinks, System: "email", Keep: 0,
		What: "unsubscribe links (/u/…) in sent emails",
		Why:  "honoured for as long as the request row exists, whatever the token's age (an objection is never refused); after that they change nothing, because nothing is held"},
	{Key: WebhookDeliveries, System: "postgres", Keep: 7 * day,
		What: "IDs of handled Shopify webhook deliveries and SendGrid events (no body, no customer data)",
		Why:  "Shopify retries a failed delivery 8 times over 4 hours, SendGrid an event post for up to 24 hours; a week covers both, with room for clock skew and outages"},
	{Key: TemporalHistories, System: "temporal", Keep: 7 * day,
		What: "closed review workflow histories: order ID and name, product titles",
		Why:  "long enough to repair a failed send; the sweep deletes older closed review workflows and checks the namespace's retention is not longer",
		Min:  1 * day, Max: 7 * day,
		Bounds: "at least a day, to look into a failure; not longer than the default, which the namespace's retention enforces for every shop"},
	{Key: SendGridActivity, System: "sendgrid", Keep: 30 * day,
		What: "recipient address and delivery events at SendGrid",
		Why:  "SendGrid keeps email activity 30 days; after the last send to a request's recipient the sweep asks its Recipients' Data Erasure API to erase the address everywhere SendGrid holds it",
		Min:  1 * day, Max: 30 * day,
		Bounds: "at least a day, for bounces to arrive; not longer than SendGrid's own 30 days, which Candor cannot extend"},
	{Key: APITokens, System: "postgres", Keep: 30 * day,
		What: "API tokens (only their SHA-256 is stored): revoked, or unused for a year",
		Why:  "a revoked token's record is kept 30 days to investigate its use, then deleted; a token unused for 365 days is deleted as expired"},
	{Key: ShopToken, System: "postgres", Keep: time.Hour,
		What: "an uninstalled shop's sealed Admin API tokens (access and refresh)",
		Why:  "revoked at once by app/uninstalled; the sweep deletes any token still held an hour after an uninstall"},
	{Key: Suppressions, System: "postgres", Keep: 0,
		What: "unsubscribed and erased customers, by pseudonym",
		Why:  "kept while the shop is connected, so an objection is honoured; deleted with the shop (shop/redact)"},
	{Key: Registry, System: "postgres", Keep: 0,
		What: "registry entries: pseudonyms, categories, systems, opaque refs",
		Why:  "the accountability record (GDPR Art. 5(2), 30); holds no direct identifier, so erasure does not rewrite it"},
}

// APITokenUnused is how long an API token may go unused before the sweep
// deletes it as expired.
const APITokenUnused = 365 * day

// Find finds a policy.
func Find(key string) (Policy, bool) {
	for _, p := range Policies {
		if p.Key == key {
			return p, true
		}
	}
	return Policy{}, false
}

// Lookup finds a policy that must exist.
func Lookup(key string) Policy {
	p, ok := Find(key)
	if !ok {
		panic("retention: no policy " + key)
	}
	return p
}

// Check explains why keep cannot be a shop's period for policy key, or
// returns nil.
func Check(key string, keep time.Duration) error {
	p, ok := Find(key)
	switch {
	case !ok:
		return fmt.Errorf("no retention policy %q (see candor retention policies)", key)
	case !p.Overridable():
		return fmt.Errorf("policy %s is the same for every shop and cannot be overridden: %s", key, p.Why)
	case keep < p.Min:
		return &RangeError{Policy: p, Keep: keep, Limit: p.Min}
	case keep > p.Max:
		return &RangeError{Policy: p, Keep: keep, Limit: p.Max, Over: true}
	}
	return nil
}

// RangeError says a shop's period is outside its policy's bounds: shorter
// than Limit, the minimum, or, if Over, longer than Limit, the maximum.
type RangeError struct {
	Policy Policy
	Keep   time.Duration
	Limit  time.Duration
	Over   bool
}

func (e *RangeError) Error() string {
	if e.Over {
		return fmt.Sprintf("%s: %s is longer than the maximum %s (%s)", e.Policy.Key, Human(e.Keep), Human(e.Limit), e.Policy.Bounds)
	}
	return fmt.Sprintf("%s: %s is shorter than the minimum %s (%s)", e.Policy.Key, Human(e.Keep), Human(e.Limit), e.Policy.Bounds)
}

// Timing is a shop's review-request timing (store.Settings holds it): how
// long a request waits before its emails.
type Timing struct {
	Delay         time.Duration // after delivery
	FallbackDelay time.Duration // after fulfillment, when no delivery event comes
	Reminder      time.Duration // after the first email; 0 = none
}

// EmailMargin is what each email may add to the wait beyond the shop's
// delays: up to a day for the shop's send window to open, and up to a day
// of retries of the send.
const EmailMargin = 2 * day

// Wait is the longest a review request waits for its last email, from its
// creation (at fulfillment): a delivery event may come just before the
// fallback delay ends and start the delay after delivery, then the
// reminder follows the first email; each email adds EmailMargin.
func (t Timing) Wait() time.Duration {
	w := t.FallbackDelay + t.Delay + EmailMargin
	if t.Reminder > 0 {
		w += t.Reminder + EmailMargin
	}
	return w
}

// String names the parts of Wait, for an error a merchant can act on.
func (t Timing) String() string {
	s := fmt.Sprintf("fallback %s + delay %s", Human(t.FallbackDelay), Human(t.Delay))
	margin := EmailMargin
	if t.Reminder > 0 {
		s += " + reminder " + Human(t.Reminder)
		margin *= 2
	}
	return s + " + margin " + Human(margin)
}

// WaitError says a review_requests period is shorter than a shop's timing
// needs: a request still waiting would pass its expiry.
type WaitError struct {
	Keep   time.Duration
	Timing Timing
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%s: review requests kept %s would expire before their last email: this shop's timing needs at least %s (%s); keep them longer or shorten the timing",
		ReviewRequests, Human(e.Keep), Human(e.Timing.Wait()), e.Timing)
}

// CheckWait explains why keep cannot be the review_requests period of a
// shop with timing t, or returns nil. The sweep never deletes a waiting
// request, but its expiry must not promise a deletion the sweep will not
// make; so the period covers the wait, whichever of the two changes.
func CheckWait(keep time.Duration, t Timing) error {
	if keep < t.Wait() {
		return &WaitError{Keep: keep, Timing: t}
	}
	return nil
}

// Overrides are one shop's periods, by policy key.
type Overrides map[string]time.Duration

// Keep is the effective period of policy key for the shop: its override if
// it has one, else the default.
func (o Overrides) Keep(key string) time.Duration {
	if d, ok := o[key]; ok {
		return d
	}
	return Lookup(key).Keep
}

// Human prints a duration the way the CLI takes it: 90d, 36h.
func Human(d time.Duration) string { return config.FormatDuration(d) }
