// Package sendgrid sends review-request emails through SendGrid's v3 Mail
// Send API.
//
// Every shop's email goes out through one SendGrid account, from one sender
// the operator configured (CANDOR_MAIL_FROM, an address on the domain
// authenticated in that account). A shop names itself only in the From
// display name and the Reply-To, never in the From address.
//
// Send refuses to run without a registry.Proof that the transmission of the
// address to SendGrid is recorded, in the same step. Errors never carry a
// response body or the recipient address.
package sendgrid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	sg "github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/candorhq/candor/registry"
)

// Category tags every review request, for SendGrid's statistics.
const Category = "review_request"

// CustomArgRequestID is the only custom_arg Candor sets: an opaque ID.
const CustomArgRequestID = "candor_request_id"

// Message is one email. To is used for this call only. The From address
// is the Mailer's; FromName and ReplyTo say which shop it is from.
type Message struct {
	RequestID      string
	To             string
	FromName       string // the shop's name, as Shopify has it
	ReplyTo        string // the shop's contact address, as Shopify has it; "" for none
	Subject        string
	Text           string
	HTML           string
	UnsubscribeURL string
}

// Mailer sends through one SendGrid account.
type Mailer struct {
	key    string
	host   string
	from   string
	client *rest.Client
}

// Option configures a Mailer.
type Option func(*Mailer)

// From sets the sender address of every email: CANDOR_MAIL_FROM, an address
// on a domain authenticated in the SendGrid account (or a verified single
// sender). Without it the Mailer sends nothing.
func From(addr string) Option { return func(m *Mailer) { m.from = addr } }

// New makes a Mailer. baseURL overrides https://api.sendgrid.com
// (CANDOR_SENDGRID_BASE_URL).
func New(apiKey, baseURL string, opts ...Option) *Mailer {
	if baseURL == "" {
		baseURL = "https://api.sendgrid.com"
	}
	m := &Mailer{key: apiKey, host: baseURL, client: &rest.Client{HTTPClient: &http.Client{Timeout: 30 * time.Second}}}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Instrument wraps the transport of every call to SendGrid (tracing).
// Call it before the Mailer is used.
func (m *Mailer) Instrument(wrap func(http.RoundTripper) http.RoundTripper) {
	m.client.HTTPClient.Transport = wrap(m.client.HTTPClient.Transport)
}

// Sender is the From address every email carries.
func (m *Mailer) Sender() string { return m.from }

// Error is a failed send, classified.
type Error struct {
	Status     int // 0: no HTTP response
	Retryable  bool
	RetryAfter time.Duration
	// NotSent is true when the request certainly did not reach SendGrid
	// (the connection was never made), so a retry cannot duplicate it.
	NotSent bool
	// OutcomeUnknown is true when SendGrid may have accepted the mail
	// although no 2xx came back (see Send): sending it again could deliver
	// it twice.
	OutcomeUnknown bool
	// SenderUnverified is SendGrid's 403 for a From address that matches no
	// verified Sender Identity: nothing was sent, and no retry can help
	// until the sender is verified.
	SenderUnverified bool
	Reason           string
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("sendgrid: %s (HTTP %d)", e.Reason, e.Status)
	}
	return "sendgrid: " + e.Reason
}

// ErrNoRecord is returned when Send is called without a proof that the
// transmission was recorded in the registry.
var ErrNoRecord = errors.New("sendgrid: refusing to send: no registry entry records this transmission")

// Build makes the v3 request body. Click and open tracking are off: they
// would rewrite Candor's links through SendGrid and add a tracking pixel.
func Build(from string, msg Message) *mail.SGMailV3 {
	m := mail.NewV3Mail()
	m.SetFrom(mail.NewEmail(msg.FromName, from))
	if msg.ReplyTo != "" {
		m.SetReplyTo(mail.NewEmail(msg.FromName, msg.ReplyTo))
	}
	m.Subject = msg.Subject
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail("", msg.To))
	m.AddPersonalizations(p)
	m.AddContent(mail.NewContent("text/plain", msg.Text), mail.NewContent("text/html", msg.HTML))
	m.AddCategories(Category)
	m.SetCustomArg(CustomArgRequestID, msg.RequestID)
	if msg.UnsubscribeURL != "" {
		m.SetHeader("List-Unsubscribe", "<"+msg.UnsubscribeURL+">")
		m.SetHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	m.SetTrackingSettings(mail.NewTrackingSettings().
		SetClickTracking(mail.NewClickTrackingSetting().SetEnable(false).SetEnableText(false)).
		SetOpenTracking(mail.NewOpenTrackingSetting().SetEnable(false)).
		SetSubscriptionTracking(mail.NewSubscriptionTrackingSetting().SetEnable(false)))
	return m
}

// Send delivers msg and returns SendGrid's message ID, the X-Message-Id
// header of its 202 (https://www.twilio.com/docs/sendgrid/glossary/x-message-id).
//
// What each failure means for the mail, after SendGrid's Mail Send errors
// page (https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors)
// and its v3 status codes (https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/errors):
//   - 4xx: refused before queueing. 429 (rate limit) and 401/403 (key) are
//     retried; any other 4xx is final.
//   - 503 "The SendGrid v3 Web API is not available": not accepted; retried.
//   - 500 "An error occurred on a SendGrid server" (the request was valid
//     and SendGrid failed while processing it), 502 and 504 (a gateway in
//     front of SendGrid lost or timed out on the answer; neither is
//     documented by SendGrid, so the request may have been processed), and
//     any other 5xx: the mail may be queued. OutcomeUnknown, never retried.
//   - no connection (dial, DNS): NotSent, retried. A connection lost after
//     the request was written (timeout, reset, cancelled): OutcomeUnknown.
func (m *Mailer) Send(ctx context.Context, proof registry.Proof, msg Message) (string, error) {
	if !proof.Covers(registry.SystemSendGrid, registry.ActionTransmitted, registry.DatumEmail, msg.RequestID) {
		return "", ErrNoRecord
	}
	if m.from == "" {
		return "", &Error{Reason: "no sender address is configured (CANDOR_MAIL_FROM)", NotSent: true}
	}
	if msg.RequestID == "" || msg.To == "" {
		return "", &Error{Reason: "message lacks request ID or recipient", NotSent: true}
	}
	req := sg.GetRequest(m.key, "/v3/mail/send", m.host)
	req.Method = rest.Post
	req.Body = mail.GetRequestBody(Build(m.from, msg))
	resp, err := m.client.SendWithContext(ctx, req)
	if err != nil {
		return "", transportError(err)
	}
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		return firstHeader(resp.Headers, "X-Message-Id"), nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", &Error{Status: resp.StatusCode, Retryable: true, RetryAfter: resetWait(resp.Headers), Reason: "rate limited"}
	case resp.StatusCode == http.StatusServiceUnavailable:
		return "", &Error{Status: resp.StatusCode, Retryable: true, Reason: "SendGrid unavailable"}
	case resp.StatusCode >= 500:
		return "", &Error{Status: resp.StatusCode, OutcomeUnknown: true, Reason: "SendGrid failed after receiving the mail; it may have been accepted"}
	case resp.StatusCode == http.StatusForbidden && senderUnverified(resp.Body):
		return "", &Error{Status: resp.StatusCode, NotSent: true, SenderUnverified: true,
			Reason: "the From address is not a verified Sender Identity"}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// A configuration problem, not a problem with this email: retry
		// (slowly) so requests go out once the operator fixes the key.
		return "", &Error{Status: resp.StatusCode, Retryable: true, RetryAfter: 5 * time.Minute, Reason: "API key rejected or lacks mail.send"}
	default:
		return "", &Error{Status: resp.StatusCode, Reason: "request rejected"}
	}
}

// senderUnverified reports whether a 403 body is SendGrid's refusal of the
// From address ("The from address does not match a verified Sender
// Identity", field "from"), as opposed to a key that lacks mail.send. Only
// the field and the message are read; the body is not kept.
func senderUnverified(body string) bool {
	var b struct {
		Errors []struct {
			Message string  `json:"message"`
			Field   *string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &b) != nil {
		return false
	}
	for _, e := range b.Errors {
		if (e.Field != nil && *e.Field == "from") || strings.Contains(e.Message, "verified Sender Identity") {
			return true
		}
	}
	return false
}

func firstHeader(h map[string][]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// resetWait reads X-RateLimit-Reset (unix seconds) into a wait.
func resetWait(h map[string][]string) time.Duration {
	if s := firstHeader(h, "X-RateLimit-Reset"); s != "" {
		if at, err := strconv.ParseInt(s, 10, 64); err == nil {
			if d := time.Until(time.Unix(at, 0)); d > 0 && d < time.Hour {
				return d
			}
		}
	}
	return 10 * time.Second
}

func transportError(err error) error {
	e := &Error{Retryable: true, OutcomeUnknown: true, Reason: "network error"}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		e.NotSent, e.OutcomeUnknown, e.Reason = true, false, "could not connect"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		e.NotSent, e.OutcomeUnknown, e.Reason = true, false, "could not resolve host"
	}
	return e
}
