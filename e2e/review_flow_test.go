// Package e2e runs Candor end to end: the real Temporal dev server, real
// Postgres, the real worker and HTTP server, and local stand-ins for Shopify
// and SendGrid. It asserts what a merchant, a customer and an auditor would
// see.
package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/telemetry"
	"github.com/candorhq/candor/web"
	"github.com/candorhq/candor/workflows"
)

const (
	shop       = "harbour-goods.myshopify.com"
	secret     = "shpss_e2e_secret"
	apiVersion = "2026-10"
)

var temporalAddr string

func TestMain(m *testing.M) { devenv.RunWithTemporal(m, &temporalAddr) }

type system struct {
	db      *store.DB
	tc      client.Client
	keys    *datakeys.Keys
	ring    *keys.Ring
	shopify *shopifytest.Store
	mail    *sendgridtest.Server
	url     string
	logs    *devenv.SyncBuffer
	acts    *activities.Activities // the worker's; set Now before the first workflow
	// metrics and spans are what an operator would scrape and trace, wired
	// as cmd/candor wires them; spans are kept in memory.
	metrics *telemetry.Metrics
	spans   *tracetest.InMemoryExporter
}

func start(t *testing.T, settings func(*store.Settings)) *system {
	t.Helper()
	return startWith(t, options{settings: settings})
}

// options change what start sets up; the zero value is start's.
type options struct {
	settings func(*store.Settings)
	temporal string       // the Temporal frontend; "" is the package's dev server
	db       *store.DB    // nil makes a fresh database
	listener net.Listener // where Candor's HTTP server listens; nil picks a port
	// codecOrigins and codecPathTokens configure the codec endpoint for a
	// Temporal UI, as candor dev does (web.Server).
	codecOrigins    []string
	codecPathTokens bool
}

func startWith(t *testing.T, o options) *system {
	t.Helper()
	ctx := context.Background()
	settings := o.settings
	if o.temporal == "" {
		o.temporal = temporalAddr
	}
	db := o.db
	if db == nil {
		db, _ = storetest.New(t)
	}
	logs := &devenv.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	dk := datakeys.New(db, ring)
	metrics, spans := telemetry.NewMetrics(), tracetest.NewInMemoryExporter()
	tracing := telemetry.NewTracing(spans, "candor-e2e")
	metrics.WatchErasures(db, nil)
	opts := client.Options{HostPort: o.temporal, Logger: tlog.NewStructuredLogger(logger),
		DataConverter: dk.DataConverter(workflows.DataKeyOwner(ring))}
	if err := telemetry.Instrument(&opts, metrics, tracing); err != nil {
		t.Fatal(err)
	}
	tc, err := client.Dial(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	shopStore := shopifytest.New("shpat_e2e_token", apiVersion)
	t.Cleanup(shopStore.Close)
	shopStore.Shop, shopStore.ShopEmail = shop, "owner@harbour-goods.example"
	mail := sendgridtest.New("SG.e2e-key")
	t.Cleanup(mail.Close)
	mail.AuthenticateDomain("mail.candor.test") // the operator's authenticated domain
	mailer := sendgrid.New(mail.Key, mail.URL, sendgrid.From("reviews@mail.candor.test"))
	mailer.Instrument(tracing.Transport)

	sealed, _ := ring.Seal([]byte("shpat_e2e_token"), shop)
	st := store.DefaultSettings(shop)
	st.Delay, st.FallbackDelay = 2*time.Second, 20*time.Second
	if settings != nil {
		settings(&st)
	}
	if err := db.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: sealed, Settings: st}); err != nil {
		t.Fatal(err)
	}

	srv := &web.Server{DB: db, Temporal: tc, Keys: ring, DataKeys: dk, ShopifySecret: secret, Logger: logger, TemporalRetention: 24 * time.Hour,
		Mailer: mailer, Shopify: shopify.AdminConfig{APIVersion: apiVersion, BaseURL: shopStore.URL, Wrap: tracing.Transport},
		Metrics: metrics, Tracing: tracing}
	if srv.SendGridWebhookKey, err = config.ParseSendGridWebhookKey(mail.WebhookPublicKey()); err != nil {
		t.Fatal(err)
	}
	srv.CodecOrigins, srv.CodecPathTokens = o.codecOrigins, o.codecPathTokens
	hs := httptest.NewUnstartedServer(srv.Handler())
	if o.listener != nil {
		hs.Listener.Close()
		hs.Listener = o.listener
	}
	hs.Start()
	t.Cleanup(hs.Close)
	srv.PublicURL = hs.URL
	mail.SetEventWebhook(hs.URL + "/webhooks/sendgrid")

	// Each test gets its own task queue name through its own worker? No:
	// the workflow's task queue is fixed, so tests in this package run one
	// at a time and each worker stops with its test.
	w := worker.New(tc, workflows.TaskQueue, worker.Options{BackgroundActivityContext: telemetry.WithMetrics(context.Background(), metrics)})
	acts := &activities.Activities{
		DB: db, Keys: ring, DataKeys: dk, Mailer: mailer,
		Shopify:   shopify.AdminConfig{APIVersion: apiVersion, BaseURL: shopStore.URL, Wrap: tracing.Transport},
		PublicURL: hs.URL, Temporal: tc, Namespace: "default",
		StartReview: workflows.ReviewStarter(tc, ring.RequestID), TemporalRetention: 24 * time.Hour,
		StartPrivacy: workflows.PrivacyStarter(tc),
	}
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &system{db: db, tc: tc, keys: dk, ring: ring, shopify: shopStore, mail: mail, url: hs.URL, logs: logs, acts: acts,
		metrics: metrics, spans: spans}
}

// runWorkflow starts wf under id, as a schedule or the CLI would, and waits
// up to timeout for its result.
func runWorkflow[T any](t *testing.T, s *system, id string, timeout time.Duration, wf any, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var res T
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, wf, args...)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("workflow %s: %v\nlogs:\n%s", id, err, lastLines(s.logs.String(), 15))
	}
	return res
}

// codec decodes payloads as the Temporal UI does, through Candor's keys.
func (s *system) codec() *datakeys.Codec { return s.keys.Codec("", datakeys.ServiceOwner) }

func (s *system) deliver(t *testing.T, topic, webhookID string, body []byte) string {
	t.Helper()
	req, _ := shopifytest.WebhookRequest(s.url+"/webhooks/shopify", topic, shop, secret, webhookID, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s\nlogs:\n%s", topic, resp.StatusCode, msg, lastLines(s.logs.String(), 10))
	}
	return strings.TrimSpace(string(msg))
}

func (s *system) result(t *testing.T, orderID int64) workflows.ReviewRequestResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var r workflows.ReviewRequestResult
	if err := s.tc.GetWorkflow(ctx, review.WorkflowID(shop, orderID), "").Get(ctx, &r); err != nil {
		t.Fatalf("workflow for order %d: %v", orderID, err)
	}
	return r
}

// personal is every piece of the customer's personal data in an order.
func personal(o shopifytest.Order) []string {
	c := o.Customer
	return []string{c.Email, c.FirstName, c.LastName, c.Phone, c.Address1, fmt.Sprint(c.ID)}
}

// dump is the text of every row of every table.
func (s *system) dump(t *testing.T) string {
	t.Helper()
	var tables []string
	if err := s.db.Select(&tables, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 6 {
		t.Fatalf("found only tables %v", tables)
	}
	var b strings.Builder
	for _, table := range tables {
		var rows []string
		if err := s.db.Select(&rows, `SELECT t::text FROM `+table+` t`); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join(rows, "\n"))
	}
	return b.String()
}

func TestReviewFlow_SignedFulfillmentSendsOneMinimalEmailAndLeavesNoPersonalData(t *testing.T) {
	s := start(t, nil)
	o := shopifytest.DemoOrder(time.Now().UnixNano() % 1_000_000_000)
	o.Customer.FirstName, o.Customer.LastName = "Wilhelmina", "Zabrowski-Quint"
	o.Customer.Phone, o.Customer.Address1 = "+44 7700 900123", "17 Larkspur Crescent"
	o.Customer.Email = "wilhelmina.zq@example.net"
	o.Customer.ID = 9_871_234_567
	s.shopify.SetOrder(o)

	// Five deliveries of the same fulfillment: three Shopify retries of one
	// delivery, and two more deliveries of the same event, which reach the
	// running request as a shipment it already knows.
	create := shopifytest.FulfillmentPayload(o, "")
	id := shopifytest.NewWebhookID()
	outcomes := []string{
		s.deliver(t, shopify.TopicFulfillmentCreate, id, create),
		s.deliver(t, shopify.TopicFulfillmentCreate, id, create),
		s.deliver(t, shopify.TopicFulfillmentCreate, id, create),
		s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), create),
		s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), create),
	}
	if want := "started,duplicate delivery,duplicate delivery,signalled,signalled"; strings.Join(outcomes, ",") != want {
		t.Fatalf("outcomes %v, want %s", outcomes, want)
	}
	if got := s.deliver(t, shopify.TopicFulfillmentUpdate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered")); got != "signalled" {
		t.Fatalf("delivered: %s", got)
	}

	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("result %+v", r)
	}
	mails := s.mail.WaitFor(1, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if mails = s.mail.Outbox(); len(mails) != 1 {
		t.Fatalf("%d emails sent, want exactly 1", len(mails))
	}
	m := mails[0]

	// The email: the order name, the products, one review link each, an
	// unsubscribe link. Nothing else personal.
	if len(m.To) != 1 || m.To[0] != o.Customer.Email {
		t.Fatalf("sent to %v", m.To)
	}
	if !strings.Contains(m.Subject, o.Name) {
		t.Errorf("subject %q lacks the order name", m.Subject)
	}
	for _, body := range []string{m.Text, m.HTML} {
		if !strings.Contains(body, o.Name) {
			t.Errorf("body lacks the order name %s", o.Name)
		}
		for _, p := range o.Products {
			if !strings.Contains(body, p.Title) {
				t.Errorf("body lacks product %q", p.Title)
			}
		}
		if n := strings.Count(body, s.url+"/r/"); n != len(o.Products) {
			t.Errorf("%d review links, want %d", n, len(o.Products))
		}
		if strings.Count(body, s.url+"/u/") != 1 {
			t.Errorf("want one unsubscribe link")
		}
		for _, pii := range append(personal(o)[1:], o.Products[0].Price, "Portland", o.Customer.Zip) {
			if strings.Contains(body, pii) {
				t.Errorf("email body contains %q", pii)
			}
		}
		if strings.Contains(body, o.Customer.Email) {
			t.Errorf("email body repeats the address")
		}
	}
	if len(m.CustomArgs) != 1 || !strings.HasPrefix(m.CustomArgs[sendgrid.CustomArgRequestID], "rq_") {
		t.Errorf("custom_args = %v, want only an opaque request ID", m.CustomArgs)
	}
	if len(m.Categories) != 1 || m.Categories[0] != "review_request" {
		t.Errorf("categories = %v", m.Categories)
	}
	if !strings.HasPrefix(m.Headers["List-Unsubscribe"], "<"+s.url+"/u/") || m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Errorf("unsubscribe headers = %v", m.Headers)
	}

	// Nothing personal in Temporal history, logs or any Postgres table.
	h, sealed, err := devenv.HistoryText(context.Background(), s.tc, review.WorkflowID(shop, o.ID), s.codec())
	if err != nil || sealed != 0 {
		t.Fatalf("history: %d payloads do not decode, %v", sealed, err)
	}
	if !strings.Contains(h, o.Products[0].Title) || !strings.Contains(h, "SendReviewRequest") {
		t.Fatalf("decoded history lacks expected content, so the search proves nothing")
	}
	// As Temporal stores it, every payload is ciphertext under the
	// request's own data key.
	raw, _, err := devenv.HistoryText(context.Background(), s.tc, review.WorkflowID(shop, o.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{o.Name, o.Products[0].Title, `"order_id"`, `"status":"sent"`} {
		if strings.Contains(raw, clear) {
			t.Errorf("the stored history holds %s in clear text", clear)
		}
	}
	dump := s.dump(t)
	if !strings.Contains(dump, o.Name) || !strings.Contains(dump, "sub_") {
		t.Fatalf("table dump lacks the order and pseudonym, so the search proves nothing")
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "review request sent") {
		t.Fatalf("logs lack the send line, so the search proves nothing")
	}
	for _, pii := range personal(o) {
		for where, text := range map[string]string{"Temporal history": h, "Postgres": dump, "logs": logs} {
			if strings.Contains(text, pii) {
				t.Errorf("%s contains %q", where, pii)
			}
		}
	}

	// The registry has the touches, chained.
	es, err := registry.Entries(context.Background(), s.db, shop)
	if err != nil {
		t.Fatal(err)
	}
	if bad := registry.VerifyChain(es); bad != -1 {
		t.Fatalf("registry chain broken at %d", bad)
	}
	var sent, read bool
	for _, e := range es {
		sent = sent || (e.System == registry.SystemSendGrid && e.Action == registry.ActionTransmitted && e.Datum == registry.DatumEmail && e.Ref == m.CustomArgs[sendgrid.CustomArgRequestID])
		read = read || (e.System == registry.SystemShopify && e.Action == registry.ActionRead && e.Datum == registry.DatumEmail)
	}
	if !sent || !read {
		t.Fatalf("registry lacks the send (%t) or the Shopify read (%t): %+v", sent, read, es)
	}

	// An auditor's export of the shop verifies, holds every touch of the
	// flow, and no raw personal data or Shopify ID.
	_, signingKey, _ := ed25519.GenerateKey(nil)
	var export bytes.Buffer
	signed, err := registry.Export(context.Background(), s.db.DB, &export, registry.FormatJSONL, registry.Filter{Shop: shop},
		registry.Signer{KeyID: "e2e", Key: signingKey}, registry.NewExportID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Verify(bytes.NewReader(export.Bytes()), &signed, signingKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("export does not verify: %v", err)
	}
	for _, touch := range []string{
		`"datum":"user.contact.email","system":"candor","action":"collected"`,
		`"datum":"user.contact.address","system":"candor","action":"collected"`,
		`"datum":"user.behavior.purchase_history","system":"temporal","action":"stored"`,
		`"datum":"user.behavior.purchase_history","system":"postgres","action":"stored"`,
		`"datum":"user.unique_id","system":"shopify","action":"read"`,
		`"datum":"user.contact.email","system":"shopify","action":"read"`,
		`"datum":"user.contact.email","system":"sendgrid","action":"transmitted"`,
	} {
		if !strings.Contains(export.String(), touch) {
			t.Errorf("export lacks the touch %s", touch)
		}
	}
	for _, pii := range append(personal(o), fmt.Sprint(o.ID)) {
		if strings.Contains(export.String(), pii) {
			t.Errorf("registry export contains %q", pii)
		}
	}

	// The customer clicks a review link, then unsubscribes.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	reviewLink := regexp.MustCompile(regexp.QuoteMeta(s.url) + `/r/[A-Za-z0-9_.-]+`).FindString(m.Text)
	resp, err := noRedirect.Get(reviewLink)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, "https://"+shop+"/products/") {
		t.Fatalf("review link: %d to %q", resp.StatusCode, loc)
	}
	unsub := strings.Trim(m.Headers["List-Unsubscribe"], "<>")
	resp, err = http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "unsubscribed") {
		t.Fatalf("unsubscribe: %d %s", resp.StatusCode, page)
	}

	// The same customer's next order gets nothing.
	o2 := o
	o2.ID, o2.Name = o.ID+1, "#9999"
	s.shopify.SetOrder(o2)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o2, "delivered"))
	if r := s.result(t, o2.ID); r.Status != store.StatusSkipped || r.Reason != review.ReasonUnsubscribed {
		t.Fatalf("after unsubscribe: %+v", r)
	}
	if n := len(s.mail.Outbox()); n != 1 {
		t.Fatalf("%d emails after unsubscribe, want still 1", n)
	}
}

func TestReviewFlow_CancelledOrderGetsNoEmail(t *testing.T) {
	s := start(t, func(st *store.Settings) { st.Delay = 5 * time.Second })
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 7)
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	o.Cancelled = true
	s.shopify.SetOrder(o)
	if got := s.deliver(t, shopify.TopicOrderCancelled, shopifytest.NewWebhookID(), shopifytest.OrderPayload(o)); got != "signalled" {
		t.Fatalf("cancel: %s", got)
	}
	if r := s.result(t, o.ID); r.Status != store.StatusSkipped || r.Reason != review.ReasonCancelled {
		t.Fatalf("result %+v", r)
	}
	if n := len(s.mail.Outbox()); n != 0 {
		t.Fatalf("%d emails for a cancelled order", n)
	}
	var status string
	_ = s.db.Get(&status, `SELECT status FROM review_requests WHERE order_id = $1`, o.ID)
	if status != store.StatusSkipped {
		t.Fatalf("request status %q", status)
	}
}

// SendGrid refuses a From address that is no Sender Identity of the shared
// account (403). On the real worker and Temporal the request ends failed as
// sender_unverified after one attempt, not after a day of retries as a key
// problem, and nothing is sent.
func TestReviewFlow_UnverifiedSenderEndsAtOnceWithoutADayOfRetries(t *testing.T) {
	s := start(t, func(st *store.Settings) { st.Delay = time.Second })
	s.acts.Mailer = sendgrid.New(s.mail.Key, s.mail.URL, sendgrid.From("reviews@"+shop)) // the shop's own address: not verified
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 17)
	s.shopify.SetOrder(o)
	began := time.Now()
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusFailed || r.Reason != review.ReasonSenderUnverified {
		t.Fatalf("result %+v, want failed/%s", r, review.ReasonSenderUnverified)
	}
	if d := time.Since(began); d > 30*time.Second {
		t.Errorf("the refusal took %v to settle: it was retried", d)
	}
	ctx := context.Background()
	attempts := 0
	iter := s.tc.GetWorkflowHistory(ctx, review.WorkflowID(shop, o.ID), "", false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "SendReviewRequest" {
			attempts++
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
			t.Errorf("an activity was retried (attempt %d)", a.GetAttempt())
		}
	}
	if attempts != 1 {
		t.Errorf("SendReviewRequest scheduled %d times, want 1", attempts)
	}
	if n := s.mail.Sent(); n != 0 {
		t.Errorf("SendGrid accepted %d emails from an unverified sender", n)
	}
	var reason string
	_ = s.db.Get(&reason, `SELECT reason FROM review_requests WHERE order_id = $1`, o.ID)
	if reason != string(review.ReasonSenderUnverified) {
		t.Errorf("request reason %q: /app shows the refusal from it", reason)
	}
}

func TestReviewFlow_NoDeliveryEventFallsBackAfterFulfillment(t *testing.T) {
	s := start(t, func(st *store.Settings) { st.Delay, st.FallbackDelay = time.Hour, 3*time.Second })
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 13)
	s.shopify.SetOrder(o)
	began := time.Now()
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, ""))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("result %+v", r)
	}
	if took := time.Since(began); took < 3*time.Second {
		t.Fatalf("sent after %v, before the 3s fallback delay", took)
	}
	if n := len(s.mail.Outbox()); n != 1 {
		t.Fatalf("%d emails, want 1", n)
	}
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
