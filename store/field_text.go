package store

import (
	"errors"
	"fmt"

	"github.com/candorhq/candor/retention"
)

// FieldError is one setting's problem: the setting, a code naming the
// problem (a key of FieldText) and the arguments of its text. Msg is the
// text in English, as the CLI prints it; the merchant pages say Code in
// the admin user's language with the same Args.
type FieldError struct {
	Field string // the JSON name of the setting
	Code  string // a key of FieldText
	Args  []any  // FieldText[Code]'s arguments, in its order
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }

// fieldError is field's problem code, its English from FieldText.
func fieldError(field, code string, args ...any) *FieldError {
	return &FieldError{Field: field, Code: code, Args: args, Msg: fmt.Sprintf(FieldText[code], args...)}
}

// FieldText is the English of every FieldError, by code: its one home. The
// merchant pages translate these codes with the same arguments.
// The retention codes' Msg is retention's own error, which names the
// policy for the CLI; their text here is that error as a merchant reads it,
// with its parts as arguments.
var FieldText = map[string]string{
	"delay_negative":          "delays must not be negative",
	"delay_too_long":          "delays must be at most 365 days",
	"subject_one_line":        "subject must be one line of 1 to 200 characters",
	"plain_text_no_html":      "use plain text: < and > are not allowed, since HTML is not accepted",
	"subject_placeholder":     "subject may use only the placeholder {order}",
	"window_start_range":      "the send window must start between 00:00 and 23:59",
	"window_end_range":        "the send window must end between 00:00 and 23:59",
	"consent_mode":            "choose explicit consent, EU soft opt-in or none",
	"email_per":               "choose one email per order or one per shipment",
	"max_emails_range":        "at most 0 to 50 emails per customer in 30 days (0: no cap)",
	"max_products_range":      "an email asks about 1 to 10 products",
	"excluded_products_n":     "at most 500 excluded products",
	"excluded_product_id":     "product ID %d is not a Shopify product ID (a positive number)",
	"excluded_tags_n":         "at most 100 excluded tags",
	"excluded_tag":            "tag %q must be 1 to 255 characters, without commas or surrounding spaces",
	"time_zone":               "time zone %q is not an IANA time zone such as Europe/Berlin",
	"review_url_placeholder":  "review URL template has unknown placeholder %s (use {shop}, {product_id}, {handle})",
	"review_url_https":        "review URL template %q must be an https:// URL",
	"review_url_host":         "review URL template %q must name its host plainly, or use {shop}: no placeholder, user name or port in the host",
	"review_url_off_shop":     "review links must stay on your shop's own domains ({shop}, or your primary domain in Shopify) or a review platform (%s); %s is neither",
	"keep_too_short":          "%s is shorter than the minimum of %s for keeping review requests",
	"keep_too_long":           "%s is longer than the maximum of %s for keeping review requests",
	"timing_wait":             "review requests kept %s would expire before their last email: this shop's timing needs at least %s (fallback %s + delay %s + margin %s); keep them longer or shorten the timing",
	"timing_wait_reminder":    "review requests kept %s would expire before their last email: this shop's timing needs at least %s (fallback %s + delay %s + reminder %s + margin %s); keep them longer or shorten the timing",
	"wording_language":        "%q is not a language Candor writes in",
	"wording_english_subject": "the English subject is the Subject field above",
	"wording_plain_text":      "use plain text",
	"wording_too_long":        "use at most %d characters (this has %d)",
	"wording_one_line":        "use one line of plain text, without line breaks or tabs",
	"wording_button_plain":    "use plain text: no placeholders or { } here",
	"wording_placeholder":     "the only placeholder is {order}, the order name; no other { } is allowed, and there is none for a customer's name or other personal data",
}

// retentionError is field's problem from retention's check of a
// review_requests period: its Msg is retention's error, its code and
// arguments FieldText's.
func retentionError(field string, err error) *FieldError {
	h := retention.Human
	fe := &FieldError{Field: field, Msg: err.Error()}
	var we *retention.WaitError
	var re *retention.RangeError
	switch {
	case errors.As(err, &we):
		t := we.Timing
		margin := retention.EmailMargin
		if t.Reminder > 0 {
			fe.Code, fe.Args = "timing_wait_reminder", []any{h(we.Keep), h(t.Wait()), h(t.FallbackDelay), h(t.Delay), h(t.Reminder), h(2 * margin)}
		} else {
			fe.Code, fe.Args = "timing_wait", []any{h(we.Keep), h(t.Wait()), h(t.FallbackDelay), h(t.Delay), h(margin)}
		}
	case errors.As(err, &re) && re.Over:
		fe.Code, fe.Args = "keep_too_long", []any{h(re.Keep), h(re.Limit)}
	case errors.As(err, &re):
		fe.Code, fe.Args = "keep_too_short", []any{h(re.Keep), h(re.Limit)}
	}
	return fe
}
