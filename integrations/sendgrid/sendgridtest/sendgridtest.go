// Package sendgridtest is a local stand-in for SendGrid's v3 Mail Send API,
// its Recipients' Data Erasure and suppression-list APIs, and its signed
// Event Webhook.
// `candor dev` runs it as the local mail outbox; tests use it in place of
// SendGrid, which cannot be reached from here.
//
// It checks what SendGrid checks before answering 202: the bearer key, the
// content type, the request body's shape and limits, and that the From
// address is a verified Sender Identity of the account. It posts events
// (bounces, spam reports, ...) signed with its own ECDSA key, as SendGrid
// does.
//
// Modelled behaviours, each from SendGrid's published pages:
//   - Mail Send's 202 with X-Message-Id, its 400 field errors, 401 for a bad
//     key and 415 (https://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html).
//   - Failures: FailNext refuses a send before it is queued (429 with
//     X-RateLimit-Reset, 4xx, 503 "The SendGrid v3 Web API is not
//     available"); AcceptThenFail queues the mail and then answers 5xx, as a
//     gateway in front of SendGrid does when it loses or times out on the 202
//     (502, 504), or a 500 raised while the valid request was being
//     processed (https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors).
//     A 429 carries X-RateLimit-Limit, X-RateLimit-Remaining: 0 and
//     X-RateLimit-Reset (unix seconds), and no Retry-After, as SendGrid's
//     rate-limits page shows
//     (https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits).
//     HoldNext holds the answer to an accepted send, for a test to kill the
//     sender or let its timeout pass while the mail is already queued.
//   - Sender identities: an account starts with none. A From address is
//     accepted only on a domain the account authenticated (AuthenticateDomain)
//     or as a verified single sender (VerifySender); anything else gets 403
//     "The from address does not match a verified Sender Identity" with field
//     "from", and nothing is sent (https://sendgrid.com/docs/for-developers/sending-email/sender-identity/,
//     https://www.twilio.com/docs/api/errors/60222).
//   - Recipients' Data Erasure (serveErase), the suppression lists
//     (suppressions.go) and the signed Event Webhook (events.go).
package sendgridtest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"time"
)

// Mail is one accepted message, as SendGrid would deliver it.
type Mail struct {
	MessageID  string
	ReceivedAt time.Time
	From       string
	FromName   string
	ReplyTo    string
	To         []string
	Subject    string
	Text       string
	HTML       string
	Categories []string
	CustomArgs map[string]string
	Headers    map[string]string
	Tracking   map[string]any
	Raw        []byte // the request body as received
}

// Server is the stand-in.
type Server struct {
	URL string
	Key string

	srv    *httptest.Server
	mu     sync.Mutex
	outbox []Mail
	sent   int // messages ever accepted, erased or not
	erased []string
	// failErase answers an erasure job naming one of these addresses
	// (lower-cased) with the status instead of 202 (FailErasureOf).
	failErase map[string]int
	fail      []int
	lose      []int // statuses that replace the 202 of the next accepted sends
	hold      *hold // holds the answer to the next accepted send (HoldNext)
	changed   chan struct{}

	eventKey *ecdsa.PrivateKey
	eventURL string

	lists         map[string]map[string]time.Time // suppression list -> lower-cased address -> when
	ignoreDeletes bool

	domains map[string]bool // authenticated domains, lower-cased
	senders map[string]bool // verified single senders, lower-cased

	limit *rateLimit // SetRateLimit; nil: Mail Send is not rate limited
}

// rateLimit is an account's Mail Send allowance: limit calls per refresh
// period, the period starting at the first call after the last one ended.
type rateLimit struct {
	limit   int
	period  time.Duration
	start   time.Time
	used    int
	limited int // calls answered 429
}

// SetRateLimit limits Mail Send to limit calls per period, as SendGrid
// allots "a specific number of requests per refresh period" to an
// endpoint: every answer carries X-RateLimit-Limit, X-RateLimit-Remaining
// and X-RateLimit-Reset (unix seconds), and a call over the limit is
// answered 429 with "too many requests", queuing nothing
// (https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits).
// SendGrid publishes no figures; the test picks them.
func (s *Server) SetRateLimit(limit int, period time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = &rateLimit{limit: limit, period: period}
}

// RateLimited is how many Mail Send calls were answered 429 for going over
// the rate limit (SetRateLimit).
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit == nil {
		return 0
	}
	return s.limit.limited
}

// admit counts one Mail Send call against the rate limit and sets its
// headers; false means the call is over it. Called with s.mu held.
func (l *rateLimit) admit(w http.ResponseWriter, now time.Time) bool {
	if l.start.IsZero() || !now.Before(l.start.Add(l.period)) {
		l.start, l.used = now, 0
	}
	ok := l.used < l.limit
	if ok {
		l.used++
	} else {
		l.limited++
	}
	w.Header().Set("X-RateLimit-Limit", fmt.Sprint(l.limit))
	w.Header().Set("X-RateLimit-Remaining", fmt.Sprint(l.limit-l.used))
	// Reset is in whole seconds: the second in which the period ends, so
	// a client that waits until it never comes back early.
	w.Header().Set("X-RateLimit-Reset", fmt.Sprint(l.start.Add(l.period).Add(time.Second-1).Unix()))
	return ok
}

// AuthenticateDomain completes domain authentication for domain: any From
// address at it is then accepted, as SendGrid accepts mail from an
// authenticated domain.
func (s *Server) AuthenticateDomain(domain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.domains == nil {
		s.domains = map[string]bool{}
	}
	s.domains[strings.ToLower(domain)] = true
}

// VerifySender completes Single Sender Verification for one address (its
// owner clicked the link SendGrid emailed).
func (s *Server) VerifySender(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.senders == nil {
		s.senders = map[string]bool{}
	}
	s.senders[strings.ToLower(addr)] = true
}

// verified reports whether from matches a Sender Identity of the account.
func (s *Server) verified(from string) bool {
	from = strings.ToLower(from)
	_, domain, _ := strings.Cut(from, "@")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.senders[from] || s.domains[domain]
}

// unverifiedSender is SendGrid's 403 body for a From address that matches no
// Sender Identity, word for word as SendGrid returns it (quoted in
// https://github.com/sendgrid/sendgrid-nodejs/issues/1088; Twilio error 60222,
// HTTP 403: https://www.twilio.com/docs/api/errors/60222).
const unverifiedSender = "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements"

// New starts a stand-in that accepts apiKey.
func New(apiKey string) *Server {
	s := &Server{Key: apiKey, changed: make(chan struct{}), eventKey: newEventKey()}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// FailNext makes the next n sends answer with status.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.fail = append(s.fail, status)
	}
}

// AcceptThenFail makes the next n sends that SendGrid would accept go into
// the outbox (they are delivered) and then answer with status instead of
// 202, with no X-Message-Id: a 502 or 504 from the gateway in front of the
// Mail Send API, or a 500, after the mail was queued.
func (s *Server) AcceptThenFail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.lose = append(s.lose, status)
	}
}

type hold struct {
	reached, release chan struct{}
}

// HoldNext makes the next send that SendGrid accepts wait for its answer:
// reached is closed once the mail is queued (it is in the outbox and counts
// as delivered), and the answer goes out once release is called. Tests use
// it to act while a send is in flight past SendGrid's acceptance: a worker
// killed there never sees the 202, and a client that gives up first (its
// timeout) gets no answer at all.
func (s *Server) HoldNext() (reached <-chan struct{}, release func()) {
	h := &hold{reached: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.hold = h
	s.mu.Unlock()
	var once sync.Once
	return h.reached, func() { once.Do(func() { close(h.release) }) }
}

// Outbox returns the accepted messages, oldest first.
func (s *Server) Outbox() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.outbox...)
}

// WaitFor blocks until the outbox holds n messages or d passes.
func (s *Server) WaitFor(n int, d time.Duration) []Mail {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		got, ch := len(s.outbox), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Outbox()
		}
		select {
		case <-ch:
		case <-deadline:
			return s.Outbox()
		}
	}
}

type sgError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

func reject(w http.ResponseWriter, status int, field, msg string) {
	var f *string
	if field != "" {
		f = &field
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []sgError{{Message: msg, Field: f}}})
}

type address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

type request struct {
	Personalizations []struct {
		To         []address         `json:"to"`
		Subject    string            `json:"subject"`
		CustomArgs map[string]string `json:"custom_args"`
	} `json:"personalizations"`
	From    *address `json:"from"`
	ReplyTo *address `json:"reply_to"`
	Subject string   `json:"subject"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	Categories       []string          `json:"categories"`
	CustomArgs       map[string]string `json:"custom_args"`
	Headers          map[string]string `json:"headers"`
	TrackingSettings map[string]any    `json:"tracking_settings"`
}

var reservedHeaders = map[string]bool{"x-sg-id": true, "x-sg-eid": true, "received": true, "dkim-signature": true,
	"content-type": true, "content-transfer-encoding": true, "to": true, "from": true, "subject": true,
	"reply-to": true, "cc": true, "bcc": true}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// Sent is how many messages were ever accepted for delivery, including any
// an erasure job has since removed from the outbox.
func (s *Server) Sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Erased returns the addresses accepted for erasure, in order.
func (s *Server) Erased() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.erased...)
}

// forget drops erased addresses from the outbox, as SendGrid deletes
// the recipient's data; tests read the outbox back to verify.
func (s *Server) forget(addrs []string) {
	gone := map[string]bool{}
	for _, a := range addrs {
		gone[strings.ToLower(a)] = true
	}
	kept := s.outbox[:0]
	for _, m := range s.outbox {
		erase := false
		for _, to := range m.To {
			erase = erase || gone[strings.ToLower(to)]
		}
		if !erase {
			kept = append(kept, m)
		}
	}
	s.outbox = kept
}

// FailErasureOf makes every erasure job that names address fail with
// status (a 5xx, as SendGrid's v3 API answers when it cannot process a
// request: https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/errors),
// until it is called again with status 0. Tests use it to make SendGrid
// fail for one shop's recipients only.
func (s *Server) FailErasureOf(address string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErase == nil {
		s.failErase = map[string]int{}
	}
	if status == 0 {
		delete(s.failErase, strings.ToLower(address))
		return
	}
	s.failErase[strings.ToLower(address)] = status
}

// serveErase is POST /v3/recipients/erasejob: 1 to 5,000 addresses or 256Kb
// a request, answered 202 with a job ID
// (https://twilio.com/docs/sendgrid/api-reference/recipients-data-erasure-api/erase-recipients-email-data).
func (s *Server) serveErase(w http.ResponseWriter, r *http.Request) {
	var req struct {
		EmailAddresses []string `json:"email_addresses"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 300<<10))
	if err != nil || len(raw) > 256<<10 {
		reject(w, http.StatusBadRequest, "email_addresses", "payload over 256Kb")
		return
	}
	if json.Unmarshal(raw, &req) != nil || len(req.EmailAddresses) == 0 || len(req.EmailAddresses) > 5000 {
		reject(w, http.StatusBadRequest, "email_addresses", "email_addresses must list 1 to 5000 addresses")
		return
	}
	for _, a := range req.EmailAddresses {
		if !validEmail(a) {
			reject(w, http.StatusBadRequest, "email_addresses", "Email_address is not valid")
			return
		}
	}
	s.mu.Lock()
	for _, a := range req.EmailAddresses {
		if status := s.failErase[strings.ToLower(a)]; status != 0 {
			s.mu.Unlock()
			reject(w, status, "", "internal error")
			return
		}
	}
	s.erased = append(s.erased, req.EmailAddresses...)
	s.forget(req.EmailAddresses)
	s.mu.Unlock()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"job_id": hex.EncodeToString(b)})
}

// serve routes the erasure and suppression endpoints, and answers Mail Send
// itself. It is long on purpose: Mail Send is one check after another in the
// order SendGrid turns a request away (path, method, key, content type,
// injected faults, body, its fields, the sender's verification), then the
// outbox; kept in one piece so that order reads top to bottom.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v3/recipients/erasejob" && r.Method == http.MethodPost && r.Header.Get("Authorization") == "Bearer "+s.Key {
		s.mu.Lock()
		if len(s.fail) > 0 {
			status := s.fail[0]
			s.fail = s.fail[1:]
			s.mu.Unlock()
			reject(w, status, "", http.StatusText(status))
			return
		}
		s.mu.Unlock()
		s.serveErase(w, r)
		return
	}
	if list, addr, ok := suppressionRoute(r.URL.Path); ok {
		s.serveSuppression(w, r, list, addr)
		return
	}
	if r.URL.Path != "/v3/mail/send" {
		reject(w, http.StatusNotFound, "", "not found")
		return
	}
	if r.Method != http.MethodPost {
		reject(w, http.StatusMethodNotAllowed, "", "method not allowed")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Key || s.Key == "" {
		reject(w, http.StatusUnauthorized, "", "The provided authorization grant is invalid, expired, or revoked")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		reject(w, http.StatusUnsupportedMediaType, "", "Content-Type should be application/json.")
		return
	}
	s.mu.Lock()
	if len(s.fail) > 0 {
		status := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		if status == http.StatusTooManyRequests {
			// The period ends at a whole second, one to two seconds on.
			w.Header().Set("X-RateLimit-Limit", "600")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second).Unix()))
			reject(w, status, "", "too many requests")
			return
		}
		reject(w, status, "", http.StatusText(status))
		return
	}
	if s.limit != nil && !s.limit.admit(w, time.Now()) {
		s.mu.Unlock()
		reject(w, http.StatusTooManyRequests, "", "too many requests")
		return
	}
	s.mu.Unlock()
	raw, err := io.ReadAll(io.LimitReader(r.Body, 30<<20))
	if err != nil {
		reject(w, http.StatusBadRequest, "", "could not read body")
		return
	}
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		reject(w, http.StatusBadRequest, "", "Bad Request")
		return
	}
	if field, msg := validate(req); msg != "" {
		reject(w, http.StatusBadRequest, field, msg)
		return
	}
	if !s.verified(req.From.Email) {
		reject(w, http.StatusForbidden, "from", unverifiedSender)
		return
	}
	m := Mail{ReceivedAt: time.Now(), From: req.From.Email, FromName: req.From.Name, Subject: req.Subject, Categories: req.Categories,
		CustomArgs: req.CustomArgs, Headers: req.Headers, Tracking: req.TrackingSettings, Raw: raw}
	if req.ReplyTo != nil {
		m.ReplyTo = req.ReplyTo.Email
	}
	for _, p := range req.Personalizations {
		for _, to := range p.To {
			m.To = append(m.To, to.Email)
		}
		if p.Subject != "" {
			m.Subject = p.Subject
		}
	}
	for _, c := range req.Content {
		switch c.Type {
		case "text/plain":
			m.Text = c.Value
		case "text/html":
			m.HTML = c.Value
		}
	}
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	m.MessageID = hex.EncodeToString(b)
	s.mu.Lock()
	s.outbox = append(s.outbox, m)
	s.sent++
	close(s.changed)
	s.changed = make(chan struct{})
	lost := 0
	if len(s.lose) > 0 {
		lost, s.lose = s.lose[0], s.lose[1:]
	}
	h := s.hold
	s.hold = nil
	s.mu.Unlock()
	if h != nil {
		close(h.reached)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return // the client went away (killed, or timed out) before the answer
		}
	}
	if lost != 0 {
		// A gateway's page, not SendGrid's JSON errors body.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(lost)
		_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", lost, http.StatusText(lost))
		return
	}
	w.Header().Set("X-Message-Id", m.MessageID)
	w.WriteHeader(http.StatusAccepted)
}

func validate(req request) (field, msg string) {
	if len(req.Personalizations) == 0 || len(req.Personalizations) > 1000 {
		return "personalizations", "The personalizations field is required and must have at least one personalization."
	}
	for i, p := range req.Personalizations {
		if len(p.To) == 0 {
			return fmt.Sprintf("personalizations.%d.to", i), "The to array is required for all personalization objects, and must have at least one email object with a valid email address."
		}
		for j, to := range p.To {
			if !validEmail(to.Email) {
				return fmt.Sprintf("personalizations.%d.to.%d.email", i, j), "Does not contain a valid address."
			}
		}
		if p.Subject == "" && req.Subject == "" {
			return "subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."
		}
	}
	if req.From == nil || !validEmail(req.From.Email) {
		return "from.email", "The from email does not contain a valid address."
	}
	if req.ReplyTo != nil && !validEmail(req.ReplyTo.Email) {
		return "reply_to.email", "The reply_to email does not contain a valid address."
	}
	if len(req.Content) == 0 {
		return "content", "Unless a valid template_id is provided, the content parameter is required."
	}
	for i, c := range req.Content {
		if c.Type == "" || c.Value == "" {
			return fmt.Sprintf("content.%d", i), "The content value must be a string at least one character in length."
		}
		if c.Type == "text/plain" && i != 0 {
			return "content", "If present, text/plain content must be first, followed by any other content."
		}
	}
	if len(req.Categories) > 10 {
		return "categories", "Too many categories. You may have at most 10."
	}
	for _, c := range req.Categories {
		if len(c) > 255 || c == "" {
			return "categories", "A category must be 1 to 255 characters."
		}
	}
	total := 0
	for k, v := range req.CustomArgs {
		total += len(k) + len(v)
	}
	if total > 10000 {
		return "custom_args", "The custom_args may not exceed 10,000 bytes."
	}
	for k := range req.Headers {
		if reservedHeaders[strings.ToLower(k)] {
			return "headers", "The header " + k + " is reserved."
		}
	}
	return "", ""
}
