// Package shopifytest is a local stand-in for a Shopify store: the Admin
// GraphQL endpoint Candor reads from, and realistic, correctly signed webhook
// deliveries. `candor dev` runs it as the demo store; tests use it in place of
// Shopify, which cannot be reached from here.
//
// Like Shopify, it checks the API version in the path, the access token, the
// content type and the request shape, and answers only the fields a query
// selects, so tests can see what Candor actually asked for.
//
// Real behaviours it models:
//   - query cost (cost.go, which cites Shopify's pages): every GraphQL
//     request is parsed (graphql.go) and priced by Shopify's documented
//     rules (objects 1, connections 2 plus page size times node cost,
//     mutations 10); a query over 1,000 points is answered
//     MAX_COST_EXCEEDED in an HTTP 200; each shop has a leaky bucket by plan
//     (SetPlan, SetBucketAvailable; more shops, each with its own token and
//     bucket, with AddStore), and a query the bucket cannot pay for
//     is answered THROTTLED with extensions.cost.throttleStatus; every
//     answer that ran carries extensions.cost with the requested and actual
//     cost;
//   - connections page by the `first:` they are asked for, with cursors and
//     pageInfo (the orders search and an order's line items, orders.go);
//   - the store itself: the Shop object's name, email (the owner's),
//     contactEmail, myshopifyDomain and primaryDomain.host, a Domain that is
//     never null (without a custom domain it is the myshopify one), and its
//     localization.defaultLocale, the store's primary language
//     (https://shopify.dev/docs/api/admin-graphql/latest/objects/Shop,
//     https://shopify.dev/docs/api/admin-graphql/latest/objects/Domain,
//     https://shopify.dev/docs/api/admin-graphql/latest/objects/DomainLocalization);
//   - an order's customerLocale, null when unknown
//     (https://shopify.dev/docs/api/admin-graphql/latest/objects/Order);
//   - OAuth and webhook subscriptions (oauth.go): the authorization code
//     grant in offline and in online (per-user) access mode, where the token
//     names the staff member who approved it; expiring tokens as Shopify
//     documents them (oauth.go cites the pages): an access token lapses
//     after TokenTTL (Shopify: an hour) and then gets Shopify's 401; refresh
//     tokens live 90 days, and a used one is retired once its replacement
//     is used (at most 30 days later); Uninstall revokes all;
//   - failures (FailNext): an HTTP status such as 429 with Retry-After,
//     as Shopify's rate-limits page documents, or a 5xx;
//   - webhook deliveries, signed, with the payloads' personal data
//     (webhooks.go); line items carry gift_card, as in Shopify's published
//     samples (integrations/shopify/testdata/webhooks holds them).
package shopifytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
)

// Customer is a demo customer, with all the personal data a real one has.
type Customer struct {
	ID             int64
	FirstName      string
	LastName       string
	Email          string
	Phone          string
	Address1       string
	City           string
	Zip            string
	Country        string
	MarketingState string // SUBSCRIBED, NOT_SUBSCRIBED, UNSUBSCRIBED, ...
}

// Product is a demo product.
type Product struct {
	ID     int64
	Title  string
	Handle string
	Price  string
	Tags   []string
	// GiftCard marks a gift card: its line items say "gift_card": true,
	// as in Shopify's webhook payloads
	// (https://shopify.dev/docs/api/webhooks/latest, fulfillments/create).
	GiftCard bool
}

// Order is a demo order.
type Order struct {
	ID              int64
	Name            string
	Customer        *Customer // nil for a guest checkout
	GuestEmail      string
	Products        []Product
	Cancelled       bool
	FinancialStatus string // PAID, REFUNDED, PARTIALLY_REFUNDED, ...
	// For the orders search: fulfilled (wholly or in part), and when the
	// order last changed.
	Fulfilled bool
	UpdatedAt time.Time
	// CustomerLocale is the language the customer ordered in
	// (Order.customerLocale: a language code with an optional region, as
	// "fr-FR" since API 2021-10; null when Shopify has none), "" for null.
	CustomerLocale string
}

var catalogue = []Product{
	{ID: 8801, Title: "Linen Shirt", Handle: "linen-shirt", Price: "89.00", Tags: []string{"apparel", "summer"}},
	{ID: 8802, Title: "Wool Socks", Handle: "wool-socks", Price: "19.00", Tags: []string{"apparel", "winter"}},
	{ID: 8803, Title: "Canvas Tote", Handle: "canvas-tote", Price: "35.00", Tags: []string{"accessories", "Gift"}},
}

// DemoRepeatStride links demo orders to one customer: orders whose IDs
// differ by a multiple of it were placed by the same person (`candor
// simulate fulfillment --customer-of N`, a repeat purchase).
const DemoRepeatStride = 1_000_000_000

// DemoOrderProducts is how many products every demo order has.
const DemoOrderProducts = 2

// DemoOrder is the order with this ID in the demo store: the same every time,
// so `candor simulate` (another process) and the store agree on it.
func DemoOrder(id int64) Order {
	n := (id%1000 + id/DemoRepeatStride) % 1000 // a repeat order gets another name
	cid := id % DemoRepeatStride                // the customer's first order
	cn := cid % 1000
	first := []string{"Jane", "Amara", "Lukas", "Mei"}[cn%4]
	last := []string{"Doe", "Okafor", "Schmidt", "Tanaka"}[cn%4]
	c := &Customer{
		ID:             7_000_000 + cid,
		FirstName:      first,
		LastName:       last,
		Email:          fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first), strings.ToLower(last), cid),
		Phone:          fmt.Sprintf("+1-555-01%02d", cn%100),
		Address1:       fmt.Sprintf("%d Harbour Street", 10+cn),
		City:           "Portland",
		Zip:            "97201",
		Country:        "US",
		MarketingState: "SUBSCRIBED",
	}
	return Order{
		ID:              id,
		Name:            fmt.Sprintf("#%d", 1000+n),
		Customer:        c,
		Products:        []Product{catalogue[n%3], catalogue[(n+1)%3]}, // DemoOrderProducts
		FinancialStatus: "PAID",
		CustomerLocale:  "en",
	}
}

// Store is the stand-in server.
type Store struct {
	URL        string
	Token      string // the custom-app token, valid forever
	APIVersion string
	// TimeZone is the store's IANA time zone (shop.ianaTimezone). Set it
	// before the first request.
	TimeZone string
	Shop     string // the shop's domain, for OAuth redirects
	TokenTTL time.Duration
	Now      func() time.Time

	// The store's own name, addresses and primary domain (the Shop
	// object's name, email, contactEmail and primaryDomain.host). Set them
	// before the first request, or with EditShop.
	ShopName, ShopEmail, ContactEmail, PrimaryDomain string
	// PrimaryLocale is the primary domain's default locale
	// (primaryDomain.localization.defaultLocale), "en" unless set.
	PrimaryLocale string

	srv    *httptest.Server
	mu     sync.Mutex
	orders map[int64]Order
	gone   map[int64]bool
	fail   []failure
	calls  map[string]int

	app         *App
	grantScopes []string
	codes       map[string]grant
	tokens      map[string]grant
	refresh     map[string]grant
	tokenFail   []int
	tokenDelay  time.Duration
	subs        map[int64]*subscription
	nextSub     int64
	holds       map[string]*hold
	bucket      bucket // query cost (cost.go)
	// others are more stores of the same app, by their custom-app token
	// (AddStore): each has its own cost bucket.
	others map[string]*bucket
}

type hold struct {
	reached, release chan struct{}
}

type failure struct {
	status     int
	retryAfter string
}

// New starts a stand-in store that accepts token on apiVersion.
func New(token, apiVersion string) *Store {
	s := &Store{Token: token, APIVersion: apiVersion, TimeZone: "America/Los_Angeles", Shop: "candor-demo.myshopify.com",
		orders: map[int64]Order{}, gone: map[int64]bool{}, calls: map[string]int{},
		codes: map[string]grant{}, tokens: map[string]grant{}, refresh: map[string]grant{}, subs: map[int64]*subscription{}}
	s.ShopName, s.ShopEmail, s.ContactEmail = "Candor Demo Store", "owner@candor-demo.example", "hello@candor-demo.example"
	s.PrimaryDomain = "shop.candor-demo.example"
	s.PrimaryLocale = "en"
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// HoldNext makes the next request for the named operation (for example
// "CandorRecipient") wait: reached is closed when it arrives, and it is
// answered, with the store as it is then, once release is called. Tests use
// it to act while an activity is in the middle of a call.
func (s *Store) HoldNext(op string) (reached <-chan struct{}, release func()) {
	h := &hold{reached: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	if s.holds == nil {
		s.holds = map[string]*hold{}
	}
	s.holds[op] = h
	s.mu.Unlock()
	var once sync.Once
	return h.reached, func() { once.Do(func() { close(h.release) }) }
}

// Close stops the server.
func (s *Store) Close() { s.srv.Close() }

// EditShop changes the store's own fields (ShopName, ShopEmail, ContactEmail,
// PrimaryDomain) while it serves, as a merchant does in the Shopify admin.
func (s *Store) EditShop(edit func(*Store)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	edit(s)
}

// SetOrder puts an order in the store, replacing the demo order with its ID.
func (s *Store) SetOrder(o Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.ID] = o
}

// DeleteOrder makes the order with this ID unknown, as after the merchant
// deletes it in Shopify.
func (s *Store) DeleteOrder(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.orders, id)
	s.gone[id] = true
}

// Order returns the order with this ID: one set with SetOrder, else the demo
// order; the zero Order if it was deleted.
func (s *Store) Order(id int64) Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone[id] {
		return Order{}
	}
	if o, ok := s.orders[id]; ok {
		return o
	}
	return DemoOrder(id)
}

// FailNext makes the next n GraphQL calls fail with HTTP status, with
// Retry-After: retryAfter if it is not empty. Shopify answers a request over
// its rate limit 429 Too Many Requests with a Retry-After header, the
// seconds to wait (https://shopify.dev/docs/api/admin-rest/usage/rate-limits);
// the GraphQL Admin API's own throttle is THROTTLED in an HTTP 200 (cost.go).
func (s *Store) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.fail = append(s.fail, failure{status: status, retryAfter: retryAfter})
	}
}

// Calls reports how often an operation (CandorOrderStatus, CandorRecipient)
// was answered successfully.
func (s *Store) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

var pathRe = regexp.MustCompile(`^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$`)
var gidRe = regexp.MustCompile(`^gid://shopify/Order/(\d+)$`)
var namedOpRe = regexp.MustCompile(`^\s*(?:query|mutation)\s+([A-Za-z]+)`)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func gqlError(w http.ResponseWriter, msg, code string) {
	writeJSON(w, http.StatusOK, map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]string{"code": code}}}})
}

// serve answers the Admin API. It is long on purpose: it is one gate after
// another in the order Shopify turns a request away (path, API version,
// method, token, content type, injected faults, body, query cost, throttle),
// kept in one piece so that order reads top to bottom.
func (s *Store) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/admin/oauth/authorize":
		s.authorize(w, r)
		return
	case "/admin/oauth/access_token":
		s.accessToken(w, r)
		return
	}
	m := pathRe.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"errors": "Not Found"})
		return
	}
	if m[1] != s.APIVersion {
		// Shopify serves a different (fallback) version; Candor pins one, so
		// a mismatch here is a bug worth failing loudly on.
		writeJSON(w, http.StatusNotFound, map[string]string{"errors": "API version " + m[1] + " not served by this stand-in"})
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"errors": "method not allowed"})
		return
	}
	// An unknown, revoked or lapsed token: Shopify's 401 body, as apps see
	// it when an expiring offline token has lapsed
	// (https://github.com/Shopify/shopify-app-php/issues/12: "failing with
	// 401 Unauthorized approximately one hour after the token was issued";
	// body as in https://github.com/Shopify/koa-shopify-auth/issues/169).
	if !s.TokenValid(r.Header.Get("X-Shopify-Access-Token")) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"errors": "Content-Type must be application/json"})
		return
	}
	s.mu.Lock()
	var f *failure
	if len(s.fail) > 0 {
		f = &s.fail[0]
		s.fail = s.fail[1:]
	}
	s.mu.Unlock()
	if f != nil {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		writeJSON(w, f.status, map[string]string{"errors": http.StatusText(f.status)})
		return
	}
	var req struct {
		Query         string         `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &req) != nil || req.Query == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errors": "Bad Request: body must be JSON with a query"})
		return
	}
	// Shopify prices the query before it runs: over the single-query
	// maximum, or more than the bucket holds, and it does not run (cost.go).
	doc, err := parseDocument(req.Query)
	if err != nil {
		gqlError(w, "Parse error: "+err.Error(), "PARSE_ERROR")
		return
	}
	b := s.bucketFor(r.Header.Get("X-Shopify-Access-Token"))
	costs := b.fieldCosts()
	requested, err := requestedCost(doc, req.OperationName, req.Variables, costs)
	if err != nil {
		gqlError(w, err.Error(), "BAD_REQUEST")
		return
	}
	if requested > MaxQueryCost {
		writeJSON(w, http.StatusOK, maxCostExceeded(requested))
		return
	}
	if st, ok := b.take(s.now(), requested); !ok {
		writeJSON(w, http.StatusOK, throttled(requested, st))
		return
	}
	data, op, msg, code := s.execute(r, doc, req.OperationName, req.Query, req.Variables)
	if msg != "" {
		b.refund(s.now(), requested)
		gqlError(w, msg, code)
		return
	}
	if op == "" {
		return // the client went away while the call was held
	}
	actual := min(actualCost(doc, req.OperationName, req.Variables, costs, data), requested)
	st := b.refund(s.now(), requested-actual)
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
	// Every answer that ran carries its cost, as Shopify's do.
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "extensions": costExtension(requested, &actual, st)})
}

// execute answers one of Candor's operations (shopify.Operations, each
// only with its exact text): its data and name, or a GraphQL error message
// and code.
func (s *Store) execute(r *http.Request, doc *document, opName, query string, vars map[string]any) (data any, op, msg, code string) {
	named := namedOpRe.FindStringSubmatch(query)
	if named == nil {
		return nil, "", "Parse error: this stand-in answers only Candor's named operations", "PARSE_ERROR"
	}
	op = named[1]
	want, known := shopify.Operations[op]
	if !known {
		return nil, "", "unknown operation " + op, "PARSE_ERROR"
	}
	if query != want {
		return nil, "", "unexpected " + op + " selection", "PARSE_ERROR"
	}
	switch op {
	case "CandorShop":
		return map[string]any{"shop": map[string]any{"ianaTimezone": s.TimeZone}}, op, "", ""
	case "CandorShopProfile":
		return s.shopProfile(), op, "", ""
	case "CandorOrderStatus", "CandorRecipient":
		return s.orderRead(r, op, vars)
	case "CandorFulfilledOrders":
		data, msg = s.fulfilledOrders(vars, pageSizeAt(doc, opName, vars, "orders"),
			pageSizeAt(doc, opName, vars, "orders", "nodes", "lineItems"))
	case "CandorOrderLineItems":
		data, msg = s.orderLineItems(vars, pageSizeAt(doc, opName, vars, "order", "lineItems"))
	default:
		data, msg = s.webhookOp(op, r.Header.Get("X-Shopify-Access-Token"), vars)
	}
	if msg != "" {
		return nil, "", msg, "INVALID_VARIABLE"
	}
	return data, op, "", ""
}

// orderRead answers CandorOrderStatus and CandorRecipient, holding the call
// first if a test asked for that (HoldNext).
func (s *Store) orderRead(r *http.Request, op string, vars map[string]any) (data any, _, msg, code string) {
	id, _ := vars["id"].(string)
	gm := gidRe.FindStringSubmatch(id)
	if gm == nil {
		return nil, "", "Variable $id of type ID! was provided invalid value", "INVALID_VARIABLE"
	}
	orderID, _ := strconv.ParseInt(gm[1], 10, 64)
	s.mu.Lock()
	h := s.holds[op]
	delete(s.holds, op)
	s.mu.Unlock()
	if h != nil {
		close(h.reached)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return nil, "", "", ""
		}
	}
	if op == "CandorOrderStatus" {
		return s.orderStatus(orderID), op, "", ""
	}
	return s.recipient(orderID), op, "", ""
}

func (s *Store) orderStatus(id int64) any {
	o := s.Order(id)
	if o.ID == 0 {
		return map[string]any{"order": nil}
	}
	var cancelledAt any
	if o.Cancelled {
		cancelledAt = "2026-01-02T03:04:05Z"
	}
	var customer any
	if c := o.Customer; c != nil {
		customer = map[string]any{
			"id":                  fmt.Sprintf("gid://shopify/Customer/%d", c.ID),
			"defaultEmailAddress": map[string]any{"marketingState": c.MarketingState},
		}
	}
	var nodes []any
	for _, p := range o.Products {
		tags := p.Tags
		if tags == nil {
			tags = []string{} // GraphQL [String!]! is never null
		}
		nodes = append(nodes, map[string]any{"product": map[string]any{"id": fmt.Sprintf("gid://shopify/Product/%d", p.ID), "handle": p.Handle, "tags": tags}})
	}
	fs := o.FinancialStatus
	if fs == "" {
		fs = "PAID"
	}
	return map[string]any{"order": map[string]any{
		"id":                     shopify.OrderGID(o.ID),
		"cancelledAt":            cancelledAt,
		"displayFinancialStatus": fs,
		"customer":               customer,
		"lineItems":              map[string]any{"nodes": nodes},
	}}
}

func (s *Store) recipient(id int64) any {
	o := s.Order(id)
	if o.ID == 0 {
		return map[string]any{"order": nil}
	}
	email := o.GuestEmail
	var customer any
	if c := o.Customer; c != nil {
		email = c.Email
		customer = map[string]any{"defaultEmailAddress": map[string]any{"emailAddress": c.Email}}
	}
	var locale any // null when Shopify has none
	if o.CustomerLocale != "" {
		locale = o.CustomerLocale
	}
	return map[string]any{"order": map[string]any{"email": email, "customerLocale": locale, "customer": customer}}
}

// shopProfile answers CandorShopProfile.
func (s *Store) shopProfile() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	primary := s.PrimaryDomain
	if primary == "" {
		primary = s.Shop
	}
	return map[string]any{"shop": map[string]any{"name": s.ShopName, "email": s.ShopEmail, "contactEmail": s.ContactEmail,
		"myshopifyDomain": s.Shop, "primaryDomain": map[string]any{"host": primary,
			// DomainLocalization.defaultLocale is String!; localization is
			// null only for a domain that redirects, which a primary
			// domain does not.
			"localization": map[string]any{"defaultLocale": s.PrimaryLocale}}}}
}
