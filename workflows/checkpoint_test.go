package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/workflows"
)

func TestRegistryCheckpoint_RetriesAFailureButNotATamperedChain(t *testing.T) {
	for _, c := range []struct {
		name      string
		fail      error
		wantCalls int
	}{
		{"database away", errors.New("connection refused"), 5},
		{"tampered", temporal.NewNonRetryableApplicationError("entry 3 of shop a does not fit", activities.ErrRegistryTampered, nil), 1},
		{"fine", nil, 1},
	} {
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestWorkflowEnvironment()
		env.RegisterWorkflow(workflows.RegistryCheckpoint)
		calls := 0
		env.OnActivity(acts.RegistryCheckpoint, mock.Anything).Return(func(context.Context) (activities.CheckpointResult, error) {
			calls++
			if c.fail != nil {
				return activities.CheckpointResult{}, c.fail
			}
			return activities.CheckpointResult{At: time.Now(), Chains: 2}, nil
		})
		env.ExecuteWorkflow(workflows.RegistryCheckpoint)
		err := env.GetWorkflowError()
		if (err == nil) != (c.fail == nil) || calls != c.wantCalls {
			t.Errorf("%s: %v after %d calls, want %d", c.name, err, calls, c.wantCalls)
		}
	}
}
