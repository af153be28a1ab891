package sendgrid

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

// Event Webhook headers, as SendGrid signs its posts.
const (
	HeaderEventSignature = eventwebhook.VerificationHTTPHeader
	HeaderEventTimestamp = eventwebhook.TimestampHTTPHeader
)

// MaxEventBody bounds one Event Webhook post. SendGrid posts a batch every
// 30 seconds or when it reaches 768 KB, whichever comes first.
const MaxEventBody = 1 << 20

// SendGrid retries a post that did not get a 2xx "at increasing intervals
// for up to 24 hours after the event occurs", and says nothing of signing
// a retry afresh (https://docs.sendgrid.com/for-developers/tracking-events/troubleshooting,
// https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
// So a retry may carry its first attempt's timestamp, and a window of
// minutes would refuse every retry after an outage, losing its spam
// reports and unsubscribes. The window covers the whole retry period
// instead; a replay inside it changes nothing, because each event is
// recorded once by its sg_event_id (kept longer than EventMaxAge) and a
// suppression is idempotent.
const (
	// EventMaxAge is how old a post's signed timestamp may be: the retry
	// period plus an hour of margin for batching and clock skew.
	EventMaxAge = 25 * time.Hour
	// EventMaxSkew is how far ahead of now a signed timestamp may be.
	EventMaxSkew = 10 * time.Minute
)

// Event is the part of one SendGrid event Candor reads. The address, the
// bounce text and the rest of the event are never decoded.
type Event struct {
	ID        string // sg_event_id
	Event     string // bounce, dropped, spamreport, delivered, ...
	Timestamp int64  // unix seconds
	// Type is "bounce" or "blocked" on bounce events.
	Type string
	// Reason is read on dropped events only, where SendGrid fills it from
	// a fixed list ("Bounced Address", "Invalid Address", ...). On bounces
	// it is the receiving server's reply, which can quote the address.
	Reason string
	// RequestID is the custom_arg candor_request_id, which SendGrid puts
	// at the top level of each event; "" when absent.
	RequestID string
}

// Suppression reasons, as stored on the suppression row.
const (
	SuppressBounced     = "sendgrid_bounce"
	SuppressInvalid     = "sendgrid_invalid"
	SuppressSpamReport  = "sendgrid_spamreport"
	SuppressUnsubscribe = "sendgrid_unsubscribe"
)

// Suppression says whether e means the recipient must not be emailed again,
// with the reason to store, and whether the reason is the customer's
// objection (spam report, unsubscribe) rather than an undeliverable address.
func (e Event) Suppression() (reason string, objection bool) {
	switch e.Event {
	case "bounce":
		// "blocked" is a temporary refusal (a full mailbox, a blocklisted
		// IP): the address is fine. Older events carry no type.
		if e.Type == "blocked" {
			return "", false
		}
		return SuppressBounced, false
	case "dropped":
		switch e.Reason {
		case "Bounced Address":
			return SuppressBounced, false
		case "Invalid Address", "Invalid":
			// The Event Webhook reference lists "Invalid Address"
			// (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event#dropped);
			// older posts and docs say "Invalid".
			return SuppressInvalid, false
		case "Spam Reporting Address":
			return SuppressSpamReport, true
		case "Unsubscribed Address":
			return SuppressUnsubscribe, true
		}
		// "Spam Content", "Invalid SMTPAPI header": about the message, not
		// the recipient.
		return "", false
	case "spamreport":
		return SuppressSpamReport, true
	case "unsubscribe", "group_unsubscribe":
		return SuppressUnsubscribe, true
	}
	return "", false
}

// ErrEventSignature is a post whose signature or timestamp does not verify.
var ErrEventSignature = errors.New("signature or timestamp is missing or does not verify")

// VerifyEvents checks an Event Webhook post: the ECDSA signature over the
// timestamp and the raw body, with sendgrid-go's helper, and that the
// timestamp is at most EventMaxAge old and EventMaxSkew ahead.
func VerifyEvents(key *ecdsa.PublicKey, body []byte, signature, timestamp string, now time.Time) error {
	if key == nil || signature == "" || timestamp == "" {
		return ErrEventSignature
	}
	ok, err := eventwebhook.VerifySignature(key, body, signature, timestamp)
	if err != nil || !ok {
		return ErrEventSignature
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrEventSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > EventMaxAge || d < -EventMaxSkew {
		return fmt.Errorf("%w: the timestamp is %s from now", ErrEventSignature, d.Round(time.Second))
	}
	return nil
}

// ParseEvents decodes a verified post: a JSON array of event objects. A post
// that is not an array is the sender's fault as a whole (an error). One
// event without an sg_event_id or an event name, or with a field of the
// wrong type, is skipped and counted, so the spam reports and unsubscribes
// beside it are not lost. Errors never quote the body.
func ParseEvents(body []byte) (events []Event, skipped int, err error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, 0, errors.New("malformed JSON: want an array of event objects")
	}
	events = make([]Event, 0, len(raw))
	for _, r := range raw {
		e, ok := parseEvent(r)
		if !ok {
			skipped++
			continue
		}
		events = append(events, e)
	}
	return events, skipped, nil
}

// parseEvent reads one event, or says it cannot be used.
func parseEvent(r json.RawMessage) (Event, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r, &fields); err != nil || fields == nil {
		return Event{}, false
	}
	var e Event
	for name, dst := range map[string]any{"sg_event_id": &e.ID, "event": &e.Event, "timestamp": &e.Timestamp,
		"type": &e.Type, CustomArgRequestID: &e.RequestID} {
		if v, ok := fields[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return Event{}, false
			}
		}
	}
	if e.Event == "dropped" {
		if v, ok := fields["reason"]; ok {
			if err := json.Unmarshal(v, &e.Reason); err != nil {
				return Event{}, false
			}
		}
	}
	switch {
	case e.ID == "" || len(e.ID) > 200:
		return Event{}, false
	case e.Event == "" || len(e.Event) > 64 || strings.ContainsAny(e.Event, "\x00\n"):
		return Event{}, false
	case len(e.RequestID) > 200:
		return Event{}, false
	}
	return e, true
}
