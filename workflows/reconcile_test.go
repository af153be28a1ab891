package workflows_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/workflows"
)

func TestReconcile_OneShopsFailureDoesNotStopTheOthers(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var acts *activities.Activities
	env.RegisterActivity(acts)
	env.OnActivity(acts.ConnectedShops, mock.Anything).Return([]string{"a.myshopify.com", "b.myshopify.com", "c.myshopify.com"}, nil)
	attempts := map[string]int{}
	env.OnActivity(acts.ReconcileShop, mock.Anything, mock.Anything).Return(
		func(_ context.Context, shop string) (activities.ReconcileShopResult, error) {
			attempts[shop]++
			switch shop {
			case "b.myshopify.com":
				return activities.ReconcileShopResult{}, errors.New("Shopify unavailable")
			case "c.myshopify.com":
				return activities.ReconcileShopResult{}, temporal.NewNonRetryableApplicationError("token revoked", review.ErrShopifyRejected, nil)
			}
			return activities.ReconcileShopResult{Started: 2, Known: 1, OrdersSeen: 3}, nil
		})
	env.ExecuteWorkflow(workflows.Reconcile)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.ReconcileResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Shops != 3 || res.Started != 2 || !slices.Equal(res.Failed, []string{"b.myshopify.com", "c.myshopify.com"}) {
		t.Fatalf("result %+v", res)
	}
	// A transient failure is retried (5 attempts); a rejected token is not.
	if attempts["a.myshopify.com"] != 1 || attempts["b.myshopify.com"] != 5 || attempts["c.myshopify.com"] != 1 {
		t.Fatalf("attempts %v", attempts)
	}
}
