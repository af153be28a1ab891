package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/candorhq/candor/workflows"
)

// Every schedule Candor runs goes through workflows.EnsureSchedules: a
// worker's start creates each, another start is no error, and a schedule
// whose spec was changed by hand is brought back to Candor's.
func TestEnsureSchedules_CreatesEachAndRestoresADriftedSpec(t *testing.T) {
	ctx := context.Background()
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	want := map[string]time.Duration{
		workflows.RetentionScheduleID:      workflows.RetentionInterval,
		workflows.ReconcileScheduleID:      workflows.ReconcileInterval,
		workflows.PrivacyRedriveScheduleID: workflows.PrivacyRedriveInterval,
		workflows.CheckpointScheduleID:     workflows.CheckpointInterval,
	}
	// Removed at the end, so none can fire into the package's other tests.
	t.Cleanup(func() {
		for id := range want {
			_ = tc.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
		}
	})
	for i := 0; i < 2; i++ {
		if err := workflows.EnsureSchedules(ctx, tc); err != nil {
			t.Fatalf("ensure the schedules (%d): %v", i, err)
		}
	}
	drifted := tc.ScheduleClient().GetHandle(ctx, workflows.ReconcileScheduleID)
	if err := drifted.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		in.Description.Schedule.Spec = &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 7 * time.Minute}}}
		return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := workflows.EnsureSchedules(ctx, tc); err != nil {
		t.Fatalf("ensure the schedules after the drift: %v", err)
	}

	for id, every := range want {
		desc, err := tc.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		if iv := desc.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != every {
			t.Errorf("schedule %s runs every %+v, want %v", id, iv, every)
		}
	}
}
