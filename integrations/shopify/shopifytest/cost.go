package shopifytest

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
)

// Query cost and throttling, as the GraphQL Admin API prices a request.
//
// Shopify's rules (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits,
// and the engineering post that introduced them,
// https://shopify.engineering/rate-limiting-graphql-apis-calculating-query-complexity):
//
//   - A field returning a scalar or an enum costs 0; one returning an object
//     costs 1, plus what is selected inside it.
//   - A connection costs 2, plus its page size (`first:` or `last:`, a
//     literal or a variable) times the cost of one node, so nested
//     connections multiply: orders(first: 50) { lineItems(first: 100) { … } }
//     prices 50 × 100 line items.
//   - An interface or union costs the maximum of its possible selections.
//   - A mutation costs 10, plus what it selects.
//   - The requested cost is computed from the query text before it runs; the
//     actual cost from what it returned. The bucket is charged the requested
//     cost and refunded the difference.
//   - No single query may request more than 1,000 points, whatever the
//     plan: Shopify answers HTTP 200 with errors[].extensions.code
//     MAX_COST_EXCEEDED, the cost in extensions.cost and maxCost, and the
//     message "Query cost is N, which exceeds the single query max cost limit
//     (1000)." (as quoted in https://github.com/Shopify/shopify-app-js/issues/577).
//
// The stand-in only sees the query text, not Shopify's schema, so it tells
// the kinds apart by shape: a field without a selection set is a scalar or
// an enum, a field with `first:` or `last:` is a connection (its `edges`,
// `node`, `nodes`, `cursor` and `pageInfo` are inside the 2), and any other
// field with a selection set is an object. Shopify may price some fields
// lower than these defaults (its own per-field costs, see
// https://community.shopify.dev/t/unexpectedly-low-graphql-query-cost-in-shopify-admin-api-seeking-clarification/23101),
// so the stand-in's price is the documented upper bound: a query it
// accepts, Shopify accepts. SetFieldCost models a field Shopify prices
// above the default.

// MaxQueryCost is the most one query may request, on every plan.
const MaxQueryCost = 1000

// mutationCost is what each root field of a mutation costs.
const mutationCost = 10

// pricer computes costs for one operation and its variables.
type pricer struct {
	doc        *document
	op         *operation
	vars       map[string]any
	fieldCosts map[string]int // defined costs by path, replacing the defaults
	depth      int
}

// requestedCost is what the operation asks for before it runs.
func requestedCost(doc *document, opName string, vars map[string]any, fieldCosts map[string]int) (int, error) {
	op, err := doc.operation(opName)
	if err != nil {
		return 0, err
	}
	p := &pricer{doc: doc, op: op, vars: vars, fieldCosts: fieldCosts}
	if op.kind == "mutation" {
		total := 0
		for _, f := range p.fields(op.sel) {
			c, err := p.selCost(f.sel, f.name)
			if err != nil {
				return 0, err
			}
			total += mutationCost + c
		}
		return total, nil
	}
	return p.selCost(op.sel, "")
}

// fields flattens untyped inline fragments into their parent; typed ones
// and spreads are priced as alternatives in selCost.
func (p *pricer) fields(sel []selection) []*field {
	var out []*field
	for _, s := range sel {
		switch {
		case s.field != nil:
			out = append(out, s.field)
		case s.inline != nil && !s.inline.typed:
			out = append(out, p.fields(s.inline.sel)...)
		}
	}
	return out
}

// alternatives are the typed inline fragments and fragment spreads of a
// selection set: the possible types of an interface or union.
func (p *pricer) alternatives(sel []selection) ([][]selection, error) {
	var out [][]selection
	for _, s := range sel {
		switch {
		case s.inline != nil && s.inline.typed:
			out = append(out, s.inline.sel)
		case s.inline != nil:
			alts, err := p.alternatives(s.inline.sel)
			if err != nil {
				return nil, err
			}
			out = append(out, alts...)
		case s.spread != "":
			f, ok := p.doc.fragments[s.spread]
			if !ok {
				return nil, fmt.Errorf("fragment %s is not defined", s.spread)
			}
			out = append(out, f.sel)
		}
	}
	return out, nil
}

func (p *pricer) selCost(sel []selection, path string) (int, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 50 {
		return 0, fmt.Errorf("query is nested too deeply")
	}
	total := 0
	for _, f := range p.fields(sel) {
		c, err := p.fieldCost(f, join(path, f.name))
		if err != nil {
			return 0, err
		}
		total += c
	}
	alts, err := p.alternatives(sel)
	if err != nil {
		return 0, err
	}
	best := 0
	for _, a := range alts {
		c, err := p.selCost(a, path)
		if err != nil {
			return 0, err
		}
		best = max(best, c)
	}
	return total + best, nil
}

func (p *pricer) fieldCost(f *field, path string) (int, error) {
	n, isConn, err := p.pageSize(f)
	if err != nil {
		return 0, err
	}
	if isConn {
		node, err := p.nodeCost(f.sel, path)
		if err != nil {
			return 0, err
		}
		return min(mulCap(n, node)+2, math.MaxInt32), nil
	}
	own := p.ownCost(f, path)
	if !f.hasSS {
		return own, nil
	}
	c, err := p.selCost(f.sel, path)
	return own + c, err
}

// ownCost is what a field costs by itself: 1 for an object, 0 for a
// scalar or an enum, unless a defined cost replaces the default.
func (p *pricer) ownCost(f *field, path string) int {
	if c, ok := p.fieldCosts[path]; ok {
		return c
	}
	if f.hasSS {
		return 1
	}
	return 0
}

// nodeCost is the cost of one node of a connection: the node object (1)
// and what is selected inside it, through `nodes` or `edges { node }`.
func (p *pricer) nodeCost(sel []selection, path string) (int, error) {
	best := 0
	for _, f := range p.fields(sel) {
		switch f.name {
		case "nodes", "node":
			c, err := p.selCost(f.sel, join(path, f.name))
			if err != nil {
				return 0, err
			}
			best = max(best, 1+c)
		case "edges":
			c, err := p.nodeCost(f.sel, join(path, "edges"))
			if err != nil {
				return 0, err
			}
			best = max(best, c)
		}
	}
	return best, nil
}

// pageSize reads `first:` or `last:`. A field that selects `edges` or
// `nodes` without either is refused, as Shopify refuses it.
func (p *pricer) pageSize(f *field) (int, bool, error) {
	for _, arg := range []string{"first", "last"} {
		v, ok := f.args[arg]
		if !ok {
			continue
		}
		if ref, isVar := v.(varRef); isVar {
			if v, ok = p.vars[string(ref)]; !ok || v == nil {
				v = p.op.vars[string(ref)]
			}
		}
		var n float64
		switch x := v.(type) {
		case int64:
			n = float64(x)
		case float64:
			n = x
		case json.Number:
			n, _ = x.Float64()
		default:
			return 0, true, fmt.Errorf("argument %s of %s must be an integer", arg, f.key)
		}
		if n < 0 || n != math.Trunc(n) {
			return 0, true, fmt.Errorf("argument %s of %s must be a non-negative integer", arg, f.key)
		}
		return int(min(n, math.MaxInt32)), true, nil
	}
	for _, c := range p.fields(f.sel) {
		if c.name == "edges" || c.name == "nodes" {
			return 0, true, fmt.Errorf("you must provide one of first or last (%s)", f.key)
		}
	}
	return 0, false, nil
}

// pageSizeAt is the page size (`first:` or `last:`) of the connection at
// path (field names from the root) in the operation, or 0.
func pageSizeAt(doc *document, opName string, vars map[string]any, path ...string) int {
	op, err := doc.operation(opName)
	if err != nil {
		return 0
	}
	p := &pricer{doc: doc, op: op, vars: vars}
	sel := op.sel
	var f *field
	for _, name := range path {
		f = nil
		for _, c := range p.fields(sel) {
			if c.name == name {
				f = c
				break
			}
		}
		if f == nil {
			return 0
		}
		sel = f.sel
	}
	n, _, err := p.pageSize(f)
	if err != nil {
		return 0
	}
	return n
}

// actualCost is what the operation cost given the data it returned: a
// connection pays for the nodes it returned, a null object nothing.
func actualCost(doc *document, opName string, vars map[string]any, fieldCosts map[string]int, data any) int {
	op, err := doc.operation(opName)
	if err != nil {
		return 0
	}
	b, _ := json.Marshal(data) // the stand-in's answers mix map and slice types; read them as JSON does
	var d any
	_ = json.Unmarshal(b, &d)
	p := &pricer{doc: doc, op: op, vars: vars, fieldCosts: fieldCosts}
	obj, _ := d.(map[string]any)
	if op.kind == "mutation" {
		total := 0
		for _, f := range p.fields(op.sel) {
			total += mutationCost + p.actualSel(f.sel, f.name, obj[f.key])
		}
		return total
	}
	return p.actualSel(op.sel, "", obj)
}

func (p *pricer) actualSel(sel []selection, path string, data any) int {
	obj, ok := data.(map[string]any)
	if !ok {
		if list, isList := data.([]any); isList && len(list) > 0 {
			obj, ok = list[0].(map[string]any) // a plain list is priced as one object
		}
	}
	if !ok {
		return 0
	}
	total := 0
	for _, f := range p.fields(sel) {
		total += p.actualField(f, join(path, f.name), obj[f.key])
	}
	alts, _ := p.alternatives(sel)
	best := 0
	for _, a := range alts {
		best = max(best, p.actualSel(a, path, obj))
	}
	return total + best
}

func (p *pricer) actualField(f *field, path string, v any) int {
	if v == nil {
		return 0
	}
	if _, isConn, _ := p.pageSize(f); isConn {
		conn, _ := v.(map[string]any)
		return 2 + p.actualNodes(f.sel, path, conn)
	}
	own := p.ownCost(f, path)
	if !f.hasSS {
		return own
	}
	return own + p.actualSel(f.sel, path, v)
}

func (p *pricer) actualNodes(sel []selection, path string, conn map[string]any) int {
	best := 0
	for _, f := range p.fields(sel) {
		sum := 0
		switch f.name {
		case "nodes":
			list, _ := conn[f.key].([]any)
			for _, n := range list {
				sum += 1 + p.actualSel(f.sel, join(path, "nodes"), n)
			}
		case "edges":
			list, _ := conn[f.key].([]any)
			for _, e := range list {
				edge, _ := e.(map[string]any)
				for _, nf := range p.fields(f.sel) {
					if nf.name == "node" && edge[nf.key] != nil {
						sum += 1 + p.actualSel(nf.sel, join(path, "edges.node"), edge[nf.key])
					}
				}
			}
		}
		best = max(best, sum)
	}
	return best
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// mulCap multiplies page size by node cost, saturating instead of
// overflowing on absurd nesting: such a query is refused either way.
func mulCap(a, b int) int {
	if a != 0 && b > math.MaxInt32/a {
		return math.MaxInt32
	}
	return a * b
}

// QueryCost is the requested cost of a query with its variables, priced by
// the rules above: what Shopify charges the bucket before the query runs,
// and what must not exceed MaxQueryCost.
func QueryCost(query string, variables map[string]any) (int, error) {
	doc, err := parseDocument(query)
	if err != nil {
		return 0, err
	}
	return requestedCost(doc, "", variables, nil)
}

// Plan is a shop's rate-limit tier. Shopify gives each app and store pair a
// leaky bucket that refills at the plan's restore rate
// (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits, "100
// points/second" on Standard and so on; the algorithm is
// https://shopify.dev/docs/api/usage/limits#the-leaky-bucket-algorithm). The
// page gives no bucket sizes; Shopify's answers report maximumAvailable as
// twenty seconds of restore: 2,000 at 100 points/s (for example in the
// community thread cited above) and 20,000 at 1,000. The stand-in assumes
// the same for the other plans.
type Plan struct {
	Name        string
	RestoreRate float64 // points per second
	BucketSize  float64 // maximumAvailable
}

// The plans on Shopify's rate-limits page.
var (
	PlanStandard   = Plan{Name: "Standard", RestoreRate: 100, BucketSize: 2000}
	PlanAdvanced   = Plan{Name: "Advanced Shopify", RestoreRate: 200, BucketSize: 4000}
	PlanPlus       = Plan{Name: "Shopify Plus", RestoreRate: 1000, BucketSize: 20000}
	PlanEnterprise = Plan{Name: "Shopify for enterprise", RestoreRate: 2000, BucketSize: 40000}
)

// bucket is the shop's cost bucket for the one app the stand-in serves.
type bucket struct {
	mu    sync.Mutex
	plan  Plan
	avail float64
	at    time.Time // when avail was last brought up to date
	costs map[string]int
	// throttled counts THROTTLED answers, for tests.
	throttled int
	// drain is how many of the next queries find the bucket emptied just
	// before them (DrainBeforeNextQueries).
	drain int
}

// throttleStatus is extensions.cost.throttleStatus.
type throttleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

func (b *bucket) refillLocked(now time.Time) {
	if b.plan.RestoreRate == 0 {
		b.plan = PlanStandard
		b.avail = b.plan.BucketSize
	}
	if !b.at.IsZero() && now.After(b.at) {
		b.avail = min(b.plan.BucketSize, b.avail+now.Sub(b.at).Seconds()*b.plan.RestoreRate)
	}
	b.at = now
}

func (b *bucket) statusLocked() throttleStatus {
	return throttleStatus{MaximumAvailable: b.plan.BucketSize, CurrentlyAvailable: math.Floor(b.avail), RestoreRate: b.plan.RestoreRate}
}

// take charges the requested cost, or reports that the bucket cannot pay it.
func (b *bucket) take(now time.Time, cost int) (throttleStatus, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(now)
	if b.drain > 0 {
		b.drain--
		b.avail = 0
	}
	if float64(cost) > b.avail {
		b.throttled++
		return b.statusLocked(), false
	}
	b.avail -= float64(cost)
	return b.statusLocked(), true
}

// refund gives back what the query was charged but did not use.
func (b *bucket) refund(now time.Time, points int) throttleStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(now)
	b.avail = min(b.plan.BucketSize, b.avail+float64(max(points, 0)))
	return b.statusLocked()
}

func (b *bucket) fieldCosts() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.costs
}

// AddStore makes the stand-in serve one more store of the app, reached with
// its own custom-app token, as a scale test connects many shops to one
// stand-in. "Each combination of app and store is given a bucket size and
// restore rate based on the store's plan"; "calls to one store don't affect
// the rate limits of another store, even from the same app"
// (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits), so
// the new store gets its own bucket, on the Standard plan. Its orders are
// the stand-in's one set, keyed by order ID.
func (s *Store) AddStore(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.others == nil {
		s.others = map[string]*bucket{}
	}
	if s.others[token] == nil {
		s.others[token] = &bucket{}
	}
}

// bucketFor is the cost bucket of the store the token belongs to.
func (s *Store) bucketFor(token string) *bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.others[token]; b != nil {
		return b
	}
	return &s.bucket
}

// SetPlan puts the shop on a plan, with a full bucket.
func (s *Store) SetPlan(p Plan) {
	s.bucket.mu.Lock()
	defer s.bucket.mu.Unlock()
	s.bucket.plan, s.bucket.avail, s.bucket.at = p, p.BucketSize, s.now()
}

// DrainBeforeNextQueries empties the bucket just before each of the next n
// queries, as other calls of the same app and store would if they spent the
// bucket between Candor's calls: each app and store pair has one bucket, and
// a query whose requested cost exceeds what is left gets THROTTLED
// (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits). A test
// that empties the bucket once races its restore rate: a cheap query a
// moment later finds enough points again.
func (s *Store) DrainBeforeNextQueries(n int) {
	s.bucket.mu.Lock()
	defer s.bucket.mu.Unlock()
	s.bucket.drain = n
}

// SetBucketAvailable sets the points left in the bucket now. See
// DrainBeforeNextQueries for a drain that does not race the restore rate.
func (s *Store) SetBucketAvailable(points float64) {
	s.bucket.mu.Lock()
	defer s.bucket.mu.Unlock()
	s.bucket.refillLocked(s.now())
	s.bucket.avail = min(points, s.bucket.plan.BucketSize)
}

// SetFieldCost gives the field at path (field names from the root,
// "order.customer") its own cost in place of the default, as Shopify's
// schema does for some fields.
func (s *Store) SetFieldCost(path string, cost int) {
	s.bucket.mu.Lock()
	defer s.bucket.mu.Unlock()
	costs := map[string]int{path: cost}
	for k, v := range s.bucket.costs {
		if k != path {
			costs[k] = v
		}
	}
	s.bucket.costs = costs
}

// Throttled reports how many requests were answered THROTTLED.
func (s *Store) Throttled() int {
	s.mu.Lock()
	buckets := []*bucket{&s.bucket}
	for _, b := range s.others {
		buckets = append(buckets, b)
	}
	s.mu.Unlock()
	n := 0
	for _, b := range buckets {
		b.mu.Lock()
		n += b.throttled
		b.mu.Unlock()
	}
	return n
}

// costExtension is extensions.cost as Shopify returns it; actualQueryCost
// is null when the query did not run.
func costExtension(requested int, actual *int, st throttleStatus) map[string]any {
	return map[string]any{"cost": map[string]any{
		"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": st}}
}

// maxCostExceeded is Shopify's answer to a query over MaxQueryCost: HTTP 200,
// no data, nothing charged.
func maxCostExceeded(cost int) map[string]any {
	return map[string]any{"errors": []map[string]any{{
		"message": fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).\n\n"+
			"See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"+
			"cost of a query is calculated.\n\n"+
			"To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"+
			"See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n", cost, MaxQueryCost),
		"extensions": map[string]any{"code": shopify.CodeMaxCostExceeded, "cost": cost, "maxCost": MaxQueryCost,
			"documentation": "https://shopify.dev/api/usage/limits#rate-limits"},
	}}}
}

// throttled is Shopify's answer when the bucket cannot pay for the query:
// HTTP 200, no data, and the bucket's state in the top-level extensions
// (https://community.shopify.com/t/graphql-admin-api-example-throttled-requests-response/8456).
func throttled(requested int, st throttleStatus) map[string]any {
	return map[string]any{
		"errors": []map[string]any{{"message": "Throttled", "extensions": map[string]any{
			"code": shopify.CodeThrottled, "documentation": "https://shopify.dev/api/usage/limits#rate-limits"}}},
		"extensions": costExtension(requested, nil, st),
	}
}
