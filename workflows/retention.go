package workflows

import (
	"context"
	"time"

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
// `candor retention run`. SendGrid goes first, while the request rows still
// say which recipients to name; then Temporal histories; then the rows.
// Each activity reads back what it deleted and fails (and is retried) while
// anything past policy is left.
func Retention(ctx workflow.Context) (activities.SweepResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute},
	})
	runID := workflow.GetInfo(ctx).WorkflowExecution.ID
	var res activities.SweepResult
	var sg activities.PolicySweep
	if err := workflow.ExecuteActivity(ctx, a.SweepSendGrid, runID).Get(ctx, &sg); err != nil {
		return res, err
	}
	var tr activities.TemporalSweep
	if err := workflow.ExecuteActivity(ctx, a.SweepTemporal, runID).Get(ctx, &tr); err != nil {
		return res, err
	}
	var pg []activities.PolicySweep
	if err := workflow.ExecuteActivity(ctx, a.SweepPostgres, runID).Get(ctx, &pg); err != nil {
		return res, err
	}
	res.Policies = append(append(pg, sg), tr.PolicySweep)
	res.TemporalRetention, res.TemporalWithinRule = tr.NamespaceRetention, tr.WithinPolicy
	return res, nil
}

// EnsureRetentionSchedule creates the schedule, or brings an existing one
// back to the current interval; it is safe to call at every worker start.
func EnsureRetentionSchedule(ctx context.Context, c client.Client) error {
	return ensureSchedule(ctx, c, RetentionScheduleID, RetentionInterval, "retention/scheduled", Retention) // one sweep at a time
}
