package workflows

// One home for Candor's Temporal Schedules: the list of them, and the one
// helper that creates each or brings it back to its spec.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// EnsureSchedules makes sure of every schedule Candor runs: the retention
// sweep, the daily reconciliation, the privacy re-drive and the registry's
// hourly checkpoint. Workers call it
// at start; it is safe from any number of them.
func EnsureSchedules(ctx context.Context, c client.Client) error {
	for _, s := range []struct {
		id     string
		ensure func(context.Context, client.Client) error
	}{
		{RetentionScheduleID, EnsureRetentionSchedule},
		{ReconcileScheduleID, EnsureReconcileSchedule},
		{PrivacyRedriveScheduleID, EnsurePrivacyRedriveSchedule},
		{CheckpointScheduleID, EnsureCheckpointSchedule},
	} {
		if err := s.ensure(ctx, c); err != nil {
			return fmt.Errorf("create the %s schedule: %w", s.id, err)
		}
	}
	return nil
}

// ensureSchedule creates the schedule id that starts workflow(args) every interval,
// one run at a time, or brings an existing one back to this spec and
// action; it is safe to call at every worker start, from any number of
// workers.
func ensureSchedule(ctx context.Context, c client.Client, id string, every time.Duration, workflowID string, workflow any, args ...any) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{ID: workflowID, Workflow: workflow, Args: args, TaskQueue: TaskQueue}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: id, Spec: spec, Action: action,
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP})
	if err == nil || !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	return c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			in.Description.Schedule.Spec = &spec
			in.Description.Schedule.Action = action
			return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
		},
	})
}
