package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
)

// sgEnv is a server with the SendGrid stand-in's verification key, and
// review requests that were sent.
type sgEnv struct {
	*env
	sg      *sendgridtest.Server
	base    string // the server's URL
	hookURL string
}

func newSGEnv(t *testing.T) *sgEnv {
	t.Helper()
	e := newEnv(t)
	sg := sendgridtest.New("SG.web-test")
	t.Cleanup(sg.Close)
	key, err := config.ParseSendGridWebhookKey(sg.WebhookPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	srv := &web.Server{DB: e.db, Temporal: e.tc, Keys: e.ring, ShopifySecret: secret, SendGridWebhookKey: key,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)), TemporalRetention: 24 * time.Hour}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	sg.SetEventWebhook(hs.URL + "/webhooks/sendgrid")
	return &sgEnv{env: e, sg: sg, base: hs.URL, hookURL: hs.URL + "/webhooks/sendgrid"}
}

var customerSeq = time.Now().UnixNano() % 1_000_000_000

// sent records a review request as the send activity leaves it once the
// email is out (subject known, status sent), and returns the message as
// SendGrid accepted it and the customer's pseudonym.
func (e *sgEnv) sent(t *testing.T, email string) (sendgridtest.Mail, string) {
	t.Helper()
	customerSeq++
	ctx := context.Background()
	o := nextOrder()
	rid, subject := e.ring.RequestID(shop, o.ID), e.ring.Subject(shop, customerSeq)
	products := []store.Product{{ID: 42, Title: "Linen apron", Handle: "linen-apron"}}
	err := e.db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := store.CreateRequest(ctx, tx, store.Request{RequestID: rid, Shop: shop, OrderID: o.ID, OrderName: o.Name,
			ExpiresAt: time.Now().Add(time.Hour)}, products); err != nil {
			return err
		}
		if err := store.SetSubjectAndProducts(ctx, tx, rid, subject, products); err != nil {
			return err
		}
		_, err := store.Transition(ctx, tx, rid, []string{store.StatusScheduled}, store.StatusSent, "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sendgridtest.Mail{MessageID: fmt.Sprintf("msg%d", customerSeq), To: []string{email},
		Categories: []string{sendgrid.Category}, CustomArgs: map[string]string{sendgrid.CustomArgRequestID: rid}}, subject
}

// postSigned posts body signed at ts, after mutate may change the request.
func (e *sgEnv) postSigned(t *testing.T, body []byte, ts time.Time, mutate func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.hookURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sig, stamp := e.sg.Sign(body, ts)
	req.Header.Set(sendgrid.HeaderEventSignature, sig)
	req.Header.Set(sendgrid.HeaderEventTimestamp, stamp)
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func (e *sgEnv) suppressed(t *testing.T, subject string) bool {
	t.Helper()
	ok, err := store.Suppressed(context.Background(), e.db, shop, subject)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func batch(t *testing.T, events ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSendGridEvents_BadInputIsRejectedAndNothingIsWritten(t *testing.T) {
	e := newSGEnv(t)
	const email = "ottoline.brackenbury@example.org"
	m, subject := e.sent(t, email)
	good := batch(t, sendgridtest.Event(m, "bounce", "bounce"))
	other := sendgridtest.New("SG.other")
	defer other.Close()
	otherSig, _ := other.Sign(good, time.Now())
	big := append([]byte(`[{"event":"bounce","sg_event_id":"x","pad":"`), bytes.Repeat([]byte("x"), sendgrid.MaxEventBody)...)
	big = append(big, `"}]`...)
	now := time.Now()

	for _, c := range []struct {
		name   string
		body   []byte
		at     time.Time
		mutate func(*http.Request)
		status int
		msg    string
	}{
		{"no signature", good, now, func(r *http.Request) { r.Header.Del(sendgrid.HeaderEventSignature) }, 401, "signature"},
		{"no timestamp", good, now, func(r *http.Request) { r.Header.Del(sendgrid.HeaderEventTimestamp) }, 401, "signature"},
		{"signed by another key", good, now, func(r *http.Request) { r.Header.Set(sendgrid.HeaderEventSignature, otherSig) }, 401, "signature"},
		{"signature not base64", good, now, func(r *http.Request) { r.Header.Set(sendgrid.HeaderEventSignature, "%%%") }, 401, "signature"},
		{"body changed after signing", good, now, func(r *http.Request) {
			changed := bytes.Replace(good, []byte(`"event":"bounce"`), []byte(`"event":"spamreport"`), 1)
			if bytes.Equal(changed, good) {
				t.Fatal("the change changed nothing")
			}
			r.Body, r.ContentLength, r.GetBody = io.NopCloser(bytes.NewReader(changed)), int64(len(changed)), nil
		}, 401, "signature"},
		{"timestamp moved after signing", good, now, func(r *http.Request) {
			r.Header.Set(sendgrid.HeaderEventTimestamp, fmt.Sprint(now.Unix()+1))
		}, 401, "signature"},
		{"signed longer ago than SendGrid retries (replay)", good, now.Add(-sendgrid.EventMaxAge - time.Minute), nil, 401, "from now"},
		{"signed 11 minutes ahead", good, now.Add(11 * time.Minute), nil, 401, "from now"},
		{"body over 1 MiB", big, now, nil, 413, "1 MiB"},
		{"malformed JSON", []byte(`[{"event":"bounce",`), now, nil, 400, "malformed JSON"},
		{"an object, not an array", []byte(`{"event":"bounce","sg_event_id":"x"}`), now, nil, 400, "malformed JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, msg := e.postSigned(t, c.body, c.at, c.mutate)
			if status != c.status || !strings.Contains(msg, c.msg) {
				t.Fatalf("got %d %q, want %d containing %q", status, msg, c.status, c.msg)
			}
			if strings.Contains(msg, email) {
				t.Fatalf("the response echoes the address: %q", msg)
			}
		})
	}
	for _, table := range []string{"suppressions", "webhook_deliveries", "registry_entries"} {
		if n := e.count(t, table); n != 0 {
			t.Errorf("%d %s rows written by rejected posts", n, table)
		}
	}
	if strings.Contains(e.logs.String(), email) {
		t.Fatal("logs contain the address")
	}

	// The same event, correctly signed, is accepted: the rejections above
	// were for what was wrong with them.
	if status, msg := e.postSigned(t, good, time.Now(), nil); status != 200 || msg != "suppressed 1, duplicate 0, ignored 0" {
		t.Fatalf("good post: %d %q", status, msg)
	}
	if !e.suppressed(t, subject) {
		t.Fatal("the bounced customer is not suppressed")
	}
}

func TestSendGridEvents_BouncesSpamReportsAndUnsubscribesSuppressTheShopsCustomer(t *testing.T) {
	e := newSGEnv(t)
	type customer struct {
		kind, detail string
		suppressed   bool
		datum        string
		m            sendgridtest.Mail
		subject      string
	}
	cs := []*customer{
		{kind: "bounce", detail: "bounce", suppressed: true, datum: registry.DatumEmailDeliverability},
		{kind: "bounce", detail: "blocked"},
		{kind: "dropped", detail: "Invalid", suppressed: true, datum: registry.DatumEmailDeliverability},
		{kind: "dropped", detail: "Spam Content"},
		{kind: "spamreport", suppressed: true, datum: registry.DatumMarketingPrefs},
		{kind: "unsubscribe", suppressed: true, datum: registry.DatumMarketingPrefs},
		{kind: "group_unsubscribe", suppressed: true, datum: registry.DatumMarketingPrefs},
		{kind: "delivered"},
		{kind: "open"},
	}
	var events []map[string]any
	var emails []string
	for i, c := range cs {
		email := fmt.Sprintf("customer.%d.%s@example.net", i, c.kind)
		emails = append(emails, email)
		c.m, c.subject = e.sent(t, email)
		events = append(events, sendgridtest.Event(c.m, c.kind, c.detail))
	}
	// Mail Candor did not send (another sender on the same SendGrid
	// account), and a request Candor no longer holds (erased or expired).
	stranger := sendgridtest.Event(sendgridtest.Mail{To: []string{"stranger@example.com"}}, "bounce", "bounce")
	gone := sendgridtest.Event(sendgridtest.Mail{To: []string{"gone@example.com"},
		CustomArgs: map[string]string{sendgrid.CustomArgRequestID: e.ring.RequestID(shop, 1)}}, "spamreport", "")
	events = append(events, stranger, gone)
	body := batch(t, events...)

	status, msg := e.postSigned(t, body, time.Now(), nil)
	if status != 200 || msg != "suppressed 5, duplicate 0, ignored 6" {
		t.Fatalf("post: %d %q", status, msg)
	}
	for _, c := range cs {
		if got := e.suppressed(t, c.subject); got != c.suppressed {
			t.Errorf("%s %s: suppressed = %t, want %t", c.kind, c.detail, got, c.suppressed)
		}
	}
	var reasons []string
	if err := e.db.Select(&reasons, `SELECT reason FROM suppressions ORDER BY reason`); err != nil {
		t.Fatal(err)
	}
	if want := "sendgrid_bounce,sendgrid_invalid,sendgrid_spamreport,sendgrid_unsubscribe,sendgrid_unsubscribe"; strings.Join(reasons, ",") != want {
		t.Errorf("reasons %v, want %s", reasons, want)
	}

	// The registry: per suppressed customer, what was read from SendGrid
	// and the suppression stored, in one chain.
	es, err := registry.Entries(context.Background(), e.db, shop)
	if err != nil {
		t.Fatal(err)
	}
	if bad := registry.VerifyChain(es); bad != -1 {
		t.Fatalf("chain broken at %d", bad)
	}
	if len(es) != 10 {
		t.Fatalf("%d registry entries, want 10 (two per suppressed customer): %+v", len(es), es)
	}
	for _, c := range cs {
		var read, stored bool
		for _, en := range es {
			if en.Subject != c.subject || en.Ref != c.m.CustomArgs[sendgrid.CustomArgRequestID] || en.Purpose != registry.PurposeSuppression {
				continue
			}
			read = read || (en.System == registry.SystemSendGrid && en.Action == registry.ActionRead && en.Datum == c.datum)
			stored = stored || (en.System == registry.SystemPostgres && en.Action == registry.ActionStored && en.Datum == registry.DatumMarketingPrefs)
		}
		if read != c.suppressed || stored != c.suppressed {
			t.Errorf("%s %s: registry read %t, stored %t; want both %t", c.kind, c.detail, read, stored, c.suppressed)
		}
	}

	// SendGrid retries the whole batch: nothing new is recorded.
	if status, msg := e.postSigned(t, body, time.Now(), nil); status != 200 || msg != "suppressed 0, duplicate 5, ignored 6" {
		t.Fatalf("retry: %d %q", status, msg)
	}
	// A new event for a customer already suppressed records what was read,
	// and stores nothing new.
	if status, msg := e.postSigned(t, batch(t, sendgridtest.Event(cs[0].m, "spamreport", "")), time.Now(), nil); status != 200 || msg != "suppressed 1, duplicate 0, ignored 0" {
		t.Fatalf("second event: %d %q", status, msg)
	}
	if n := e.count(t, "registry_entries"); n != 11 {
		t.Fatalf("%d registry entries, want 11", n)
	}
	if n := e.count(t, "suppressions"); n != 5 {
		t.Fatalf("%d suppressions, want 5", n)
	}
	var topics []string
	if err := e.db.Select(&topics, `SELECT topic FROM webhook_deliveries WHERE webhook_id LIKE 'sendgrid:%' ORDER BY topic`); err != nil {
		t.Fatal(err)
	}
	if len(topics) != 6 || topics[0] != "sendgrid/bounce" {
		t.Fatalf("dedupe rows %v, want one per acted-on event", topics)
	}

	// No address anywhere: not in any table, not in the logs.
	dump := dumpTables(t, e.db)
	if !strings.Contains(dump, "sub_") || !strings.Contains(dump, "sendgrid_spamreport") {
		t.Fatal("the dump lacks the suppressions, so the search below proves nothing")
	}
	for _, email := range append(emails, "stranger@example.com", "gone@example.com") {
		if strings.Contains(dump, email) || strings.Contains(e.logs.String(), email) {
			t.Errorf("%s is stored or logged", email)
		}
	}
}

func TestSendGridEvents_RefusedWhenNotConfiguredOrNotDurable(t *testing.T) {
	e := newSGEnv(t)
	m, subject := e.sent(t, "imogen.fairweather@example.org")
	body := batch(t, sendgridtest.Event(m, "spamreport", ""))

	// No verification key: even a correctly signed post is refused.
	unconfigured := &web.Server{DB: e.db, Temporal: e.tc, Keys: e.ring, ShopifySecret: secret, Logger: slog.New(slog.DiscardHandler)}
	hs := httptest.NewServer(unconfigured.Handler())
	defer hs.Close()
	req, _ := e.sg.EventRequest(context.Background(), hs.URL+"/webhooks/sendgrid", body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("no key: status %d, want 503", resp.StatusCode)
	}
	if e.suppressed(t, subject) || e.count(t, "webhook_deliveries") != 0 {
		t.Fatal("an event was acted on without a verification key")
	}

	// Postgres down: 503, so SendGrid retries.
	db2, _ := storetest.New(t)
	key, _ := config.ParseSendGridWebhookKey(e.sg.WebhookPublicKey())
	down := &web.Server{DB: db2, Temporal: e.tc, Keys: e.ring, ShopifySecret: secret, SendGridWebhookKey: key, Logger: slog.New(slog.DiscardHandler)}
	hs2 := httptest.NewServer(down.Handler())
	defer hs2.Close()
	db2.Close()
	req, _ = e.sg.EventRequest(context.Background(), hs2.URL+"/webhooks/sendgrid", body)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("Postgres down: status %d, want 503", resp.StatusCode)
	}

	// The retry, once things are back, is acted on.
	if status, msg, err := e.sg.PostEvents(context.Background(), sendgridtest.Event(m, "spamreport", "")); err != nil || status != 200 || !strings.HasPrefix(msg, "suppressed 1") {
		t.Fatalf("retry: %d %q %v", status, msg, err)
	}
	if !e.suppressed(t, subject) {
		t.Fatal("not suppressed after the retry")
	}
}

// dumpTables is the text of every row of every table.
func dumpTables(t *testing.T, db *store.DB) string {
	t.Helper()
	var tables []string
	if err := db.Select(&tables, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, table := range tables {
		var rows []string
		if err := db.Select(&rows, `SELECT t::text FROM `+table+` t`); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join(rows, "\n"))
	}
	return b.String()
}

// One malformed event (no sg_event_id, a string timestamp) must not make
// SendGrid retry, and finally drop, the spam report and unsubscribe posted
// with it: they are applied, the bad ones skipped and counted.
func TestSendGridEvents_AMalformedEventIsSkippedAndTheRestApplied(t *testing.T) {
	e := newSGEnv(t)
	const spam, unsub = "wilhelmina.ashdown@example.org", "barnaby.quill@example.org"
	m1, s1 := e.sent(t, spam)
	m2, s2 := e.sent(t, unsub)
	body := []byte(`[` + string(mustJSON(t, sendgridtest.Event(m1, "spamreport", ""))) + `,
		{"event":"bounce","email":"` + spam + `","timestamp":1700000000},
		{"event":"bounce","email":"` + spam + `","sg_event_id":"x2","timestamp":"1700000000"},
		` + string(mustJSON(t, sendgridtest.Event(m2, "unsubscribe", ""))) + `]`)
	status, msg := e.postSigned(t, body, time.Now(), nil)
	if status != 200 || msg != "suppressed 2, duplicate 0, ignored 0, malformed 2" {
		t.Fatalf("post: %d %q", status, msg)
	}
	if !e.suppressed(t, s1) || !e.suppressed(t, s2) {
		t.Fatal("the spam report and the unsubscribe beside the malformed events were lost")
	}
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `candor_sendgrid_events_total{outcome="malformed"} 2`) {
		t.Error("the skipped events are not counted")
	}
	if strings.Contains(e.logs.String(), spam) {
		t.Fatal("logs contain the address")
	}
}

// SendGrid's Event Webhook reference lists the drop reason "Invalid
// Address"; older posts say "Invalid". Both mean the address is bad.
func TestSendGridEvents_DroppedAsInvalidAddressSuppresses(t *testing.T) {
	e := newSGEnv(t)
	m, subject := e.sent(t, "not-a-mailbox@example.org")
	status, msg := e.postSigned(t, batch(t, sendgridtest.Event(m, "dropped", "Invalid Address")), time.Now(), nil)
	if status != 200 || msg != "suppressed 1, duplicate 0, ignored 0" {
		t.Fatalf("post: %d %q", status, msg)
	}
	if !e.suppressed(t, subject) {
		t.Fatal("an address dropped as invalid is not suppressed")
	}
	var reason string
	if err := e.db.Get(&reason, `SELECT reason FROM suppressions WHERE subject = $1`, subject); err != nil || reason != sendgrid.SuppressInvalid {
		t.Fatalf("reason %q, %v", reason, err)
	}
}

// SendGrid retries a post for up to 24 hours and does not document signing
// a retry afresh. A retry that kept its first attempt's timestamp, hours
// later, is accepted; its events are applied once.
func TestSendGridEvents_ARetryWithItsFirstSignatureIsAcceptedAndAppliedOnce(t *testing.T) {
	e := newSGEnv(t)
	m, subject := e.sent(t, "late.retry@example.org")
	body := batch(t, sendgridtest.Event(m, "spamreport", ""))
	firstAttempt := time.Now().Add(-3 * time.Hour) // Candor was down then
	if status, msg := e.postSigned(t, body, firstAttempt, nil); status != 200 || msg != "suppressed 1, duplicate 0, ignored 0" {
		t.Fatalf("retry 3 hours after signing: %d %q", status, msg)
	}
	if !e.suppressed(t, subject) {
		t.Fatal("the spam report in the retried post was lost")
	}
	if status, msg := e.postSigned(t, body, firstAttempt, nil); status != 200 || msg != "suppressed 0, duplicate 1, ignored 0" {
		t.Fatalf("the same post again: %d %q", status, msg)
	}
	if n := e.count(t, "registry_entries"); n != 2 {
		t.Fatalf("%d registry entries, want 2 (read, stored) however often the post comes", n)
	}
	// Dedupe must outlive the window in which a signed post is accepted.
	if keep := retention.Lookup(retention.WebhookDeliveries).Keep; keep <= sendgrid.EventMaxAge {
		t.Fatalf("event IDs are kept %s, less than the %s a signed post is accepted for: a replay would apply twice", keep, sendgrid.EventMaxAge)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
