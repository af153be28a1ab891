package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/workflows"
)

// shopPages answers ShopPage from a sorted list of shops, as Postgres does.
func shopPages(shops []string) func(context.Context, activities.ShopPageInput) ([]string, error) {
	return func(_ context.Context, in activities.ShopPageInput) ([]string, error) {
		i, _ := slices.BinarySearch(shops, in.After)
		if i < len(shops) && shops[i] == in.After {
			i++
		}
		return shops[i:min(i+in.Limit, len(shops))], nil
	}
}

func TestReconcile_OneShopsFailureDoesNotStopTheOthers(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var acts *activities.Activities
	env.RegisterActivity(acts)
	env.RegisterWorkflow(workflows.ReconcileOneShop)
	env.OnActivity(acts.ShopPage, mock.Anything, mock.Anything).Return(shopPages([]string{"a.myshopify.com", "b.myshopify.com", "c.myshopify.com"}))
	var mu sync.Mutex
	attempts := map[string]int{}
	env.OnActivity(acts.ReconcileShop, mock.Anything, mock.Anything).Return(
		func(_ context.Context, shop string) (activities.ReconcileShopResult, error) {
			mu.Lock()
			attempts[shop]++
			mu.Unlock()
			switch shop {
			case "b.myshopify.com":
				return activities.ReconcileShopResult{}, errors.New("Shopify unavailable")
			case "c.myshopify.com":
				return activities.ReconcileShopResult{}, temporal.NewNonRetryableApplicationError("token revoked", review.ErrShopifyRejected, nil)
			}
			return activities.ReconcileShopResult{Started: 2, Known: 1, OrdersSeen: 3}, nil
		})
	env.ExecuteWorkflow(workflows.Reconcile, workflows.ReconcileInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.ReconcileResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Failed)
	if res.Shops != 3 || res.Started != 2 || res.FailedShops != 2 || !slices.Equal(res.Failed, []string{"b.myshopify.com", "c.myshopify.com"}) {
		t.Fatalf("result %+v", res)
	}
	if r := res.PerShop["a.myshopify.com"]; r.Started != 2 || len(res.PerShop) != 1 {
		t.Fatalf("per shop %+v", res.PerShop)
	}
	// A transient failure is retried (5 attempts); a rejected token is not.
	if attempts["a.myshopify.com"] != 1 || attempts["b.myshopify.com"] != 5 || attempts["c.myshopify.com"] != 1 {
		t.Fatalf("attempts %v", attempts)
	}
}

// TestReconcile_TenThousandShopsContinueAsNewPageByPage runs a
// reconciliation of 10,000 shops (the old single history gave out at about
// 8,500) with mocked activities: each run covers one page of shops as child
// workflows and continues as new, so no run's history holds more than a
// page; each shop is reconciled once, by one call at a time (its Shopify
// cost bucket sees a single client), with a bounded number of shops at once.
func TestReconcile_TenThousandShopsContinueAsNewPageByPage(t *testing.T) {
	const n = 10000
	shops := make([]string, n)
	revoked := map[string]bool{} // one shop in a thousand: its token was revoked
	for i := range shops {
		shops[i] = fmt.Sprintf("shop-%05d.myshopify.com", i)
		if i%1000 == 999 {
			revoked[shops[i]] = true
		}
	}
	var (
		mu                 sync.Mutex
		calls              = map[string]int{}
		busy               = map[string]bool{}
		inFlight, maxIn    int
		sameShopConcurrent bool
	)
	in := workflows.ReconcileInput{}
	var res workflows.ReconcileResult
	runs := 0
	for {
		runs++
		if runs > n {
			t.Fatal("no end")
		}
		var suite testsuite.WorkflowTestSuite
		suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		env := suite.NewTestWorkflowEnvironment()
		var acts *activities.Activities
		env.RegisterActivity(acts)
		// The test environment does each child's start on the parent's
		// goroutine (a real worker only queues the command), so on a busy
		// machine a page of starts can outlast the deadlock detector's 1 s.
		env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
		env.RegisterWorkflow(workflows.ReconcileOneShop)
		env.OnActivity(acts.ShopPage, mock.Anything, mock.Anything).Return(shopPages(shops))
		perRun := 0
		env.OnActivity(acts.ReconcileShop, mock.Anything, mock.Anything).Return(
			func(_ context.Context, shop string) (activities.ReconcileShopResult, error) {
				mu.Lock()
				calls[shop]++
				perRun++
				if busy[shop] {
					sameShopConcurrent = true
				}
				busy[shop] = true
				inFlight++
				maxIn = max(maxIn, inFlight)
				mu.Unlock()
				defer func() {
					mu.Lock()
					busy[shop] = false
					inFlight--
					mu.Unlock()
				}()
				if revoked[shop] {
					return activities.ReconcileShopResult{}, temporal.NewNonRetryableApplicationError("token revoked", review.ErrShopifyRejected, nil)
				}
				return activities.ReconcileShopResult{Started: 1}, nil
			})
		env.ExecuteWorkflow(workflows.Reconcile, in)
		if perRun > 200 {
			t.Fatalf("run %d reconciled %d shops: a page is 200", runs, perRun)
		}
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			in = workflows.ReconcileInput{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		break
	}
	if runs != n/200+1 { // the last run finds the page after the last shop empty
		t.Errorf("%d runs, want %d", runs, n/200+1)
	}
	if len(calls) != n {
		t.Fatalf("%d shops reconciled, want %d", len(calls), n)
	}
	for shop, c := range calls {
		if c != 1 { // a rejected token is not retried either
			t.Fatalf("%s reconciled %d times", shop, c)
		}
	}
	if sameShopConcurrent {
		t.Error("two calls for the same shop ran at once")
	}
	if maxIn > 20 {
		t.Errorf("%d shops at once, want at most 20", maxIn)
	}
	if res.Shops != n || res.FailedShops != 10 || len(res.Failed) != 10 || res.Started != n-10 || res.PerShop != nil {
		t.Fatalf("result: shops %d, failed %d %v, started %d, per shop %d", res.Shops, res.FailedShops, res.Failed, res.Started, len(res.PerShop))
	}
	t.Logf("%d runs, at most %d shops at once", runs, maxIn)
}
