package shopify_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
)

const (
	costToken   = "shpat_cost"
	costVersion = "2026-10"
	costShop    = "candor-demo.myshopify.com"
)

// Every query Candor sends, priced the way Shopify documents it, fits
// under the 1,000-point maximum for one query.
func TestEveryQueryCandorSendsFitsUnderShopifysMaximumCost(t *testing.T) {
	vars := map[string]any{"id": "gid://shopify/Order/1", "after": "c", "query": "x", "topic": "ORDERS_FULFILLED", "sub": map[string]any{}}
	for name, doc := range shopify.Operations {
		if got := shopify.OperationName(doc); got != name {
			t.Errorf("shopify.Operations[%q] holds operation %q", name, got)
		}
		cost, err := shopifytest.QueryCost(doc, vars)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if cost > shopifytest.MaxQueryCost {
			t.Errorf("%s requests %d points, over Shopify's maximum of %d", name, cost, shopifytest.MaxQueryCost)
		}
	}
}

// shopify.Operations is the list the test above checks, so it must hold
// every GraphQL document in the packages that talk to Shopify.
func TestOperations_ListsEveryGraphQLDocumentInTheCode(t *testing.T) {
	listed := map[string]bool{}
	for _, doc := range shopify.Operations {
		listed[doc] = true
	}
	for _, dir := range []string{".", "../../activities", "../../web", "../../workflows", "../../cmd/candor"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				trimmed := strings.TrimSpace(s)
				if (strings.HasPrefix(trimmed, "query ") || strings.HasPrefix(trimmed, "mutation ")) && strings.Contains(s, "{") && !listed[s] {
					t.Errorf("%s: GraphQL document %s is not in shopify.Operations", file, shopify.OperationName(s))
				}
				return true
			})
		}
	}
}

func costFixture(t *testing.T) (*shopifytest.Store, *shopify.Admin) {
	t.Helper()
	s := shopifytest.New(costToken, costVersion)
	t.Cleanup(s.Close)
	s.SetOrder(shopifytest.DemoOrder(5151))
	admin, err := shopify.NewAdmin(shopify.AdminConfig{APIVersion: costVersion, BaseURL: s.URL}, costShop, costToken)
	if err != nil {
		t.Fatal(err)
	}
	return s, admin
}

// An empty bucket is waited out for as long as Shopify's throttle status
// says it needs to hold the query's cost, then the query is sent again.
func TestAdmin_ThrottledWaitsForTheRestoreThenRetries(t *testing.T) {
	s, admin := costFixture(t)
	s.SetPlan(shopifytest.PlanPlus) // 1,000 points a second: CandorOrderStatus (205) needs 0.205s
	s.SetBucketAvailable(0)
	start := time.Now()
	st, err := admin.OrderStatus(context.Background(), 5151)
	if err != nil {
		t.Fatalf("order status with an empty bucket: %v", err)
	}
	if !st.Found || len(st.ProductHandles) != 2 {
		t.Fatalf("status %+v", st)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("answered after %v: did not wait for the bucket to restore 205 points at 1,000/s", took)
	}
	if s.Throttled() != 1 || s.Calls("CandorOrderStatus") != 1 {
		t.Errorf("%d throttled, %d answered; want 1 and 1 (one wait long enough, not polling)", s.Throttled(), s.Calls("CandorOrderStatus"))
	}
}

// The wait is bounded by the context: a restore that would outlast it is
// handed back at once as a retryable error carrying the wait.
func TestAdmin_ThrottledPastTheDeadlineIsRetryableWithTheRestoreWait(t *testing.T) {
	s, admin := costFixture(t)
	s.SetPlan(shopifytest.PlanStandard) // 100 points a second: 205 points need 2.05s
	s.SetBucketAvailable(0)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := admin.OrderStatus(ctx, 5151)
	var se *shopify.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *shopify.Error", err)
	}
	if !se.Retryable || se.Code != shopify.CodeThrottled {
		t.Errorf("error %+v, want retryable %s", se, shopify.CodeThrottled)
	}
	if se.RetryAfter < 2*time.Second || se.RetryAfter > 2100*time.Millisecond {
		t.Errorf("retry after %v, want the 2.05s the bucket needs", se.RetryAfter)
	}
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Errorf("returned after %v: it slept although the wait could not fit", took)
	}
	if s.Calls("CandorOrderStatus") != 0 {
		t.Error("the query ran")
	}
}

// A query Shopify prices over the maximum fails at once, names the query
// and is not retryable: the same query can only fail again.
func TestAdmin_MaxCostExceededNamesTheQueryAndIsNotRetryable(t *testing.T) {
	s, admin := costFixture(t)
	s.SetFieldCost("order.customer", 2000) // Shopify prices this field far above the default
	_, err := admin.OrderStatus(context.Background(), 5151)
	var se *shopify.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *shopify.Error", err)
	}
	if se.Retryable || se.Code != shopify.CodeMaxCostExceeded {
		t.Errorf("error %+v, want non-retryable %s", se, shopify.CodeMaxCostExceeded)
	}
	for _, want := range []string{"CandorOrderStatus", "2204", "1000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if s.Throttled() != 0 || s.Calls("CandorOrderStatus") != 0 {
		t.Error("the query was throttled or ran")
	}
}
