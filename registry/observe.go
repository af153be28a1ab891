package registry

import (
	"context"
	"time"
)

// Observer is told what appends do, for metrics (telemetry.Metrics is
// one). It sees only systems and actions, never an entry's shop, subject
// or ref.
type Observer interface {
	// HeadLockWaited is how long taking the head locks of one append's
	// chains took (all of them at once).
	HeadLockWaited(time.Duration)
	// Appended is one entry written in an append's transaction (which
	// may still roll back).
	Appended(system, action string)
}

type observerKey struct{}

// WithObserver returns ctx whose appends tell o.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

func observerOf(ctx context.Context) Observer {
	if o, ok := ctx.Value(observerKey{}).(Observer); ok && o != nil {
		return o
	}
	return nil
}
