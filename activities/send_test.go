package activities_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"html"
	"log/slog"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/candorhq/candor/activities"
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
)

const (
	testShop       = "linen-and-wool.myshopify.com"
	testToken      = "shpat_0123456789abcdef0123456789abcdef"
	testAPIVersion = "2026-10"
	testSendGrid   = "SG.test-key.0123456789"
	testPublicURL  = "https://candor.example"
	testOrderID    = int64(450789)
)

// testSender is Candor's sender, on the domain the stand-in's account
// authenticated.
const (
	testSenderDomain = "mail.candor.test"
	testSender       = "reviews@" + testSenderDomain
)

// customerOrder is an order by a customer with an account. The personal data
// is distinctive on purpose: finding any of it in an email, a log line or a
// database dump cannot be a coincidence. (Prices are 60.00 or more, so that
// no timestamp's seconds can spell one.)
func customerOrder(id int64) shopifytest.Order {
	return shopifytest.Order{
		ID:   id,
		Name: "#4711",
		Customer: &shopifytest.Customer{
			ID:             5550001234,
			FirstName:      "Wilhelmina",
			LastName:       "Quarrington",
			Email:          "wilhelmina.quarrington@example.org",
			Phone:          "+44 20 7946 0958",
			Address1:       "221B Baker Street",
			City:           "Marylebone",
			Zip:            "NW1 6XE",
			Country:        "GB",
			MarketingState: "SUBSCRIBED",
		},
		Products: []shopifytest.Product{
			{ID: 9901, Title: "Heather Linen Shirt", Handle: "heather-linen-shirt", Price: "149.95"},
			{ID: 9902, Title: "Merino Hiking Socks", Handle: "merino-hiking-socks", Price: "67.50"},
		},
		FinancialStatus: "PAID",
	}
}

// guestOrder is the same purchase made without a customer account.
func guestOrder(id int64) shopifytest.Order {
	o := customerOrder(id)
	o.Customer = nil
	o.GuestEmail = "guest.shopper.quarrington@example.net"
	return o
}

// personalData lists everything about the person behind o that must never
// leave Shopify except the address, and never be stored at all.
func personalData(o shopifytest.Order) []string {
	var pii []string
	if o.GuestEmail != "" {
		pii = append(pii, o.GuestEmail)
	}
	if c := o.Customer; c != nil {
		pii = append(pii, c.Email, c.FirstName, c.LastName, c.Phone, c.Address1, c.City, c.Zip,
			strconv.FormatInt(c.ID, 10))
	}
	for _, p := range o.Products {
		pii = append(pii, p.Price)
	}
	return pii
}

type fixture struct {
	db   *store.DB
	ring *keys.Ring
	// masterKey is ring's master key, for tests that rotate it.
	masterKey []byte
	shop      *shopifytest.Store
	sg        *sendgridtest.Server
	acts      *activities.Activities
	env       *testsuite.TestActivityEnvironment
	logs      *devenv.SyncBuffer
	order     shopifytest.Order
	reqID     string
}

// newFixture connects a shop with default settings to a fresh database, puts
// order in the Shopify stand-in, and runs the Schedule activity so the
// review request exists.
func newFixture(t testing.TB, order shopifytest.Order) *fixture {
	t.Helper()
	ctx := context.Background()
	db, _ := storetest.New(t)
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	ring, err := keys.New(master)
	if err != nil {
		t.Fatal(err)
	}
	shop := shopifytest.New(testToken, testAPIVersion)
	t.Cleanup(shop.Close)
	sg := sendgridtest.New(testSendGrid)
	t.Cleanup(sg.Close)
	sg.AuthenticateDomain(testSenderDomain)
	shop.SetOrder(order)

	sealed, err := ring.Seal([]byte(testToken), testShop)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddShop(ctx, store.Shop{Domain: testShop, TokenSealed: sealed, Settings: store.DefaultSettings(testShop)}); err != nil {
		t.Fatalf("add shop: %v", err)
	}

	acts := &activities.Activities{
		DB:        db,
		Keys:      ring,
		Mailer:    sendgrid.New(testSendGrid, sg.URL, sendgrid.From(testSender)),
		Shopify:   shopify.AdminConfig{APIVersion: testAPIVersion, BaseURL: shop.URL},
		PublicURL: testPublicURL,
	}
	logs := &devenv.SyncBuffer{}
	var suite testsuite.WorkflowTestSuite
	// Without the time: a timestamp such as 22:58:27.503 spelled the price
	// "27.50" the PII checks looked for.
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: noTime}))))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)

	f := &fixture{db: db, ring: ring, masterKey: master, shop: shop, sg: sg, acts: acts, env: env, logs: logs, order: order,
		reqID: ring.RequestID(testShop, order.ID)}
	var products []store.Product
	for _, p := range order.Products {
		products = append(products, store.Product{ID: p.ID, Title: p.Title})
	}
	if _, err := env.ExecuteActivity(acts.Schedule, activities.ScheduleInput{
		Shop: testShop, OrderID: order.ID, OrderName: order.Name, RequestID: f.reqID, Products: products,
	}); err != nil {
		t.Fatalf("schedule: %v", err)
	}
	if got := f.request(t).Status; got != store.StatusScheduled {
		t.Fatalf("after Schedule the request is %q, want scheduled", got)
	}
	return f
}

// send runs SendReviewRequest for the fixture's request.
func (f *fixture) send(t *testing.T, kind string) (activities.SendResult, error) {
	t.Helper()
	val, err := f.env.ExecuteActivity(f.acts.SendReviewRequest, activities.SendInput{
		Shop: testShop, OrderID: f.order.ID, RequestID: f.reqID, Kind: kind,
	})
	if err != nil {
		return activities.SendResult{}, err
	}
	var res activities.SendResult
	if err := val.Get(&res); err != nil {
		t.Fatalf("decode SendResult: %v", err)
	}
	return res, nil
}

func (f *fixture) mustSend(t *testing.T, kind string) activities.SendResult {
	t.Helper()
	res, err := f.send(t, kind)
	if err != nil {
		t.Fatalf("SendReviewRequest(%s): %v", kind, err)
	}
	return res
}

func (f *fixture) request(t testing.TB) store.Request {
	t.Helper()
	r, err := f.db.Request(context.Background(), f.reqID)
	if err != nil {
		t.Fatalf("load request: %v", err)
	}
	return r
}

func (f *fixture) entries(t *testing.T) []registry.Entry {
	t.Helper()
	es, err := registry.Entries(context.Background(), f.db, "")
	if err != nil {
		t.Fatalf("registry entries: %v", err)
	}
	if bad := registry.VerifyChain(es); bad != -1 {
		t.Fatalf("registry chain broken at seq %d", bad)
	}
	return es
}

// transmissions are the registry entries recording the address going to SendGrid.
func transmissions(es []registry.Entry, ref string) []registry.Entry {
	var out []registry.Entry
	for _, e := range es {
		if e.System == registry.SystemSendGrid && e.Action == registry.ActionTransmitted &&
			e.Datum == registry.DatumEmail && e.Ref == ref {
			out = append(out, e)
		}
	}
	return out
}

func (f *fixture) subject() string {
	if f.order.Customer == nil {
		return f.ring.GuestSubject(testShop, f.order.ID)
	}
	return f.ring.Subject(testShop, f.order.Customer.ID)
}

// assertNoPII fails if text holds any of pii (case-insensitively).
func assertNoPII(t *testing.T, where, text string, pii []string) {
	t.Helper()
	low := strings.ToLower(text)
	for _, p := range pii {
		if strings.Contains(low, strings.ToLower(p)) {
			t.Errorf("%s contains personal data %q", where, p)
		}
	}
}

// dumpDatabase renders every row of every table in the public schema as text.
func dumpDatabase(t *testing.T, db *store.DB) string {
	t.Helper()
	var tables []string
	if err := db.Select(&tables, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`); err != nil {
		t.Fatalf("list tables: %v", err)
	}
	for _, want := range []string{"review_requests", "registry_entries", "shops", "suppressions"} {
		if i := sort.SearchStrings(tables, want); i == len(tables) || tables[i] != want {
			t.Fatalf("table %s missing from dump (tables: %v)", want, tables)
		}
	}
	var b strings.Builder
	for _, table := range tables {
		var rows []string
		if err := db.Select(&rows, `SELECT t::text FROM `+pq.QuoteIdentifier(table)+` t`); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		b.WriteString(table + "\n" + strings.Join(rows, "\n") + "\n")
	}
	return b.String()
}

// applicationError digs the activity's ApplicationError out of the error the
// test environment returns (an *temporal.ActivityError wrapping it).
func applicationError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	if err == nil {
		t.Fatal("activity succeeded, want an error")
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error %v (%T) holds no *temporal.ApplicationError", err, err)
	}
	return appErr
}

// assertNothingSent checks the outbox is empty and the request can still be
// sent by a retry.
func assertNothingSent(t *testing.T, f *fixture, wantStatus string) {
	t.Helper()
	if out := f.sg.Outbox(); len(out) != 0 {
		t.Errorf("outbox holds %d emails, want none", len(out))
	}
	if got := f.request(t).Status; got != wantStatus {
		t.Errorf("request status = %q, want %q", got, wantStatus)
	}
}

var (
	reviewLinkRe = regexp.MustCompile(regexp.QuoteMeta(testPublicURL) + `/r/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)`)
	unsubLinkRe  = regexp.MustCompile(regexp.QuoteMeta(testPublicURL) + `/u/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)`)
)

// trackingOff reports whether tracking_settings.<setting>.<field> is present
// and false. Absent is not enough: the account's default would apply.
func trackingOff(tracking map[string]any, setting, field string) bool {
	s, ok := tracking[setting].(map[string]any)
	if !ok {
		return false
	}
	v, ok := s[field].(bool)
	return ok && !v
}

func TestSend_SendsOneMinimalEmailAndRecordsIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	c := f.order.Customer
	pii := personalData(f.order)

	res := f.mustSend(t, activities.KindFirst)
	if res != (activities.SendResult{Status: store.StatusSent}) {
		t.Fatalf("result = %+v, want sent", res)
	}

	out := f.sg.Outbox()
	if len(out) != 1 {
		t.Fatalf("outbox holds %d emails, want 1", len(out))
	}
	m := out[0]
	if !reflect.DeepEqual(m.To, []string{c.Email}) {
		t.Errorf("To = %v, want the customer's address", m.To)
	}
	if m.From != testSender || m.FromName != f.shop.ShopName || m.ReplyTo != f.shop.ContactEmail {
		t.Errorf("From %q <%s>, Reply-To %s; want Candor's sender in the shop's name (%s), replies to the shop's contact address",
			m.FromName, m.From, m.ReplyTo, f.shop.ShopName)
	}
	if !strings.Contains(m.Subject, f.order.Name) {
		t.Errorf("subject %q lacks the order name %s", m.Subject, f.order.Name)
	}
	if strings.HasPrefix(m.Subject, "Reminder:") {
		t.Errorf("first email's subject %q reads as a reminder", m.Subject)
	}

	wantProducts := map[int64]bool{}
	for _, p := range f.order.Products {
		wantProducts[p.ID] = true
	}
	var unsubURL string
	for _, part := range []struct {
		name, body string
		escape     func(string) string
	}{
		{"text", m.Text, func(s string) string { return s }}, {"html", m.HTML, html.EscapeString},
	} {
		for _, p := range f.order.Products {
			if !strings.Contains(part.body, part.escape(p.Title)) {
				t.Errorf("%s body lacks product %q", part.name, p.Title)
			}
		}
		links := reviewLinkRe.FindAllStringSubmatch(part.body, -1)
		if len(links) != len(f.order.Products) {
			t.Errorf("%s body has %d review links, want %d", part.name, len(links), len(f.order.Products))
		}
		gotProducts := map[int64]bool{}
		for _, l := range links {
			link, err := f.ring.ParseLink(l[1], keys.LinkReview, time.Now())
			if err != nil {
				t.Errorf("%s body: review link %s: %v", part.name, l[0], err)
				continue
			}
			if link.RequestID != f.reqID || link.Shop != testShop {
				t.Errorf("%s body: review link for %s/%s, want %s/%s", part.name, link.Shop, link.RequestID, testShop, f.reqID)
			}
			gotProducts[link.ProductID] = true
		}
		if !reflect.DeepEqual(gotProducts, wantProducts) {
			t.Errorf("%s body links review products %v, want %v", part.name, gotProducts, wantProducts)
		}
		unsub := unsubLinkRe.FindAllStringSubmatch(part.body, -1)
		if len(unsub) != 1 {
			t.Fatalf("%s body has %d unsubscribe links, want 1", part.name, len(unsub))
		}
		if link, err := f.ring.ParseLink(unsub[0][1], keys.LinkUnsubscribe, time.Now()); err != nil || link.RequestID != f.reqID {
			t.Errorf("%s body: unsubscribe link %+v, %v", part.name, link, err)
		}
		unsubURL = unsub[0][0]
		assertNoPII(t, part.name+" body", part.body, pii)
	}
	// The address goes to SendGrid once, as the recipient; nothing else about
	// the person goes at all, not even a display name.
	assertNoPII(t, "request body sent to SendGrid", strings.Replace(string(m.Raw), c.Email, "", 1), pii)

	if want := map[string]string{sendgrid.CustomArgRequestID: f.reqID}; !reflect.DeepEqual(m.CustomArgs, want) {
		t.Errorf("custom_args = %v, want %v", m.CustomArgs, want)
	}
	var raw struct {
		Personalizations []map[string]json.RawMessage `json:"personalizations"`
	}
	if err := json.Unmarshal(m.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	for i, p := range raw.Personalizations {
		for k := range p {
			if k != "to" {
				t.Errorf("personalization %d carries %q; only the recipient belongs there", i, k)
			}
		}
	}
	if !reflect.DeepEqual(m.Categories, []string{"review_request"}) {
		t.Errorf("categories = %v, want [review_request]", m.Categories)
	}
	if got := m.Headers["List-Unsubscribe"]; got != "<"+unsubURL+">" {
		t.Errorf("List-Unsubscribe = %q, want <%s>", got, unsubURL)
	}
	if got := m.Headers["List-Unsubscribe-Post"]; got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	for _, s := range [][2]string{{"click_tracking", "enable"}, {"click_tracking", "enable_text"}, {"open_tracking", "enable"}} {
		if !trackingOff(m.Tracking, s[0], s[1]) {
			t.Errorf("tracking_settings.%s.%s is not false: %v", s[0], s[1], m.Tracking)
		}
	}

	req := f.request(t)
	if req.Status != store.StatusSent || req.SentAt == nil {
		t.Errorf("request status = %q, sent_at = %v; want sent with a time", req.Status, req.SentAt)
	}
	if !strings.HasPrefix(req.Subject, "sub_") || req.Subject != f.subject() {
		t.Errorf("request subject = %q, want the customer's pseudonym %q", req.Subject, f.subject())
	}

	es := f.entries(t)
	tx := transmissions(es, f.reqID)
	if len(tx) != 1 {
		t.Fatalf("registry has %d sendgrid/transmitted/%s entries for the request, want 1", len(tx), registry.DatumEmail)
	}
	if tx[0].Subject != f.subject() || tx[0].LegalBasis != registry.BasisConsent || !tx[0].ExpiresAt.After(time.Now()) {
		t.Errorf("transmission entry = %+v; want subject %s, basis consent, a future expiry", tx[0], f.subject())
	}
	for _, e := range es {
		if e.Ref != f.reqID {
			t.Errorf("registry entry %d has ref %q, want the request ID", e.Seq, e.Ref)
		}
	}

	dump := dumpDatabase(t, f.db)
	if !strings.Contains(dump, f.reqID) || !strings.Contains(dump, f.subject()) {
		t.Fatal("database dump lacks the request; the PII check below would prove nothing")
	}
	assertNoPII(t, "database", dump, pii)
	if !strings.Contains(f.logs.String(), "review request sent") {
		t.Fatal("the activity's log lines were not captured; the PII check below would prove nothing")
	}
	assertNoPII(t, "logs", f.logs.String(), pii)
	if n := f.shop.Calls("CandorRecipient"); n != 1 {
		t.Errorf("recipient read %d times, want 1", n)
	}
}

func TestSend_SecondRunDoesNotSendAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("first run = %+v, want sent", res)
	}
	res := f.mustSend(t, activities.KindFirst)
	if want := (activities.SendResult{Status: store.StatusSent, Reason: review.ReasonAlreadySent}); res != want {
		t.Errorf("second run = %+v, want %+v", res, want)
	}
	assertOneEmail(t, f)
}

// assertOneEmail checks that the request's address was read once, recorded
// as transmitted once, and emailed once.
func assertOneEmail(t *testing.T, f *fixture) {
	t.Helper()
	if out := f.sg.Outbox(); len(out) != 1 {
		t.Errorf("outbox holds %d emails, want exactly 1", len(out))
	}
	if n := f.shop.Calls("CandorRecipient"); n != 1 {
		t.Errorf("recipient read %d times, want 1 (a later run has no reason to read it)", n)
	}
	if n := len(transmissions(f.entries(t), f.reqID)); n != 1 {
		t.Errorf("registry records %d transmissions, want 1", n)
	}
}

// assertSkipped runs the send and checks it ends skipped for reason without
// an email, without reading the address, and without recording a
// transmission; a second run reports the same outcome.
func assertSkipped(t *testing.T, f *fixture, reason review.Reason) {
	t.Helper()
	want := activities.SendResult{Status: store.StatusSkipped, Reason: reason}
	if res := f.mustSend(t, activities.KindFirst); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	req := f.request(t)
	if req.Status != store.StatusSkipped || req.Reason != string(reason) {
		t.Errorf("request is %s/%q, want skipped/%q", req.Status, req.Reason, reason)
	}
	if out := f.sg.Outbox(); len(out) != 0 {
		t.Errorf("outbox holds %d emails, want none", len(out))
	}
	if n := f.shop.Calls("CandorRecipient"); n != 0 {
		t.Errorf("recipient read %d times for an ineligible order, want 0", n)
	}
	if n := len(transmissions(f.entries(t), f.reqID)); n != 0 {
		t.Errorf("registry records %d transmissions for a skipped request", n)
	}
	if res := f.mustSend(t, activities.KindFirst); res != want {
		t.Errorf("second run = %+v, want %+v", res, want)
	}
	if out := f.sg.Outbox(); len(out) != 0 {
		t.Errorf("second run sent %d emails", len(out))
	}
	assertNoPII(t, "logs", f.logs.String(), personalData(f.order))
}

func TestSend_CancelledOrderSendsNothing(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	o.Cancelled = true
	f := newFixture(t, o)
	assertSkipped(t, f, review.ReasonCancelled)
}

func TestSend_RefundedOrderSendsNothing(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	o.FinancialStatus = "REFUNDED"
	f := newFixture(t, o)
	assertSkipped(t, f, review.ReasonRefunded)
}

func TestSend_CustomerWithoutConsentSendsNothingWhenConsentRequired(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	o.Customer.MarketingState = "NOT_SUBSCRIBED"
	f := newFixture(t, o)
	assertSkipped(t, f, review.ReasonNoConsent)
	if got := f.request(t).Subject; got != f.subject() {
		t.Errorf("request subject = %q, want the customer's pseudonym %q", got, f.subject())
	}
}

func TestSend_GuestCheckoutSendsNothingWhenConsentRequired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, guestOrder(testOrderID))
	assertSkipped(t, f, review.ReasonNoConsent)
	if got, want := f.request(t).Subject, f.ring.GuestSubject(testShop, testOrderID); got != want {
		t.Errorf("request subject = %q, want the guest pseudonym %q", got, want)
	}
}

func TestSend_SuppressedCustomerSendsNothingAndTheSkipSaysWhy(t *testing.T) {
	t.Parallel()
	for suppression, want := range map[string]review.Reason{
		"unsubscribe_link":     review.ReasonUnsubscribed,
		"sendgrid_unsubscribe": review.ReasonUnsubscribed,
		"sendgrid_bounce":      review.ReasonUndeliverable,
		"sendgrid_invalid":     review.ReasonUndeliverable,
		"sendgrid_spamreport":  review.ReasonSpamReport,
		"erasure":              review.ReasonErased,
	} {
		t.Run(suppression, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, customerOrder(testOrderID))
			if _, err := store.Suppress(context.Background(), f.db, testShop, f.ring.Subject(testShop, f.order.Customer.ID), suppression); err != nil {
				t.Fatal(err)
			}
			assertSkipped(t, f, want)
		})
	}
}

// The stand-in answers `order: null` only for an order whose ID is 0:
// SetOrder keys orders by their ID, and any other ID falls back to a demo
// order. So the request here is for order 0.
func TestSend_OrderMissingInShopifySendsNothing(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	f := newFixture(t, o)
	f.shop.DeleteOrder(o.ID) // deleted in Shopify after fulfillment
	assertSkipped(t, f, review.ReasonOrderNotFound)
	if n := f.shop.Calls("CandorOrderStatus"); n == 0 {
		t.Error("the order was never looked up; the test proves nothing")
	}
	for _, e := range f.entries(t) {
		if e.System == registry.SystemShopify {
			t.Errorf("registry records a Shopify read (%s) though no order was found", e.Datum)
		}
	}
}

func TestSend_ConsentNotRequiredSendsToCustomerWithoutConsent(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	o.Customer.MarketingState = "NOT_SUBSCRIBED"
	f := newFixture(t, o)
	st := store.DefaultSettings(testShop)
	st.ConsentMode = store.ConsentNone
	if err := f.db.UpdateSettings(context.Background(), testShop, st); err != nil {
		t.Fatal(err)
	}
	if res := f.mustSend(t, activities.KindFirst); res != (activities.SendResult{Status: store.StatusSent}) {
		t.Fatalf("result = %+v, want sent", res)
	}
	out := f.sg.Outbox()
	if len(out) != 1 || !reflect.DeepEqual(out[0].To, []string{o.Customer.Email}) {
		t.Fatalf("outbox = %d emails, want 1 to the customer", len(out))
	}
	tx := transmissions(f.entries(t), f.reqID)
	if len(tx) != 1 || tx[0].LegalBasis != registry.BasisLegitimateInterest {
		t.Errorf("transmission entries = %+v, want one with basis %s", tx, registry.BasisLegitimateInterest)
	}
}

func TestSend_ShopifyRateLimitIsRetriedAfterRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.shop.FailNext(1, 429, "7")
	_, err := f.send(t, activities.KindFirst)
	appErr := applicationError(t, err)
	if appErr.Type() != review.ErrShopifyRetry || appErr.NonRetryable() {
		t.Errorf("error type %q, non-retryable %v; want retryable %s", appErr.Type(), appErr.NonRetryable(), review.ErrShopifyRetry)
	}
	if got := appErr.NextRetryDelay(); got != 7*time.Second {
		t.Errorf("next retry delay = %v, want Shopify's Retry-After of 7s", got)
	}
	assertNoPII(t, "error", err.Error(), personalData(f.order))
	assertNothingSent(t, f, store.StatusScheduled)

	// The retry Temporal would make then sends.
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("retry = %+v, want sent", res)
	}
	if out := f.sg.Outbox(); len(out) != 1 {
		t.Errorf("outbox holds %d emails after the retry, want 1", len(out))
	}
}

// An empty query cost bucket is waited out within the activity, for as
// long as Shopify's throttle status says, and the email is then sent.
func TestSend_ShopifyThrottleIsWaitedOutThenSends(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.shop.SetPlan(shopifytest.PlanPlus) // restores 1,000 points a second
	f.shop.SetBucketAvailable(0)
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("send with an empty bucket = %+v, want sent", res)
	}
	if f.shop.Throttled() == 0 {
		t.Fatal("the stand-in never throttled: the test did not empty the bucket")
	}
	if out := f.sg.Outbox(); len(out) != 1 {
		t.Errorf("outbox holds %d emails, want 1", len(out))
	}
}

// A query Shopify prices over its maximum is a bug in Candor's query: the
// activity fails at once, names the query and is never retried.
func TestSend_ShopifyQueryOverTheMaximumCostIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.shop.SetFieldCost("order.customer", 2000)
	_, err := f.send(t, activities.KindFirst)
	appErr := applicationError(t, err)
	if appErr.Type() != review.ErrShopifyQueryCost || !appErr.NonRetryable() {
		t.Errorf("error type %q, non-retryable %v; want non-retryable %s", appErr.Type(), appErr.NonRetryable(), review.ErrShopifyQueryCost)
	}
	if !strings.Contains(err.Error(), "CandorOrderStatus") {
		t.Errorf("error %q does not name the query", err)
	}
	assertNoPII(t, "error", err.Error(), personalData(f.order))
	assertNothingSent(t, f, store.StatusScheduled)
}

func TestSend_ShopifyRejectedTokenIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	wrong, err := f.ring.Seal([]byte("shpat_revoked_token"), testShop)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(`UPDATE shops SET access_token_sealed = $1 WHERE domain = $2`, wrong, testShop); err != nil {
		t.Fatal(err)
	}
	_, err = f.send(t, activities.KindFirst)
	appErr := applicationError(t, err)
	if appErr.Type() != review.ErrShopifyRejected || !appErr.NonRetryable() {
		t.Errorf("error type %q, non-retryable %v; want non-retryable %s", appErr.Type(), appErr.NonRetryable(), review.ErrShopifyRejected)
	}
	assertNoPII(t, "error", err.Error(), personalData(f.order))
	assertNothingSent(t, f, store.StatusScheduled)
}

// A 503 is SendGrid's "The v3 Web API is not available": nothing was queued.
func TestSend_SendGridUnavailableLeavesRequestForRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.sg.FailNext(1, 503)
	_, err := f.send(t, activities.KindFirst)
	appErr := applicationError(t, err)
	if appErr.Type() != review.ErrSendGridRetry || appErr.NonRetryable() {
		t.Errorf("error type %q, non-retryable %v; want retryable %s", appErr.Type(), appErr.NonRetryable(), review.ErrSendGridRetry)
	}
	assertNoPII(t, "error", err.Error(), personalData(f.order))
	assertNothingSent(t, f, store.StatusScheduled)

	if res := f.mustSend(t, activities.KindFirst); res != (activities.SendResult{Status: store.StatusSent}) {
		t.Fatalf("retry = %+v, want sent", res)
	}
	if out := f.sg.Outbox(); len(out) != 1 {
		t.Errorf("outbox holds %d emails after the retry, want exactly 1", len(out))
	}
	if got := f.request(t).Status; got != store.StatusSent {
		t.Errorf("request status = %q, want sent", got)
	}
	assertNoPII(t, "logs", f.logs.String(), personalData(f.order))
}

func TestSend_SendGridRejectionFailsTheRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.sg.FailNext(1, 400)
	res, err := f.send(t, activities.KindFirst)
	if err != nil {
		t.Fatalf("a rejection is an outcome, not an error: %v", err)
	}
	if want := (activities.SendResult{Status: store.StatusFailed, Reason: review.ReasonRejected + "_400"}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	req := f.request(t)
	if req.Status != store.StatusFailed || !strings.HasPrefix(req.Reason, string(review.ReasonRejected)) {
		t.Errorf("request is %s/%q, want failed/%s…", req.Status, req.Reason, review.ReasonRejected)
	}
	if out := f.sg.Outbox(); len(out) != 0 {
		t.Errorf("outbox holds %d emails, want none", len(out))
	}
	if res, _ := f.send(t, activities.KindFirst); res.Status != store.StatusFailed {
		t.Errorf("second run = %+v, want failed", res)
	}
	if out := f.sg.Outbox(); len(out) != 0 {
		t.Errorf("second run sent %d emails", len(out))
	}
	assertNoPII(t, "logs", f.logs.String(), personalData(f.order))
}

// assertSentUnconfirmed checks that the attempt's result res and the request
// say sent_unconfirmed, with exactly one email in the outbox and one
// recorded transmission, and that a further attempt sends no second email.
func assertSentUnconfirmed(t *testing.T, f *fixture, res activities.SendResult) {
	t.Helper()
	want := activities.SendResult{Status: store.StatusSentUnconfirmed, Reason: review.ReasonOutcomeUnknown}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	req := f.request(t)
	if req.Status != store.StatusSentUnconfirmed || req.Reason != string(review.ReasonOutcomeUnknown) {
		t.Errorf("request is %s/%q, want %s/%s", req.Status, req.Reason, store.StatusSentUnconfirmed, review.ReasonOutcomeUnknown)
	}
	if req.SentAt == nil {
		t.Error("sent_at is empty: retention would not treat the unconfirmed send as a send")
	}
	if res := f.mustSend(t, activities.KindFirst); res != want {
		t.Errorf("another attempt = %+v, want %+v", res, want)
	}
	assertOneEmail(t, f)
	assertNoPII(t, "logs", f.logs.String(), personalData(f.order))
}

// TestSend_AcceptedThen5xxIsOneEmailSentUnconfirmed: SendGrid queues the
// mail and a gateway (or SendGrid itself) answers 5xx. That is not "not
// accepted": the email is out once, the request says sent_unconfirmed, and
// no retry sends a second.
func TestSend_AcceptedThen5xxIsOneEmailSentUnconfirmed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{500, 502, 504} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, customerOrder(testOrderID))
			f.sg.AcceptThenFail(1, status)
			res, err := f.send(t, activities.KindFirst)
			if err != nil {
				t.Fatalf("an unknown outcome is an outcome, not an error to retry: %v", err)
			}
			assertSentUnconfirmed(t, f, res)
		})
	}
}

// TestSend_AttemptThatDiedAfterAcceptanceIsRecordedSentUnconfirmed: the
// first attempt moves the request to sending and SendGrid accepts the mail,
// then the attempt ends before it records anything (here: Postgres refuses
// every change of the row after the mail is out, as if the worker died).
// The retry (attempt 2) finds "sending": it must not send again, and it
// records the request as sent_unconfirmed, not failed.
func TestSend_AttemptThatDiedAfterAcceptanceIsRecordedSentUnconfirmed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	ctx := context.Background()
	if _, err := f.db.ExecContext(ctx, `
		CREATE FUNCTION test_die_after_send() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'worker died'; END $$;
		CREATE TRIGGER test_die_after_send BEFORE UPDATE ON review_requests
		FOR EACH ROW WHEN (OLD.status = 'sending' AND NEW.status <> 'sending') EXECUTE FUNCTION test_die_after_send();`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.send(t, activities.KindFirst); err == nil {
		t.Fatal("the first attempt succeeded; the fault was not injected after the mail went out")
	}
	if out := f.sg.Outbox(); len(out) != 1 {
		t.Fatalf("after the first attempt the outbox holds %d emails, want 1 (accepted before the fault)", len(out))
	}
	if got := f.request(t).Status; got != store.StatusSending {
		t.Fatalf("after the first attempt the request is %q, want sending", got)
	}
	if _, err := f.db.ExecContext(ctx, `DROP TRIGGER test_die_after_send ON review_requests`); err != nil {
		t.Fatal(err)
	}
	assertSentUnconfirmed(t, f, f.mustSend(t, activities.KindFirst))
}

// TestSend_StoresSendGridMessageID: the X-Message-Id of SendGrid's 202 is
// kept with the request, for the first email and the reminder.
func TestSend_StoresSendGridMessageID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.mustSend(t, activities.KindFirst)
	f.mustSend(t, activities.KindReminder)
	out := f.sg.Outbox()
	if len(out) != 2 {
		t.Fatalf("outbox holds %d emails, want 2", len(out))
	}
	req := f.request(t)
	if req.MessageID == "" || req.MessageID != out[0].MessageID {
		t.Errorf("message_id = %q, want SendGrid's %q", req.MessageID, out[0].MessageID)
	}
	if req.ReminderMessageID == "" || req.ReminderMessageID != out[1].MessageID {
		t.Errorf("reminder_message_id = %q, want SendGrid's %q", req.ReminderMessageID, out[1].MessageID)
	}
}

func TestSend_ReminderFollowsASentFirstEmail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("first email = %+v, want sent", res)
	}
	if res := f.mustSend(t, activities.KindReminder); res != (activities.SendResult{Status: store.StatusSent}) {
		t.Fatalf("reminder = %+v, want sent", res)
	}
	out := f.sg.Outbox()
	if len(out) != 2 {
		t.Fatalf("outbox holds %d emails, want 2", len(out))
	}
	r := out[1]
	if !strings.HasPrefix(r.Subject, "Reminder:") || !strings.Contains(r.Subject, f.order.Name) {
		t.Errorf("reminder subject = %q, want Reminder: … %s", r.Subject, f.order.Name)
	}
	if !reflect.DeepEqual(r.To, []string{f.order.Customer.Email}) {
		t.Errorf("reminder To = %v", r.To)
	}
	req := f.request(t)
	if req.Status != store.StatusSent || req.ReminderStatus != store.StatusSent || req.ReminderSentAt == nil {
		t.Errorf("request is %s, reminder %s at %v; want both sent", req.Status, req.ReminderStatus, req.ReminderSentAt)
	}
	if n := len(transmissions(f.entries(t), f.reqID)); n != 2 {
		t.Errorf("registry records %d transmissions, want 2", n)
	}
	if res := f.mustSend(t, activities.KindReminder); res.Reason != review.ReasonAlreadySent {
		t.Errorf("second reminder run = %+v, want already_sent", res)
	}
	if out := f.sg.Outbox(); len(out) != 2 {
		t.Errorf("outbox holds %d emails after a repeated reminder, want 2", len(out))
	}
}

func TestSend_ReminderBeforeFirstEmailIsSkipped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	res := f.mustSend(t, activities.KindReminder)
	if want := (activities.SendResult{Status: store.StatusSkipped, Reason: review.ReasonNotSent}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if out := f.sg.Outbox(); len(out) != 0 {
		t.Errorf("outbox holds %d emails, want none", len(out))
	}
	req := f.request(t)
	if req.Status != store.StatusScheduled || req.ReminderStatus != "" {
		t.Errorf("request is %s, reminder %q; want it untouched (scheduled, no reminder)", req.Status, req.ReminderStatus)
	}
}

// A customer who unsubscribes after the first email gets no reminder, and a
// repeated run (an activity retry) reports the same reason.
func TestSend_ReminderAfterUnsubscribeSendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("first email = %+v, want sent", res)
	}
	if _, err := store.Suppress(context.Background(), f.db, testShop, f.subject(), "unsubscribe_link"); err != nil {
		t.Fatal(err)
	}
	want := activities.SendResult{Status: store.StatusSkipped, Reason: review.ReasonUnsubscribed}
	if res := f.mustSend(t, activities.KindReminder); res != want {
		t.Errorf("reminder = %+v, want %+v", res, want)
	}
	if out := f.sg.Outbox(); len(out) != 1 {
		t.Errorf("outbox holds %d emails, want only the first", len(out))
	}
	if got := f.request(t).ReminderStatus; got != store.StatusSkipped {
		t.Errorf("reminder status = %q, want skipped", got)
	}
	if res := f.mustSend(t, activities.KindReminder); res != want {
		t.Errorf("repeated reminder run = %+v, want %+v", res, want)
	}
}

// A failed suppression lookup must not send, but it must not end the request
// either: nobody unsubscribed, and a retry once the database answers can send.
func TestSend_SuppressionLookupFailureIsRetriedNotSkipped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	if _, err := f.db.Exec(`ALTER TABLE suppressions RENAME TO suppressions_unreachable`); err != nil {
		t.Fatal(err)
	}
	res, err := f.send(t, activities.KindFirst)
	if err == nil {
		t.Errorf("result = %+v with the suppression list unreadable, want a retryable error", res)
	} else if appErr := applicationError(t, err); appErr.NonRetryable() {
		t.Errorf("error %v is non-retryable", err)
	}
	assertNothingSent(t, f, store.StatusScheduled)

	if _, err := f.db.Exec(`ALTER TABLE suppressions_unreachable RENAME TO suppressions`); err != nil {
		t.Fatal(err)
	}
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Errorf("retry = %+v, want sent", res)
	}
}

func TestSend_ExplicitMarketingOptOutIsRespectedWithoutConsentRequirement(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	o.Customer.MarketingState = "UNSUBSCRIBED"
	f := newFixture(t, o)
	st := store.DefaultSettings(testShop)
	st.ConsentMode = store.ConsentNone
	if err := f.db.UpdateSettings(context.Background(), testShop, st); err != nil {
		t.Fatal(err)
	}
	assertSkipped(t, f, review.ReasonOptedOut)
}

// SendGrid refuses a From address that is no Sender Identity of the account
// with a 403. That is a final outcome, shown to the merchant: the request
// fails as sender_unverified at once, is not retried as a key problem, and
// sends nothing.
func TestSend_UnverifiedSenderFailsOnceAndIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.acts.Mailer = sendgrid.New(testSendGrid, f.sg.URL, sendgrid.From("reviews@"+testShop)) // the shop's own address: not verified
	res, err := f.send(t, activities.KindFirst)
	if err != nil {
		t.Fatalf("a refused sender is an outcome, not an error to retry: %v", err)
	}
	if want := (activities.SendResult{Status: store.StatusFailed, Reason: review.ReasonSenderUnverified}); res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	if req := f.request(t); req.Status != store.StatusFailed || req.Reason != string(review.ReasonSenderUnverified) {
		t.Errorf("request is %s/%q, want failed/%s", req.Status, req.Reason, review.ReasonSenderUnverified)
	}
	if res, err := f.send(t, activities.KindFirst); err != nil || res.Status != store.StatusFailed {
		t.Errorf("second run = %+v, %v; want failed", res, err)
	}
	if n := f.sg.Sent(); n != 0 {
		t.Errorf("the stand-in accepted %d emails, want none", n)
	}
	assertNoPII(t, "logs", f.logs.String(), personalData(f.order))
}

// A review destination saved before destinations were checked, off the
// shop's domains: no email links to it, and the address is never read.
func TestSend_OffDomainReviewDestinationSendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	if _, err := f.db.Exec(`UPDATE shops SET review_url_template = 'https://evil.example/p/{handle}' WHERE domain = $1`, testShop); err != nil {
		t.Fatal(err)
	}
	assertSkipped(t, f, review.ReasonReviewURLRefused) // and the recipient is never read
	// The shop's primary domain, as Shopify reports it, is the shop's own.
	g := newFixture(t, customerOrder(testOrderID))
	if _, err := g.db.Exec(`UPDATE shops SET review_url_template = $2 WHERE domain = $1`, testShop, "https://"+g.shop.PrimaryDomain+"/products/{handle}"); err != nil {
		t.Fatal(err)
	}
	if res := g.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("primary domain: %+v", res)
	}
}

func TestSend_RejectedSendGridKeyIsRetriedNotFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.sg.FailNext(1, 401)
	_, err := f.send(t, activities.KindFirst)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.NonRetryable() || appErr.Type() != review.ErrSendGridRetry {
		t.Fatalf("err = %v, want a retryable %s", err, review.ErrSendGridRetry)
	}
	if req := f.request(t); req.Status != store.StatusScheduled {
		t.Fatalf("request status %q after a rejected key, want scheduled", req.Status)
	}
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("retry after the key is fixed: %+v", res)
	}
}

// TestMarkFailed_ARequestLeftSendingIsSentUnconfirmed: when the send's
// retries run out with the request still "sending", the address may have
// reached SendGrid; the workflow's MarkFailed records that truthfully. A
// request that never got that far is failed.
func TestMarkFailed_ARequestLeftSendingIsSentUnconfirmed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	if _, err := f.db.Exec(`UPDATE review_requests SET status = 'sending' WHERE request_id = $1`, f.reqID); err != nil {
		t.Fatal(err)
	}
	if got := markFailed(t, f); got != store.StatusSentUnconfirmed {
		t.Errorf("MarkFailed reports %q, want %s", got, store.StatusSentUnconfirmed)
	}
	if r := f.request(t); r.Status != store.StatusSentUnconfirmed || r.Reason != string(review.ReasonOutcomeUnknown) || r.SentAt == nil {
		t.Errorf("request left sending is %s/%q (sent_at %v), want %s/%s with sent_at", r.Status, r.Reason, r.SentAt,
			store.StatusSentUnconfirmed, review.ReasonOutcomeUnknown)
	}

	g := newFixture(t, customerOrder(testOrderID+1))
	if got := markFailed(t, g); got != store.StatusFailed {
		t.Errorf("MarkFailed reports %q, want %s", got, store.StatusFailed)
	}
	if r := g.request(t); r.Status != store.StatusFailed || r.Reason != "send_failed" {
		t.Errorf("scheduled request is %s/%q, want failed/send_failed", r.Status, r.Reason)
	}
}

func markFailed(t *testing.T, f *fixture) string {
	t.Helper()
	v, err := f.env.ExecuteActivity(f.acts.MarkFailed, f.reqID, review.ReasonSendFailed)
	if err != nil {
		t.Fatal(err)
	}
	var recorded string
	if err := v.Get(&recorded); err != nil {
		t.Fatal(err)
	}
	return recorded
}
