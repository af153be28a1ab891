package activities

import (
	"context"

	"github.com/candorhq/candor/telemetry"
)

// Metrics come from the activity's context (telemetry.WithMetrics, set as
// the worker's BackgroundActivityContext); without them nothing is counted.

// sent counts a send attempt's end.
func sent(ctx context.Context, kind string) func(SendResult, error) (SendResult, error) {
	return func(r SendResult, err error) (SendResult, error) {
		telemetry.From(ctx).Send(kind, r.Status, r.Reason, err)
		return r, err
	}
}

// erasureStep counts a privacy request's step on system.
func erasureStep(ctx context.Context, system string) func(StepResult, error) (StepResult, error) {
	return func(r StepResult, err error) (StepResult, error) {
		telemetry.From(ctx).ErasureStep(system, r.Verified, err)
		return r, err
	}
}

// noted is a retention step's result: whether something could not be done.
type noted interface{ incomplete() bool }

func (p PolicySweep) incomplete() bool { return len(p.Notes) > 0 }

func (ps policySweeps) incomplete() bool {
	for _, p := range ps {
		if p.incomplete() {
			return true
		}
	}
	return false
}

type policySweeps []PolicySweep

// retentionStep counts a retention sweep's step on system.
func retentionStep[R any](ctx context.Context, system string) func(R, error) (R, error) {
	return func(r R, err error) (R, error) {
		var n noted
		switch v := any(r).(type) {
		case []PolicySweep:
			n = policySweeps(v)
		case noted:
			n = v
		}
		telemetry.From(ctx).RetentionStep(system, n != nil && n.incomplete(), err)
		return r, err
	}
}
