package workflows

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
)

// RetentionScheduleID is the Temporal Schedule that runs the sweep.
const RetentionScheduleID = "candor-retention"

// RetentionInterval is how often the schedule sweeps.
const RetentionInterval = time.Hour

// Retention runs one sweep: the same workflow for the schedule and for
// `candor retention run`.
func Retention(ctx workflow.Context) (activities.SweepResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute},
	})
	var res activities.SweepResult
	err := workflow.ExecuteActivity(ctx, a.Sweep).Get(ctx, &res)
	return res, err
}

// EnsureRetentionSchedule creates the schedule, or brings an existing one
// back to the current interval; it is safe to call at every worker start.
func EnsureRetentionSchedule(ctx context.Context, c client.Client) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: RetentionInterval}}}
	action := &client.ScheduleWorkflowAction{ID: "retention/scheduled", Workflow: Retention, TaskQueue: TaskQueue}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: RetentionScheduleID, Spec: spec, Action: action,
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP}) // one sweep at a time
	if err == nil || !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	return c.ScheduleClient().GetHandle(ctx, RetentionScheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			in.Description.Schedule.Spec = &spec
			in.Description.Schedule.Action = action
			return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
		},
	})
}
