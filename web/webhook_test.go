package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
	"github.com/candorhq/candor/workflows"
)

const (
	secret = "shpss_test_secret"
	shop   = "acme.myshopify.com"
)

var temporalAddr string

func TestMain(m *testing.M) { devenv.RunWithTemporal(m, &temporalAddr) }

type env struct {
	db    *store.DB
	dbURL string
	tc    client.Client
	ring  *keys.Ring
	keys  *datakeys.Keys
	url   string
	logs  *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, dbURL := storetest.New(t)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	dk := datakeys.New(db, ring)
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		DataConverter: dk.DataConverter(workflows.DataKeyOwner(ring))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	sealed, _ := ring.Seal([]byte("shpat_x"), shop)
	if err := db.AddShop(context.Background(), store.Shop{Domain: shop, TokenSealed: sealed, Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, dbURL: dbURL, tc: tc, ring: ring, keys: dk, logs: &bytes.Buffer{}}
	e.url = e.serve(t, tc, db)
	return e
}

func (e *env) serve(t *testing.T, tc client.Client, db *store.DB) string {
	t.Helper()
	srv := &web.Server{DB: db, Temporal: tc, Keys: e.ring, DataKeys: e.keys, ShopifySecret: secret,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)), TemporalRetention: 24 * time.Hour}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL + "/webhooks/shopify"
}

type delivery struct {
	topic, shop, id, hmac string
	body                  []byte
	noHMAC                bool
	noShopHeader          bool
}

func (e *env) post(t *testing.T, url string, d delivery) (int, string) {
	t.Helper()
	if d.shop == "" {
		d.shop = shop
	}
	if d.id == "" {
		d.id = shopifytest.NewWebhookID()
	}
	req, _ := shopifytest.WebhookRequest(url, d.topic, d.shop, secret, d.id, d.body)
	if d.hmac != "" {
		req.Header.Set(shopify.HeaderHMAC, d.hmac)
	}
	if d.noHMAC {
		req.Header.Del(shopify.HeaderHMAC)
	}
	if d.noShopHeader {
		req.Header.Del(shopify.HeaderShop)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func (e *env) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) workflowExists(t *testing.T, orderID int64) bool {
	t.Helper()
	_, err := e.tc.DescribeWorkflowExecution(context.Background(), review.WorkflowID(shop, orderID), "")
	if _, ok := err.(*serviceerror.NotFound); ok {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// nothingWritten asserts a rejected delivery left no trace.
func (e *env) nothingWritten(t *testing.T, orderID int64) {
	t.Helper()
	if n := e.count(t, "webhook_deliveries"); n != 0 {
		t.Errorf("%d webhook_deliveries rows written", n)
	}
	if n := e.count(t, "registry_entries"); n != 0 {
		t.Errorf("%d registry entries written", n)
	}
	if orderID != 0 && e.workflowExists(t, orderID) {
		t.Errorf("workflow for order %d was started", orderID)
	}
}

var orderSeq = time.Now().UnixNano() % 1_000_000_000

func nextOrder() shopifytest.Order {
	orderSeq++
	return shopifytest.DemoOrder(orderSeq)
}

func TestWebhook_BadInputIsRejectedAndNothingIsWritten(t *testing.T) {
	e := newEnv(t)
	o := nextOrder()
	good := shopifytest.FulfillmentPayload(o, "")
	tampered := bytes.Replace(good, []byte(`"status":"success"`), []byte(`"status":"cancelled"`), 1)
	otherSig := shopify.Sign("another-secret", good)
	big := append([]byte(`{"id":1,"order_id":1,"pad":"`), bytes.Repeat([]byte("x"), shopify.MaxWebhookBody)...)
	big = append(big, `"}`...)

	cases := []struct {
		name   string
		d      delivery
		status int
		msg    string
	}{
		{"missing HMAC", delivery{topic: shopify.TopicFulfillmentCreate, body: good, noHMAC: true}, 401, "HMAC"},
		{"HMAC from another secret", delivery{topic: shopify.TopicFulfillmentCreate, body: good, hmac: otherSig}, 401, "HMAC"},
		{"HMAC not base64", delivery{topic: shopify.TopicFulfillmentCreate, body: good, hmac: "%%%"}, 401, "HMAC"},
		{"body changed after signing", delivery{topic: shopify.TopicFulfillmentCreate, body: tampered, hmac: shopify.Sign(secret, good)}, 401, "HMAC"},
		{"body over 1 MiB", delivery{topic: shopify.TopicFulfillmentCreate, body: big}, 413, "1 MiB"},
		{"malformed JSON", delivery{topic: shopify.TopicFulfillmentCreate, body: []byte(`{"id": 1, "order_id": `)}, 400, "malformed JSON"},
		{"JSON of the wrong type", delivery{topic: shopify.TopicFulfillmentCreate, body: []byte(`{"id":"x","order_id":1}`)}, 400, "wrong type"},
		{"fulfillment without order_id", delivery{topic: shopify.TopicFulfillmentCreate, body: []byte(`{"id":5,"status":"success","line_items":[]}`)}, 400, "order_id"},
		{"fulfillment without line_items", delivery{topic: shopify.TopicFulfillmentCreate, body: []byte(`{"id":5,"order_id":6,"status":"success"}`)}, 400, "line_items"},
		{"line item without title", delivery{topic: shopify.TopicFulfillmentCreate, body: []byte(`{"id":5,"order_id":6,"status":"success","line_items":[{"product_id":9}]}`)}, 400, "title"},
		{"order without id", delivery{topic: shopify.TopicOrderFulfilled, body: []byte(`{"name":"#1","line_items":[]}`)}, 400, "order id"},
		{"refund without order_id", delivery{topic: shopify.TopicRefundCreate, body: []byte(`{"id":3}`)}, 400, "order_id"},
		{"shop header not myshopify", delivery{topic: shopify.TopicFulfillmentCreate, body: good, shop: "evil.com"}, 400, "myshopify"},
		{"shop header with suffix", delivery{topic: shopify.TopicFulfillmentCreate, body: good, shop: "a.myshopify.com.evil.com"}, 400, "myshopify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, msg := e.post(t, e.url, c.d)
			if status != c.status || !strings.Contains(msg, c.msg) {
				t.Fatalf("got %d %q, want %d containing %q", status, msg, c.status, c.msg)
			}
			for _, pii := range []string{o.Customer.Email, o.Customer.LastName} {
				if strings.Contains(msg, pii) {
					t.Fatalf("error message echoes personal data: %q", msg)
				}
			}
		})
	}
	e.nothingWritten(t, o.ID)

	t.Run("missing webhook id", func(t *testing.T) {
		req, _ := shopifytest.WebhookRequest(e.url, shopify.TopicFulfillmentCreate, shop, secret, "", good)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	e.nothingWritten(t, o.ID)
	if strings.Contains(e.logs.String(), o.Customer.Email) {
		t.Fatal("logs contain the customer's email")
	}
}

func TestWebhook_UnknownShopAndUnknownTopicAreIgnoredWithNoDataKept(t *testing.T) {
	e := newEnv(t)
	o := nextOrder()
	status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentCreate, shop: "stranger.myshopify.com", body: shopifytest.FulfillmentPayload(o, "")})
	if status != 200 || !strings.Contains(msg, "not connected") {
		t.Fatalf("unknown shop: %d %q", status, msg)
	}
	status, msg = e.post(t, e.url, delivery{topic: "customers/create", body: []byte(`{"id":1,"email":"x@example.com"}`)})
	if status != 200 || !strings.Contains(msg, "ignored") {
		t.Fatalf("unknown topic: %d %q", status, msg)
	}
	e.nothingWritten(t, o.ID)
	if _, err := e.tc.DescribeWorkflowExecution(context.Background(), review.WorkflowID("stranger.myshopify.com", o.ID), ""); err == nil {
		t.Fatal("workflow started for an unknown shop")
	}
}

func TestWebhook_FulfillmentStartsOneWorkflowWithoutPersonalData(t *testing.T) {
	e := newEnv(t)
	o := nextOrder()
	body := shopifytest.FulfillmentPayload(o, "")
	id := shopifytest.NewWebhookID()
	status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentCreate, body: body, id: id})
	if status != 200 || msg != "started" {
		t.Fatalf("first delivery: %d %q", status, msg)
	}
	// The same delivery again, and the same order under a new webhook ID.
	if status, msg = e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentCreate, body: body, id: id}); status != 200 || msg != "duplicate delivery" {
		t.Fatalf("same webhook ID: %d %q", status, msg)
	}
	// The running request is told (and ignores a shipment it knows).
	if status, msg = e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentCreate, body: body}); status != 200 || msg != "signalled" {
		t.Fatalf("same order, new webhook ID: %d %q", status, msg)
	}

	// The history holds ciphertext under the request's own data key; only
	// the codec reads it.
	wid := review.WorkflowID(shop, o.ID)
	raw, _, err := devenv.HistoryText(context.Background(), e.tc, wid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, o.Products[0].Title) || strings.Contains(raw, o.Name) {
		t.Fatalf("the raw history holds the order in clear text")
	}
	var keyID string
	if err := e.db.Get(&keyID, `SELECT id FROM data_keys WHERE shop = $1 AND owner = $2`, shop, e.ring.RequestID(shop, o.ID)); err != nil {
		t.Fatalf("no data key for the request: %v", err)
	}
	if !strings.Contains(raw, base64.StdEncoding.EncodeToString([]byte(keyID))) {
		t.Fatalf("the history's payloads do not name the request's key %s", keyID)
	}
	h, sealed, err := devenv.HistoryText(context.Background(), e.tc, wid, e.keys.Codec("", datakeys.ServiceOwner))
	if err != nil || sealed != 0 {
		t.Fatalf("decode: %d payloads left sealed, %v", sealed, err)
	}
	if !strings.Contains(h, o.Products[0].Title) || !strings.Contains(h, o.Name) {
		t.Fatalf("decoded history lacks the order name and product title, so the search below proves nothing: %.300s", h)
	}
	for _, pii := range []string{o.Customer.Email, o.Customer.FirstName, o.Customer.LastName, o.Customer.Phone, o.Customer.Address1, "89.00"} {
		if strings.Contains(h, pii) {
			t.Errorf("workflow history contains %q", pii)
		}
	}
	if n := e.count(t, "webhook_deliveries"); n != 2 {
		t.Errorf("webhook_deliveries = %d, want 2 (two distinct webhook IDs)", n)
	}
}

func TestWebhook_ShipmentAndStopTopics(t *testing.T) {
	e := newEnv(t)
	o := nextOrder()
	// Not yet successful: acknowledged, nothing started.
	failed := bytes.Replace(shopifytest.FulfillmentPayload(o, ""), []byte(`"status":"success"`), []byte(`"status":"failure"`), 1)
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentCreate, body: failed}); status != 200 || !strings.Contains(msg, "ignored") {
		t.Fatalf("failed fulfillment: %d %q", status, msg)
	}
	// In transit is not delivered.
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentUpdate, body: shopifytest.FulfillmentPayload(o, "in_transit")}); status != 200 || !strings.Contains(msg, "ignored") {
		t.Fatalf("in transit: %d %q", status, msg)
	}
	// A cancel for an order with no request is acknowledged and ignored.
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicOrderCancelled, body: shopifytest.OrderPayload(o)}); status != 200 || msg != "ignored" {
		t.Fatalf("cancel without request: %d %q", status, msg)
	}
	if e.workflowExists(t, o.ID) {
		t.Fatal("a workflow was started")
	}
	// Delivered with no fulfillment event seen: starts the request, delivered.
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentUpdate, body: shopifytest.FulfillmentPayload(o, "delivered")}); status != 200 || msg != "started" {
		t.Fatalf("delivered first: %d %q", status, msg)
	}
	// Then delivered again and refund: signals to the running workflow.
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentUpdate, body: shopifytest.FulfillmentPayload(o, "delivered")}); status != 200 || msg != "signalled" {
		t.Fatalf("delivered again: %d %q", status, msg)
	}
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicRefundCreate, body: shopifytest.RefundPayload(o)}); status != 200 || msg != "signalled" {
		t.Fatalf("refund: %d %q", status, msg)
	}
}

func TestWebhook_UnavailableDependencyGets503AndNothingHalfWritten(t *testing.T) {
	e := newEnv(t)
	o := nextOrder()
	body := shopifytest.FulfillmentPayload(o, "")
	dead, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		ConnectionOptions: client.ConnectionOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	url := e.serve(t, dead, e.db)
	id := shopifytest.NewWebhookID()
	if status, _ := e.post(t, url, delivery{topic: shopify.TopicFulfillmentCreate, body: body, id: id}); status != 503 {
		t.Fatalf("Temporal down: status %d, want 503", status)
	}
	e.nothingWritten(t, o.ID)
	// Shopify retries the same delivery once Temporal is back: it must not
	// be mistaken for a duplicate.
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentCreate, body: body, id: id}); status != 200 || msg != "started" {
		t.Fatalf("retry after outage: %d %q", status, msg)
	}

	// Postgres down.
	db2, _ := storetest.New(t)
	sealed, _ := e.ring.Seal([]byte("shpat_x"), shop)
	_ = db2.AddShop(context.Background(), store.Shop{Domain: shop, TokenSealed: sealed, Settings: store.DefaultSettings(shop)})
	url2 := e.serve(t, e.tc, db2)
	db2.Close()
	o2 := nextOrder()
	if status, _ := e.post(t, url2, delivery{topic: shopify.TopicFulfillmentCreate, body: shopifytest.FulfillmentPayload(o2, "")}); status != 503 {
		t.Fatalf("Postgres down: status %d, want 503", status)
	}
	if e.workflowExists(t, o2.ID) {
		t.Fatal("workflow started although Postgres was down")
	}
}

// breakAfterStart is Temporal as the server sees it, with a fault in the
// hard window: once armed, Postgres breaks right after Temporal accepts a
// start, before the delivery's registry entries commit.
type breakAfterStart struct {
	client.Client
	armed *atomic.Bool
	brk   func()
}

func (c breakAfterStart) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	run, err := c.Client.ExecuteWorkflow(ctx, o, wf, args...)
	if c.armed.Load() {
		c.brk()
	}
	return run, err
}

// touches counts a request's registry entries per system/action/datum.
func (e *env) touches(t *testing.T, orderID int64) map[string]int {
	t.Helper()
	var rows []struct{ System, Action, Datum string }
	if err := e.db.Select(&rows, `SELECT system, action, datum FROM registry_entries WHERE ref = $1`, e.ring.RequestID(shop, orderID)); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range rows {
		n[r.System+"/"+r.Action+"/"+r.Datum]++
	}
	return n
}

func TestWebhook_StartWhoseCommitFailedIsRecordedOnceByShopifysRetry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A replica whose own connection to Postgres breaks after the start.
	broken, err := store.Open(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	var armed atomic.Bool
	url := e.serve(t, breakAfterStart{Client: e.tc, armed: &armed, brk: func() { broken.Close() }}, broken)

	// The shop is cached by an earlier delivery: the first Postgres write
	// of the next one comes after Temporal accepted its start.
	if status, msg := e.post(t, url, delivery{topic: shopify.TopicOrderCancelled, body: shopifytest.OrderPayload(nextOrder())}); status != 200 {
		t.Fatalf("warm-up: %d %q", status, msg)
	}
	armed.Store(true)
	o := nextOrder()
	body := shopifytest.OrderPayload(o)
	id := shopifytest.NewWebhookID()
	if status, msg := e.post(t, url, delivery{topic: shopify.TopicOrderFulfilled, body: body, id: id}); status != 503 {
		t.Fatalf("commit failed after the start: %d %q, want 503", status, msg)
	}
	if !e.workflowExists(t, o.ID) {
		t.Fatal("the start did not happen, so this test does not reach the window it is about")
	}
	if n := e.touches(t, o.ID); len(n) != 0 {
		t.Fatalf("the failed commit left entries: %v", n)
	}

	// Shopify retries the same delivery; it reaches a replica whose
	// Postgres works. Every touch is then recorded exactly once, the input
	// Temporal holds included, and retries after that add nothing.
	want := map[string]int{
		"temporal/stored/" + registry.DatumPurchaseHistory: 1,
		"candor/collected/" + registry.DatumCustomerID:     1,
		"candor/collected/" + registry.DatumName:           1,
		"candor/collected/" + registry.DatumEmail:          1,
		"candor/collected/" + registry.DatumAddress:        1,
		"candor/collected/" + registry.DatumPhone:          1,
	}
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicOrderFulfilled, body: body, id: id}); status != 200 {
		t.Fatalf("Shopify's retry: %d %q", status, msg)
	}
	if got := e.touches(t, o.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the retry the registry holds %v, want %v", got, want)
	}
	// The same delivery again, at a replica that never saw it (nothing in
	// its memory): webhook_deliveries knows it.
	other := e.serve(t, e.tc, e.db)
	if status, msg := e.post(t, other, delivery{topic: shopify.TopicOrderFulfilled, body: body, id: id}); status != 200 {
		t.Fatalf("second retry: %d %q", status, msg)
	}
	if got := e.touches(t, o.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after a second retry the registry holds %v, want %v", got, want)
	}
	// Another delivery for the order is another touch of what it carries,
	// but Temporal still holds one input (the shipment signal carries
	// products only, recorded with it).
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentCreate, body: shopifytest.FulfillmentPayload(o, "")}); status != 200 || msg != "signalled" {
		t.Fatalf("fulfillment for the same order: %d %q", status, msg)
	}
	if got := e.touches(t, o.ID)["temporal/stored/"+registry.DatumPurchaseHistory]; got != 1 {
		t.Fatalf("%d entries for the input in Temporal, want 1", got)
	}
	if n := e.count(t, "webhook_deliveries"); n != 3 {
		t.Fatalf("webhook_deliveries = %d, want 3 (warm-up, order, fulfillment)", n)
	}
}

func TestWebhook_EmptySecretVerifiesNothing(t *testing.T) {
	e := newEnv(t)
	srv := &web.Server{DB: e.db, Temporal: e.tc, Keys: e.ring, DataKeys: e.keys, ShopifySecret: "", Logger: slog.New(slog.DiscardHandler)}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	body := shopifytest.FulfillmentPayload(nextOrder(), "")
	req, _ := shopifytest.WebhookRequest(hs.URL+"/webhooks/shopify", shopify.TopicFulfillmentCreate, shop, "", shopifytest.NewWebhookID(), body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("empty secret: status %d, want 401", resp.StatusCode)
	}
}

func TestWebhook_ComplianceTopicsCheckLikeEveryOther(t *testing.T) {
	e := newEnv(t)
	redact := []byte(`{"shop_id":1,"shop_domain":"` + shop + `","customer":{"id":77,"email":"zed@example.com","phone":"555"},"orders_to_redact":[1]}`)
	for _, c := range []struct {
		name   string
		d      delivery
		status int
	}{
		{"customers/redact without HMAC", delivery{topic: shopify.TopicCustomersRedact, body: redact, noHMAC: true}, 401},
		{"customers/data_request with a bad HMAC", delivery{topic: shopify.TopicCustomersDataRequest, body: redact, hmac: shopify.Sign("nope", redact)}, 401},
		{"shop/redact with a bad HMAC", delivery{topic: shopify.TopicShopRedact, body: []byte(`{"shop_domain":"` + shop + `"}`), hmac: "AAAA"}, 401},
		{"shop_domain differs from the header", delivery{topic: shopify.TopicCustomersRedact, body: redact, shop: "other.myshopify.com"}, 400},
		{"customer without id or email", delivery{topic: shopify.TopicCustomersRedact, body: []byte(`{"shop_domain":"` + shop + `","customer":{"phone":"555"}}`)}, 400},
		{"no customer", delivery{topic: shopify.TopicCustomersRedact, body: []byte(`{"shop_domain":"` + shop + `","orders_to_redact":[1]}`)}, 400},
		{"no shop header, no shop_domain", delivery{topic: shopify.TopicCustomersRedact, noShopHeader: true,
			body: []byte(`{"customer":{"id":77,"email":"zed@example.com"}}`)}, 400},
		{"no shop header, shop_domain not myshopify", delivery{topic: shopify.TopicShopRedact, noShopHeader: true, body: []byte(`{"shop_domain":"evil.com"}`)}, 400},
		{"no shop header, bad HMAC", delivery{topic: shopify.TopicCustomersRedact, noShopHeader: true, body: redact, hmac: "AAAA"}, 401},
		{"no shop header on a fulfillment", delivery{topic: shopify.TopicFulfillmentCreate, noShopHeader: true,
			body: []byte(`{"id":1,"order_id":2,"status":"success","shop_domain":"` + shop + `","line_items":[]}`)}, 400},
		{"data request without its id", delivery{topic: shopify.TopicCustomersDataRequest, body: redact}, 400},
		{"shop_domain not myshopify", delivery{topic: shopify.TopicShopRedact, body: []byte(`{"shop_domain":"evil.com"}`)}, 400},
		{"malformed JSON", delivery{topic: shopify.TopicCustomersRedact, body: []byte(`{"customer":`)}, 400},
	} {
		status, msg := e.post(t, e.url, c.d)
		if status != c.status {
			t.Errorf("%s: %d %q, want %d", c.name, status, msg, c.status)
		}
		if strings.Contains(msg, "zed@example.com") {
			t.Errorf("%s: the response echoes the address", c.name)
		}
	}
	if n := e.count(t, "privacy_requests"); n != 0 {
		t.Fatalf("%d privacy requests stored from rejected deliveries", n)
	}
	if n := e.count(t, "registry_entries"); n != 0 {
		t.Fatalf("%d registry entries from rejected deliveries", n)
	}
	// A good one is accepted; its address is stored only sealed.
	status, msg := e.post(t, e.url, delivery{topic: shopify.TopicCustomersRedact, body: redact})
	if status != 200 || !strings.HasPrefix(msg, "accepted pr_") {
		t.Fatalf("good redact: %d %q", status, msg)
	}
	var sealed string
	if err := e.db.Get(&sealed, `SELECT email_sealed FROM privacy_requests`); err != nil || !strings.HasPrefix(sealed, "v1.") || strings.Contains(sealed, "zed") {
		t.Fatalf("stored address %q, %v", sealed, err)
	}
	if strings.Contains(e.logs.String(), "zed@example.com") {
		t.Fatal("logs contain the address")
	}
}

// Shopify documents email-only customer records: a customers/redact or
// customers/data_request whose customer has an address and no ID. It is
// accepted and names the person by the orders and the address (sealed);
// without a customer ID there is no pseudonym, so nothing is keyed by one.
func TestWebhook_EmailOnlyCustomerRecordIsAccepted(t *testing.T) {
	e := newEnv(t)
	const addr = "guest.only@example.org"
	redact := []byte(`{"shop_id":954889,"shop_domain":"` + shop + `","customer":{"email":" ` + addr + ` "},"orders_to_redact":[299938,280263]}`)
	status, msg := e.post(t, e.url, delivery{topic: shopify.TopicCustomersRedact, body: redact})
	if status != 200 || !strings.HasPrefix(msg, "accepted pr_") {
		t.Fatalf("email-only customers/redact: %d %q", status, msg)
	}
	var req store.PrivacyRequest
	if err := e.db.Get(&req, `SELECT * FROM privacy_requests`); err != nil {
		t.Fatal(err)
	}
	if req.Subject != "" || len(req.OrderIDs) != 2 || req.OrderIDs[0] != 299938 || req.OrderIDs[1] != 280263 {
		t.Fatalf("request %+v, want no subject and the two orders", req)
	}
	opened, err := e.keys.Open(context.Background(), req.EmailSealed, req.ID)
	if err != nil || string(opened) != addr {
		t.Fatalf("sealed address opens to %q, %v", opened, err)
	}
	var owner string
	if err := e.db.Get(&owner, `SELECT owner FROM data_keys WHERE shop = $1`, shop); err != nil || owner != req.ID {
		t.Fatalf("the address is sealed under %q's key, %v; want the request's own (no subject to share it with)", owner, err)
	}
	var blank int
	if err := e.db.Get(&blank, `SELECT count(*) FROM suppressions WHERE subject = ''`); err != nil || blank != 0 {
		t.Fatalf("%d suppressions under an empty pseudonym, which would suppress every guest (%v)", blank, err)
	}
	if n := e.count(t, "registry_entries"); n != 2 {
		t.Fatalf("%d registry entries, want 2 (the address collected, and stored sealed)", n)
	}
	var bad int
	if err := e.db.Get(&bad, `SELECT count(*) FROM registry_entries WHERE subject <> '' OR ref <> $1 OR datum = $2`, req.ID, registry.DatumCustomerID); err != nil || bad != 0 {
		t.Fatalf("%d registry entries name a subject or customer ID that was not there, %v", bad, err)
	}

	dataRequest := []byte(`{"shop_id":954889,"shop_domain":"` + shop + `","customer":{"email":"` + addr + `"},"orders_requested":[299938],"data_request":{"id":9999}}`)
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicCustomersDataRequest, body: dataRequest}); status != 200 || !strings.HasPrefix(msg, "accepted pr_") {
		t.Fatalf("email-only customers/data_request: %d %q", status, msg)
	}
	if strings.Contains(e.logs.String(), addr) {
		t.Fatal("logs contain the address")
	}
}

// Shopify has delivered compliance webhooks without X-Shopify-Shop-Domain.
// Once the HMAC verifies, the body's shop_domain names the shop.
func TestWebhook_ComplianceWithoutShopHeaderUsesTheSignedShopDomain(t *testing.T) {
	e := newEnv(t)
	o := nextOrder()
	for _, c := range []struct {
		topic string
		body  []byte
	}{
		{shopify.TopicCustomersRedact, shopifytest.RedactPayload(shop, o)},
		{shopify.TopicShopRedact, []byte(`{"shop_id":954889,"shop_domain":"` + shop + `"}`)},
	} {
		status, msg := e.post(t, e.url, delivery{topic: c.topic, body: c.body, noShopHeader: true})
		if status != 200 || !strings.HasPrefix(msg, "accepted pr_") {
			t.Fatalf("%s without the shop header: %d %q", c.topic, status, msg)
		}
	}
	var shops []string
	if err := e.db.Select(&shops, `SELECT shop FROM privacy_requests ORDER BY kind`); err != nil {
		t.Fatal(err)
	}
	if len(shops) != 2 || shops[0] != shop || shops[1] != shop {
		t.Fatalf("requests for %v, want two for %s", shops, shop)
	}
}

// A gift card is a line item nobody reviews: an order of gift cards alone
// starts nothing, and beside other products it is left out.
func TestWebhook_GiftCardLineItemsAreNotReviewed(t *testing.T) {
	e := newEnv(t)
	o := nextOrder()
	o.Products = []shopifytest.Product{{ID: 9901, Title: "Gift card $50", Handle: "gift-card", Price: "50.00", GiftCard: true}}
	for _, c := range []struct {
		topic string
		body  []byte
	}{
		{shopify.TopicFulfillmentCreate, shopifytest.FulfillmentPayload(o, "")},
		{shopify.TopicOrderFulfilled, shopifytest.OrderPayload(o)},
	} {
		status, msg := e.post(t, e.url, delivery{topic: c.topic, body: c.body})
		if status != 200 || msg != "ignored" {
			t.Fatalf("%s of a gift card: %d %q", c.topic, status, msg)
		}
	}
	if e.workflowExists(t, o.ID) {
		t.Fatal("a review request was started for a gift card")
	}

	mixed := []shopify.LineItem{{ProductID: ptr(9901), Title: "Gift card $50", GiftCard: true}, {ProductID: ptr(8801), Title: "Linen Shirt"}}
	in := workflows.NewReviewRequestInput(shop, 1, "#1", "rq_1", mixed, time.Now())
	if len(in.Products) != 1 || in.Products[0].ID != 8801 {
		t.Fatalf("products %+v, want the shirt only", in.Products)
	}
}

func ptr(v int64) *int64 { return &v }

// Shopify's published sample payloads (integrations/shopify/testdata/webhooks)
// go through intake for every topic Candor handles, as Shopify would sign
// and deliver them.
func TestWebhook_PublishedSamplesAreAcceptedForEveryTopic(t *testing.T) {
	e := newEnv(t)
	const orderID int64 = 820982911946154508 // above 2^53
	for _, c := range []struct {
		topic, file, want string
	}{
		{shopify.TopicFulfillmentCreate, "fulfillments_create.json", "ignored"}, // status "pending"
		{shopify.TopicFulfillmentUpdate, "fulfillments_update.json", "ignored"},
		{shopify.TopicOrderFulfilled, "orders_fulfilled.json", "started"},
		{shopify.TopicOrderCancelled, "orders_cancelled.json", "signalled"},
		{shopify.TopicRefundCreate, "refunds_create.json", "signalled"},
		{shopify.TopicCustomersDataRequest, "customers_data_request.json", "accepted pr_"},
		{shopify.TopicCustomersRedact, "customers_redact.json", "accepted pr_"},
		{shopify.TopicShopRedact, "shop_redact.json", "accepted pr_"},
		{shopify.TopicAppUninstalled, "app_uninstalled.json", "accepted pr_"},
	} {
		b, err := os.ReadFile(filepath.Join("..", "integrations", "shopify", "testdata", "webhooks", c.file))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("{shop}.myshopify.com"), []byte(shop))
		status, msg := e.post(t, e.url, delivery{topic: c.topic, body: b})
		if status != 200 || !strings.HasPrefix(msg, c.want) {
			t.Errorf("%s: %d %q, want 200 %q", c.file, status, msg, c.want)
		}
	}
	if !e.workflowExists(t, orderID) {
		t.Fatalf("no workflow %s: the order ID lost digits", review.WorkflowID(shop, orderID))
	}
	for _, addr := range []string{"jon@example.com", "john@example.com", "Steve Shipper", "123 Shipping Street"} {
		if strings.Contains(e.logs.String(), addr) {
			t.Errorf("logs contain %q", addr)
		}
	}
}

// An order shipped in several fulfillments is one review request: its
// later fulfillments, a cancelled one and the whole order's fulfilment
// reach the running workflow as shipment signals (the workflow decides
// what to send, workflows/shipments.go); a fulfillment event with no
// shipment status yet changes nothing.
func TestWebhook_LaterFulfillmentsReachTheRunningRequest(t *testing.T) {
	e := newEnv(t)
	o := nextOrder()
	first := shopifytest.FulfillmentPayload(o, "")
	second := bytes.Replace(first, []byte(fmt.Sprintf(`"id":%d,`, o.ID*7+1)), []byte(fmt.Sprintf(`"id":%d,`, o.ID*7+2)), 1)
	second = bytes.Replace(second, []byte(`"name":"`+o.Name+`.1"`), []byte(`"name":"`+o.Name+`.2"`), 1)
	cancelled := bytes.Replace(second, []byte(`"status":"success"`), []byte(`"status":"cancelled"`), 1)
	if bytes.Equal(first, second) || bytes.Equal(second, cancelled) {
		t.Fatal("the payloads are not different fulfillments")
	}
	for i, c := range []struct {
		topic string
		body  []byte
		want  string
	}{
		{shopify.TopicFulfillmentCreate, first, "started"},
		{shopify.TopicFulfillmentCreate, second, "signalled"},
		{shopify.TopicFulfillmentUpdate, second, "ignored"}, // shipment_status null
		{shopify.TopicFulfillmentUpdate, cancelled, "signalled"},
		{shopify.TopicOrderFulfilled, shopifytest.OrderPayload(o), "signalled"},
		{shopify.TopicFulfillmentUpdate, shopifytest.FulfillmentPayload(o, "delivered"), "signalled"},
	} {
		if status, msg := e.post(t, e.url, delivery{topic: c.topic, body: c.body}); status != 200 || msg != c.want {
			t.Fatalf("delivery %d (%s): %d %q, want %q", i, c.topic, status, msg, c.want)
		}
	}
	signals := e.signals(t, o.ID)
	want := []string{review.SignalShipment, review.SignalShipment, review.SignalShipment, review.SignalDelivered}
	if !reflect.DeepEqual(signals, want) {
		t.Errorf("signals = %v, want %v", signals, want)
	}

	// A closed request is never re-opened: a shipment after it changes
	// nothing.
	if err := e.tc.TerminateWorkflow(context.Background(), review.WorkflowID(shop, o.ID), "", "test: the request closed"); err != nil {
		t.Fatal(err)
	}
	third := bytes.Replace(second, []byte(fmt.Sprintf(`"id":%d,`, o.ID*7+2)), []byte(fmt.Sprintf(`"id":%d,`, o.ID*7+3)), 1)
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicFulfillmentCreate, body: third}); status != 200 || msg != "duplicate" {
		t.Fatalf("a shipment after the request closed: %d %q", status, msg)
	}
	if got := e.signals(t, o.ID); len(got) != len(want) {
		t.Errorf("signals after the close = %v", got)
	}
}

// signals lists the names of the signals the order's workflow received.
func (e *env) signals(t *testing.T, orderID int64) []string {
	t.Helper()
	it := e.tc.GetWorkflowHistory(context.Background(), review.WorkflowID(shop, orderID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var names []string
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
			names = append(names, a.GetSignalName())
		}
	}
	return names
}

// TestWebhook_AnOrderWhoseRequestKeyWasDestroyedIsNotStartedAgain: a late
// fulfillment or delivery event for an order whose review request was
// erased (or deleted with its row, and its closed history gone) is
// acknowledged and changes nothing: no fresh data key is made for the
// request and no workflow starts, so nothing new about it is written.
func TestWebhook_AnOrderWhoseRequestKeyWasDestroyedIsNotStartedAgain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := nextOrder()
	owner := e.ring.RequestID(shop, o.ID)
	if _, err := e.keys.For(ctx, shop, owner); err != nil {
		t.Fatal(err)
	}
	if err := e.db.InTx(ctx, func(tx *sqlx.Tx) error {
		ids, err := datakeys.Shred(ctx, tx, shop, []string{owner})
		e.keys.Forget(ids...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		topic, want string
		body        []byte
	}{
		{shopify.TopicFulfillmentCreate, "ignored", shopifytest.FulfillmentPayload(o, "")},
		{shopify.TopicFulfillmentUpdate, "ignored", shopifytest.FulfillmentPayload(o, "delivered")},
		{shopify.TopicRefundCreate, "ignored", shopifytest.RefundPayload(o)},
	} {
		if status, msg := e.post(t, e.url, delivery{topic: d.topic, body: d.body}); status != 200 || msg != d.want {
			t.Errorf("%s: %d %q, want 200 %q", d.topic, status, msg, d.want)
		}
	}
	if e.workflowExists(t, o.ID) {
		t.Error("a workflow was started for the erased request")
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM data_keys WHERE shop = $1 AND owner = $2`, shop, owner); err != nil || n != 0 {
		t.Errorf("the erased request has %d data keys again (%v)", n, err)
	}
	// Nothing says Temporal holds the order: nothing was written there.
	if err := e.db.Get(&n, `SELECT count(*) FROM registry_entries WHERE ref = $1 AND system = 'temporal'`, owner); err != nil || n != 0 {
		t.Errorf("%d registry entries say Temporal holds the erased request (%v)", n, err)
	}
}
