package review

import (
	"slices"
	"strings"
)

// Reason says why a review request was skipped, stopped or failed. It is
// recorded in review_requests, in workflow results and in the stop signal,
// and shown to the merchant (Label).
type Reason string

// Skip reasons: the request was not sent, and will not be.
const (
	ReasonAlreadySent    Reason = "already_sent"
	ReasonOutcomeUnknown Reason = "outcome_unknown" // SendGrid may have accepted it; it is never sent again
	ReasonRequestErased  Reason = "request_erased"
	ReasonOrderNotFound  Reason = "order_not_found"
	ReasonCancelled      Reason = "cancelled" // also the stop signal of orders/cancelled
	ReasonRefunded       Reason = "refunded"  // also the stop signal of refunds/create
	ReasonUnsubscribed   Reason = "unsubscribed"
	ReasonUndeliverable  Reason = "undeliverable" // SendGrid reported the address bounced or invalid
	ReasonSpamReport     Reason = "spam_report"   // the customer marked an earlier email as spam
	ReasonErased         Reason = "erased"        // the customer's data was erased (customers/redact)
	ReasonNoConsent      Reason = "no_consent"
	ReasonOptedOut       Reason = "opted_out_of_marketing"
	ReasonNoEmail        Reason = "no_email"
	ReasonNotSent        Reason = "first_email_not_sent"
	ReasonExcluded       Reason = "excluded" // every product is excluded by the shop's settings
	// ReasonShopDisconnected: the shop is gone, or its tokens are revoked
	// (app/uninstalled) or refused by Shopify.
	ReasonShopDisconnected Reason = "shop_disconnected"
	// ReasonShipmentsCancelled: every fulfillment of the order was
	// cancelled and none came instead.
	ReasonShipmentsCancelled Reason = "shipments_cancelled"
	// ReasonCapEmails: the customer had the shop's most review emails in
	// 30 days already.
	ReasonCapEmails Reason = "cap_emails"
	// ReasonCapProducts: every product was asked about in an email to the
	// customer in the last 12 months.
	ReasonCapProducts Reason = "cap_products_asked"
	// ReasonStopped: a stop signal that named no reason.
	ReasonStopped Reason = "stopped"
)

// Failure reasons: the request was not sent because something refused or
// broke. A failure may also carry the Temporal error type of the activity
// that failed (the Err… types at the end of this file).
const (
	// ReasonRejected is SendGrid's refusal; the HTTP status is appended
	// (sendgrid_rejected_400).
	ReasonRejected   Reason = "sendgrid_rejected"
	ReasonSendFailed Reason = "send_failed" // the send failed with no more specific cause
)

// Reasons of the shared-sender model: neither is retried.
const (
	// ReasonSenderUnverified: SendGrid refused the From address (403: not
	// a verified Sender Identity). Nothing was sent; the merchant sees it
	// on /app.
	ReasonSenderUnverified Reason = "sender_unverified"
	// ReasonReviewURLRefused: the shop's review destination is neither on
	// its own domains, as Shopify reports them now, nor a review platform
	// (a setting saved before destinations were checked). A skip.
	ReasonReviewURLRefused Reason = "review_url_refused"
)

// reasonLabels say each reason to a merchant.
var reasonLabels = map[Reason]string{
	ReasonAlreadySent: "already sent", ReasonOutcomeUnknown: "SendGrid may have accepted it but never confirmed; it is not sent again",
	ReasonRequestErased: "erased", ReasonOrderNotFound: "order not found in Shopify",
	ReasonCancelled: "order cancelled", ReasonRefunded: "order refunded",
	ReasonUnsubscribed: "customer unsubscribed", ReasonUndeliverable: "address bounced or invalid",
	ReasonSpamReport: "customer reported an earlier email as spam", ReasonErased: "customer's data erased",
	ReasonNoConsent: "no email-marketing consent",
	ReasonOptedOut:  "customer opted out of marketing", ReasonNoEmail: "order has no email address",
	ReasonNotSent: "first email was not sent", ReasonExcluded: "all products excluded",
	ReasonShopDisconnected: "shop disconnected", ReasonSendFailed: "sending failed", ReasonStopped: "stopped",
	ReasonShipmentsCancelled: "every shipment of the order was cancelled",
	ReasonCapEmails:          "customer already had the most review emails allowed in 30 days",
	ReasonCapProducts:        "customer was asked about every product in the last 12 months",
	ReasonSenderUnverified:   "SendGrid refused the sender address (not a verified sender); not retried",
	ReasonReviewURLRefused:   "review destination is not on your shop's domains or a review platform",
}

// Label says a recorded reason to a merchant. A reason with no label (a
// SendGrid status, an activity error type) is shown as recorded, with
// spaces for underscores.
func Label(code string) string {
	if l, ok := reasonLabels[Reason(code)]; ok {
		return l
	}
	return strings.ReplaceAll(code, "_", " ")
}

// Failure reasons that are also the Temporal error types activities fail
// with: a workflow matches on them (non-retryable types, ShopGone), and
// when a send's retries end, the type is the reason its request records.
// Untyped, as Temporal takes them as strings.
const (
	ErrShopGone        = "ShopGone"
	ErrShopifyRejected = "ShopifyRejected"
	ErrShopifyRetry    = "ShopifyUnavailable"
	// ErrShopifyQueryCost: Shopify refused one of Candor's queries as
	// costing more than a query may. Sending it again cannot help; the
	// query must change. Never retried.
	ErrShopifyQueryCost = "ShopifyQueryCost"
	ErrSendGridRetry    = "SendGridUnavailable"
	ErrInternal         = "Internal"
)

// Reasons is every reason a request may record, sorted: the labelled
// ones, SendGrid's refusal (without its status) and the activity error
// types. Metrics use it as the bounded set of reason label values.
func Reasons() []string {
	rs := []string{string(ReasonRejected), ErrShopGone, ErrShopifyRejected, ErrShopifyRetry, ErrShopifyQueryCost, ErrSendGridRetry, ErrInternal}
	for r := range reasonLabels {
		rs = append(rs, string(r))
	}
	slices.Sort(rs)
	return slices.Compact(rs)
}
