package shopifytest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
)

// The calculator against Shopify's published rules and examples
// (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits,
// https://shopify.engineering/rate-limiting-graphql-apis-calculating-query-complexity).
func TestQueryCost_FollowsShopifysWorkedExamples(t *testing.T) {
	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		// The engineering post's first example: one object, scalars free.
		{"object with scalars", `{ shop { id name timezoneOffsetMinutes customerAccounts } }`, nil, 1},
		{"named query, same cost", `query Shop { shop { id name } }`, nil, 1},
		// A connection: two points plus one per object asked for.
		{"connection", `{ products(first: 10) { edges { node { title } } } }`, nil, 12},
		{"connection, nodes form", `{ products(first: 10) { nodes { title } pageInfo { hasNextPage endCursor } } }`, nil, 12},
		{"connection, last", `{ products(last: 7) { edges { cursor node { title } } } }`, nil, 9},
		// Nested connections multiply: 2 + 10 × (1 + 2 + 5 × 1).
		{"nested connections multiply", `{ products(first: 10) { edges { node { title variants(first: 5) { edges { node { price } } } } } } }`, nil, 82},
		{"object inside a node", `{ orders(first: 3) { nodes { id customer { id } } } }`, nil, 2 + 3*2},
		// Page sizes from variables, and from a variable's default.
		{"page size from a variable", `query Q($n: Int!) { orders(first: $n) { nodes { id } } }`, map[string]any{"n": 50.0}, 52},
		{"page size from a default", `query Q($n: Int = 20) { orders(first: $n) { nodes { id } } }`, nil, 22},
		{"variable given overrides its default", `query Q($n: Int = 20) { orders(first: $n) { nodes { id } } }`, map[string]any{"n": 5.0}, 7},
		// A mutation costs 10, plus the objects it selects.
		{"mutation", `mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/1") { deletedWebhookSubscriptionId } }`, nil, 10},
		{"mutation selecting objects", `mutation M($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } } }`, nil, 11},
		// An interface or union costs its most expensive possibility.
		{"union takes the maximum", `{ node(id: "x") { id ... on Order { customer { id } } ... on Product { variants(first: 2) { nodes { id } } } } }`, nil, 1 + 4},
		{"named fragment", `query Q { shop { ...F } } fragment F on Shop { id primaryDomain { host } }`, nil, 2},
		// Aliases each pay; comments, commas and strings are not fields.
		{"aliases each pay", `{ a: shop { id } b: shop { id } }`, nil, 2},
		{"comments, commas and strings", "{ # a comment { with braces }\n orders(first: 2, query: \"name:{x}\") { nodes { id, name } } }", nil, 4},
		{"directives", `query Q($x: Boolean = true) { shop @include(if: $x) { id } }`, nil, 1},
	} {
		got, err := QueryCost(c.query, c.vars)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: cost %d, want %d", c.name, got, c.want)
		}
	}
}

// The order backfill Candor sent before it paged line items separately:
// 50 orders × 100 line items, each with its product. Shopify refused it.
const oldFulfilledOrders = `query CandorFulfilledOrders($query: String!, $after: String) {
  orders(first: 50, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id
      name
      cancelledAt
      lineItems(first: 100) { nodes { title product { id } } }
    }
    pageInfo { hasNextPage endCursor }
  }
}`

func TestQueryCost_NestedPagesOverTheMaximum(t *testing.T) {
	got, err := QueryCost(oldFulfilledOrders, map[string]any{"query": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + 50*(1+2+100*2); got != want || got <= MaxQueryCost {
		t.Fatalf("cost %d, want %d (over %d)", got, want, MaxQueryCost)
	}
}

func TestQueryCost_RefusesWhatShopifyRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		query string
		vars  map[string]any
	}{
		"empty":                    {``, nil},
		"unclosed selection":       {`{ shop { id }`, nil},
		"empty selection":          {`{ shop { } }`, nil},
		"unterminated string":      {`{ orders(first: 1, query: "x) { nodes { id } } }`, nil},
		"stray character":          {`{ shop { id % } }`, nil},
		"connection without size":  {`{ orders { nodes { id } } }`, nil},
		"page size not a number":   {`{ orders(first: "10") { nodes { id } } }`, nil},
		"negative page size":       {`{ orders(first: -1) { nodes { id } } }`, nil},
		"fractional page size":     {`query Q($n: Int) { orders(first: $n) { nodes { id } } }`, map[string]any{"n": 2.5}},
		"missing page variable":    {`query Q($n: Int) { orders(first: $n) { nodes { id } } }`, nil},
		"undefined fragment":       {`{ shop { ...Missing } }`, nil},
		"two operations, no name":  {`query A { shop { id } } query B { shop { id } }`, nil},
		"empty argument list":      {`{ orders() { nodes { id } } }`, nil},
		"variable without type":    {`query Q($n) { shop { id } }`, nil},
		"unexpected top-level":     {`shop { id }`, nil},
		"fragment without type":    {`fragment F { id } { shop { ...F } }`, nil},
		"deeply nested beyond max": {strings.Repeat("{ a ", 60) + "{ id }" + strings.Repeat(" }", 60), nil},
	} {
		if got, err := QueryCost(c.query, c.vars); err == nil {
			t.Errorf("%s: priced at %d, want an error", name, got)
		}
	}
}

// post sends a GraphQL request to the stand-in as Candor does.
func post(t *testing.T, s *Store, query string, vars map[string]any) map[string]any {
	t.Helper()
	return postAs(t, s, s.Token, query, vars)
}

// postAs sends it with the access token of one store (AddStore).
func postAs(t *testing.T, s *Store, token, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/admin/api/"+s.APIVersion+"/graphql.json", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d, want 200: Shopify answers GraphQL errors with 200", res.StatusCode)
	}
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// clock is a settable time for the stand-in's bucket.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newCostStore(t *testing.T) (*Store, *clock) {
	t.Helper()
	s := New("shpat_test", "2026-10")
	t.Cleanup(s.Close)
	c := &clock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	s.Now = c.now
	s.SetPlan(PlanStandard)
	return s, c
}

func costOf(t *testing.T, out map[string]any) map[string]any {
	t.Helper()
	ext, _ := out["extensions"].(map[string]any)
	cost, _ := ext["cost"].(map[string]any)
	if cost == nil {
		t.Fatalf("no extensions.cost in %v", out)
	}
	return cost
}

func errorCode(out map[string]any) string {
	errs, _ := out["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	ext, _ := e["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

func TestStore_EverySuccessCarriesItsRequestedAndActualCost(t *testing.T) {
	s, _ := newCostStore(t)
	o := DemoOrder(4242) // two products
	s.SetOrder(o)
	out := post(t, s, shopify.QueryOrderStatus, map[string]any{"id": shopify.OrderGID(o.ID)})
	if out["data"] == nil || errorCode(out) != "" {
		t.Fatalf("answer %v", out)
	}
	cost := costOf(t, out)
	// order, customer, defaultEmailAddress; lineItems 2 + 100 × (line item + product).
	requested := 3 + 2 + 100*2
	actual := 3 + 2 + 2*2 // what came back: two line items
	if cost["requestedQueryCost"] != float64(requested) || cost["actualQueryCost"] != float64(actual) {
		t.Fatalf("cost %v, want requested %d, actual %d", cost, requested, actual)
	}
	ts, _ := cost["throttleStatus"].(map[string]any)
	want := map[string]any{"maximumAvailable": 2000.0, "currentlyAvailable": float64(2000 - actual), "restoreRate": 100.0}
	for k, v := range want {
		if ts[k] != v {
			t.Errorf("throttleStatus.%s = %v, want %v (charged the requested cost, refunded the difference)", k, ts[k], v)
		}
	}
}

func TestStore_QueryOverTheMaximumIsRefusedAndCostsNothing(t *testing.T) {
	s, _ := newCostStore(t)
	out := post(t, s, oldFulfilledOrders, map[string]any{"query": shopify.FulfilledOrdersQuery(time.Now())})
	if errorCode(out) != shopify.CodeMaxCostExceeded || out["data"] != nil {
		t.Fatalf("answer %v, want %s and no data", out, shopify.CodeMaxCostExceeded)
	}
	e := out["errors"].([]any)[0].(map[string]any)
	ext := e["extensions"].(map[string]any)
	if ext["cost"] != float64(10152) || ext["maxCost"] != float64(MaxQueryCost) {
		t.Errorf("extensions %v, want cost 10152 and maxCost %d", ext, MaxQueryCost)
	}
	if msg, _ := e["message"].(string); !strings.HasPrefix(msg, "Query cost is 10152, which exceeds the single query max cost limit (1000).") {
		t.Errorf("message %q", msg)
	}
	// Nothing was charged: a query that costs the whole bucket still runs.
	s.SetFieldCost("shop", 1999)
	if out := post(t, s, shopify.QueryShopTimeZone, nil); errorCode(out) != shopify.CodeMaxCostExceeded {
		t.Fatalf("a 1,999-point query: %v", out)
	}
	s.SetFieldCost("shop", 1000)
	if out := post(t, s, shopify.QueryShopTimeZone, nil); out["data"] == nil {
		t.Fatalf("a 1,000-point query with a full bucket: %v", out)
	}
}

func TestStore_EmptyBucketThrottlesUntilItRestoresAtThePlansRate(t *testing.T) {
	s, clk := newCostStore(t)
	o := DemoOrder(4243)
	s.SetOrder(o)
	vars := map[string]any{"id": shopify.OrderGID(o.ID)}
	s.SetBucketAvailable(0)
	out := post(t, s, shopify.QueryOrderStatus, vars)
	if errorCode(out) != shopify.CodeThrottled || out["data"] != nil {
		t.Fatalf("answer with an empty bucket: %v", out)
	}
	cost := costOf(t, out)
	if cost["requestedQueryCost"] != 205.0 || cost["actualQueryCost"] != nil {
		t.Errorf("cost %v, want requested 205 and no actual cost", cost)
	}
	ts, _ := cost["throttleStatus"].(map[string]any)
	if ts["maximumAvailable"] != 2000.0 || ts["currentlyAvailable"] != 0.0 || ts["restoreRate"] != 100.0 {
		t.Errorf("throttleStatus %v", ts)
	}
	// Two seconds restore 200 points: still short of 205.
	clk.add(2 * time.Second)
	if out := post(t, s, shopify.QueryOrderStatus, vars); errorCode(out) != shopify.CodeThrottled {
		t.Fatalf("after 2s: %v", out)
	}
	clk.add(50 * time.Millisecond)
	if out := post(t, s, shopify.QueryOrderStatus, vars); out["data"] == nil {
		t.Fatalf("after 2.05s: %v", out)
	}
	if s.Throttled() != 2 || s.Calls("CandorOrderStatus") != 1 {
		t.Errorf("throttled %d, answered %d; want 2 and 1", s.Throttled(), s.Calls("CandorOrderStatus"))
	}
	// A bigger plan restores faster.
	s.SetPlan(PlanPlus)
	s.SetBucketAvailable(0)
	clk.add(205 * time.Millisecond)
	if out := post(t, s, shopify.QueryOrderStatus, vars); out["data"] == nil {
		t.Fatalf("Plus, after 0.205s: %v", out)
	}
}

// Each store of the app has its own bucket: one store's empty bucket
// throttles only its own calls, and an unknown token is still refused.
func TestStore_EachAddedStoreHasItsOwnBucket(t *testing.T) {
	s, _ := newCostStore(t)
	s.AddStore("shpat_second")
	s.AddStore("shpat_third")
	o := DemoOrder(4250)
	vars := map[string]any{"id": shopify.OrderGID(o.ID)}
	// Drain the second store's bucket (the clock stands still): each
	// query uses 9 points, and is refused once fewer than its requested
	// 205 are left.
	ran := 0
	for ; ran < 300; ran++ {
		if out := postAs(t, s, "shpat_second", shopify.QueryOrderStatus, vars); errorCode(out) == shopify.CodeThrottled {
			break
		}
	}
	if want := (2000-205)/9 + 1; ran != want {
		t.Fatalf("second store: throttled after %d queries, want %d", ran, want)
	}
	for _, tok := range []string{s.Token, "shpat_third"} {
		out := postAs(t, s, tok, shopify.QueryOrderStatus, vars)
		if out["data"] == nil {
			t.Fatalf("%s, another store: %v", tok, out)
		}
		ts, _ := costOf(t, out)["throttleStatus"].(map[string]any)
		if ts["currentlyAvailable"] != float64(2000-9) {
			t.Errorf("%s: throttleStatus %v, want its own full bucket less this query's 9 points", tok, ts)
		}
	}
	if s.Throttled() != 1 {
		t.Errorf("throttled %d, want 1", s.Throttled())
	}
	body, _ := json.Marshal(map[string]any{"query": shopify.QueryOrderStatus, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/admin/api/"+s.APIVersion+"/graphql.json", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", "shpat_unknown")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown token: HTTP %d, want 401", res.StatusCode)
	}
}
