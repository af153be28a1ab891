package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeat keeps telling Temporal the activity is alive, from beside its
// blocking calls, until the returned stop is called. It does so only when
// the workflow gave the activity a HeartbeatTimeout: then, if the worker
// dies (a SIGKILL, an OOM kill), Temporal starts the next attempt once that
// timeout passes instead of waiting out the whole StartToCloseTimeout. The
// SDK batches the beats (at most one call every 0.8 × the timeout), so
// beating four times per timeout costs little.
//
// The beats carry no details: nothing about the request reaches Temporal.
func heartbeat(ctx context.Context) (stop func()) {
	timeout := activity.GetInfo(ctx).HeartbeatTimeout
	if timeout <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(timeout / 4)
		defer t.Stop()
		for {
			activity.RecordHeartbeat(ctx)
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
