package sendgridtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

// The stand-in signs Event Webhook posts as SendGrid does when "Signed Event
// Webhook Requests" is on: ECDSA P-256 over SHA-256(timestamp + body), the
// ASN.1 signature base64 in X-Twilio-Email-Event-Webhook-Signature, the unix
// timestamp in X-Twilio-Email-Event-Webhook-Timestamp.

func newEventKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("sendgridtest: generate the event webhook key: " + err.Error())
	}
	return k
}

// WebhookPublicKey is the verification key as SendGrid's settings page
// shows it: base64 of the DER SubjectPublicKeyInfo.
func (s *Server) WebhookPublicKey() string {
	der, err := x509.MarshalPKIXPublicKey(&s.eventKey.PublicKey)
	if err != nil {
		panic("sendgridtest: marshal the event webhook key: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(der)
}

// SetEventWebhook sets the URL events are posted to.
func (s *Server) SetEventWebhook(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eventURL = url
}

// Sign returns the signature and timestamp headers' values for body, signed
// at ts.
func (s *Server) Sign(body []byte, ts time.Time) (signature, timestamp string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.eventKey, h.Sum(nil))
	if err != nil {
		panic("sendgridtest: sign: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(sig), timestamp
}

// EventRequest builds a signed Event Webhook post of body to url, signed now.
func (s *Server) EventRequest(ctx context.Context, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	sig, ts := s.Sign(body, time.Now())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "SendGrid Event API")
	req.Header.Set(eventwebhook.VerificationHTTPHeader, sig)
	req.Header.Set(eventwebhook.TimestampHTTPHeader, ts)
	return req, nil
}

// Event builds one event about an accepted message the way SendGrid reports
// it: the recipient's address, the message's IDs, and its custom_args at
// the top level. kind is the event name; for "bounce" detail is the type
// ("bounce" or "blocked"), for "dropped" the reason.
func Event(m Mail, kind, detail string) map[string]any {
	id := make([]byte, 18)
	_, _ = rand.Read(id)
	e := map[string]any{
		"email":         strings.Join(m.To, ","),
		"timestamp":     time.Now().Unix(),
		"event":         kind,
		"sg_event_id":   base64.RawURLEncoding.EncodeToString(id),
		"sg_message_id": m.MessageID + ".filterdrecv-0-0",
		"smtp-id":       "<" + hex.EncodeToString(id[:8]) + "@candor.test>",
		"category":      m.Categories,
	}
	for k, v := range m.CustomArgs {
		e[k] = v
	}
	switch kind {
	case "bounce":
		if detail == "" {
			detail = "bounce"
		}
		e["type"], e["status"] = detail, "5.1.1"
		e["reason"] = "550 5.1.1 <" + strings.Join(m.To, ",") + ">: Recipient address rejected: User unknown"
		e["bounce_classification"] = "Invalid Address"
	case "dropped":
		e["reason"] = detail
	}
	return e
}

// PostEvents signs events as one batch and posts them to the configured
// event webhook. It returns the response's status and body.
func (s *Server) PostEvents(ctx context.Context, events ...map[string]any) (int, string, error) {
	s.mu.Lock()
	url := s.eventURL
	s.mu.Unlock()
	if url == "" {
		return 0, "", errors.New("sendgridtest: no event webhook URL set")
	}
	body, err := json.Marshal(events)
	if err != nil {
		return 0, "", err
	}
	s.suppressionEvents(events)
	req, err := s.EventRequest(ctx, url, body)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("sendgridtest: post events: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(msg)), nil
}

// MailByID finds an accepted message.
func (s *Server) MailByID(id string) (Mail, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.outbox {
		if m.MessageID == id {
			return m, true
		}
	}
	return Mail{}, false
}
