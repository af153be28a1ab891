package workflows

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
)

// CheckpointScheduleID is the Temporal Schedule that signs the registry's
// chain heads (registry.MakeCheckpoint).
const CheckpointScheduleID = "candor-registry-checkpoint"

// CheckpointInterval is how often it does.
const CheckpointInterval = time.Hour

// RegistryCheckpoint makes one signed checkpoint of the registry.
func RegistryCheckpoint(ctx workflow.Context) (activities.CheckpointResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 5 * time.Minute,
			MaximumAttempts: 5, NonRetryableErrorTypes: []string{activities.ErrRegistryTampered}},
	})
	var res activities.CheckpointResult
	err := workflow.ExecuteActivity(ctx, a.RegistryCheckpoint).Get(ctx, &res)
	return res, err
}

// EnsureCheckpointSchedule creates the schedule, or brings it back to its
// spec; safe at every worker start.
func EnsureCheckpointSchedule(ctx context.Context, c client.Client) error {
	return ensureSchedule(ctx, c, CheckpointScheduleID, CheckpointInterval, "registry-checkpoint/scheduled", RegistryCheckpoint)
}
