package workflows_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

// privacyRun runs PrivacyRequest with every step mocked, recording the
// order of the steps. keysFail makes ShredKeys fail that many times.
func privacyRun(t *testing.T, kind string, keysFail int) ([]string, workflows.PrivacyRequestResult, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.PrivacyRequest)
	var calls []string
	step := func(name string) func(context.Context, string) (activities.StepResult, error) {
		return func(_ context.Context, id string) (activities.StepResult, error) {
			calls = append(calls, name)
			if name == "ShredKeys" && keysFail > 0 {
				keysFail--
				return activities.StepResult{}, temporal.NewApplicationError("1 data keys still present", activities.ErrNotYetGone)
			}
			return activities.StepResult{Found: 1, Done: 1, Verified: true}, nil
		}
	}
	for name, fn := range map[string]any{"StopReviews": acts.StopReviews, "ErasePostgres": acts.ErasePostgres, "EraseSendGrid": acts.EraseSendGrid,
		"ShredKeys": acts.ShredKeys, "RevokeToken": acts.RevokeToken, "BuildReport": acts.BuildReport} {
		env.OnActivity(fn, mock.Anything, mock.Anything).Return(step(name))
	}
	env.OnActivity(acts.FinishPrivacy, mock.Anything, mock.Anything).Return(func(context.Context, string) error {
		calls = append(calls, "FinishPrivacy")
		return nil
	})
	env.ExecuteWorkflow(workflows.PrivacyRequest, workflows.PrivacyRequestInput{RequestID: "pr_test", Kind: kind})
	var res workflows.PrivacyRequestResult
	err := env.GetWorkflowError()
	if err == nil {
		err = env.GetWorkflowResult(&res)
	}
	return calls, res, err
}

func TestPrivacyRequest_ErasureDestroysTheKeysBeforeTheRowsAndRetriesUntilVerified(t *testing.T) {
	for _, kind := range []string{store.KindCustomerRedact, store.KindShopRedact} {
		calls, res, err := privacyRun(t, kind, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := "StopReviews,EraseSendGrid,ShredKeys,ShredKeys,ShredKeys,ErasePostgres,FinishPrivacy"
		if got := strings.Join(calls, ","); got != want {
			t.Errorf("%s: steps %s, want %s (keys after SendGrid, which needs the subject's key, and before the rows)", kind, got, want)
		}
		if !res.Steps["keys"].Verified {
			t.Errorf("%s: keys step %+v", kind, res.Steps["keys"])
		}
	}
	for _, kind := range []string{store.KindDataRequest, store.KindUninstall} {
		calls, _, err := privacyRun(t, kind, 0)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(calls, ","), "ShredKeys") {
			t.Errorf("%s destroyed keys: %v", kind, calls)
		}
	}
	if _, _, err := privacyRun(t, "bogus", 0); err == nil || !errors.As(err, new(*temporal.WorkflowExecutionError)) {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestDataKeyOwner_OnlyReviewWorkflowsGetARequestKey(t *testing.T) {
	ring, _ := keys.New(make([]byte, 32))
	owner := workflows.DataKeyOwner(ring)
	shop, who, ok := owner(review.WorkflowID("a.myshopify.com", 1001))
	if !ok || shop != "a.myshopify.com" || who != ring.RequestID("a.myshopify.com", 1001) {
		t.Fatalf("review workflow: %q %q %t", shop, who, ok)
	}
	for _, id := range []string{"", "review/", "review/a.myshopify.com", "review/a.myshopify.com/", "review//12",
		"review/a.myshopify.com/12x", "review/a.myshopify.com/-3", "review/a.myshopify.com/0",
		workflows.PrivacyRequestID(store.KindCustomerRedact, "a.myshopify.com", "pr_1"), "retention/manual/x"} {
		if _, _, ok := owner(id); ok {
			t.Errorf("%q got a request key", id)
		}
	}
}
