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

// EventReplayWindow is how far a post's signed timestamp may be from now.
// SendGrid signs each attempt, retries included, when it posts it.
const EventReplayWindow = 10 * time.Minute

// Event is the part of one SendGrid event Candor reads. The address, the
// bounce text and the rest of the event are never decoded.
type Event struct {
	ID        string // sg_event_id
	Event     string // bounce, dropped, spamreport, delivered, ...
	Timestamp int64  // unix seconds
	// Type is "bounce" or "blocked" on bounce events.
	Type string
	// Reason is read on dropped events only, where SendGrid fills it from
	// a fixed list ("Bounced Address", "Invalid", ...). On bounces it is
	// the receiving server's reply, which can quote the address.
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
		case "Invalid":
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
// timestamp is within EventReplayWindow of now.
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
	if d := now.Sub(time.Unix(ts, 0)); d > EventReplayWindow || d < -EventReplayWindow {
		return fmt.Errorf("%w: the timestamp is %s from now", ErrEventSignature, d.Round(time.Second))
	}
	return nil
}

// ParseEvents decodes a verified post: a JSON array of event objects, each
// with an sg_event_id and an event name. Errors are the sender's fault and
// never quote the body.
func ParseEvents(body []byte) ([]Event, error) {
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, errors.New("malformed JSON: want an array of event objects")
	}
	events := make([]Event, 0, len(raw))
	for i, fields := range raw {
		var e Event
		if fields == nil {
			return nil, fmt.Errorf("event %d: not an object", i)
		}
		for name, dst := range map[string]any{"sg_event_id": &e.ID, "event": &e.Event, "timestamp": &e.Timestamp,
			"type": &e.Type, CustomArgRequestID: &e.RequestID} {
			if v, ok := fields[name]; ok {
				if err := json.Unmarshal(v, dst); err != nil {
					return nil, fmt.Errorf("event %d: %s has the wrong type", i, name)
				}
			}
		}
		if e.Event == "dropped" {
			if v, ok := fields["reason"]; ok {
				if err := json.Unmarshal(v, &e.Reason); err != nil {
					return nil, fmt.Errorf("event %d: reason has the wrong type", i)
				}
			}
		}
		switch {
		case e.ID == "" || len(e.ID) > 200:
			return nil, fmt.Errorf("event %d: sg_event_id is missing", i)
		case e.Event == "" || len(e.Event) > 64 || strings.ContainsAny(e.Event, "\x00\n"):
			return nil, fmt.Errorf("event %d: event is missing", i)
		case len(e.RequestID) > 200:
			return nil, fmt.Errorf("event %d: %s is too long", i, CustomArgRequestID)
		}
		events = append(events, e)
	}
	return events, nil
}
