// Package pacing owns the budgets Candor's calls to other services share
// across every worker process: a token bucket per key (a Shopify shop's
// GraphQL query-cost points, the SendGrid account's Mail Send calls), kept
// in Postgres so no process assumes it is the only one calling.
//
// A caller reserves its cost, then waits until the bucket would have held
// it: callers are served in the order they reserved, and Shopify or
// SendGrid never sees more than the bucket allows. It stores no personal
// data: keys are shop domains and service names.
package pacing

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jmoiron/sqlx"
)

// Budget is a bucket's size and refill rate: Capacity units at most,
// Rate units a second.
type Budget struct {
	Capacity float64
	Rate     float64
}

// Limiter paces calls through Postgres.
type Limiter struct {
	db *sqlx.DB
}

// New returns a limiter whose buckets live in db (table rate_buckets).
func New(db *sqlx.DB) *Limiter { return &Limiter{db: db} }

// reserveSQL refills the bucket for the time since its last use, takes
// cost, and answers what is left, in one statement: the row lock lasts only
// as long as it does. A bucket made by its first use starts full; one that
// exists keeps the budget it has (Observe may have learned a truer one).
const reserveSQL = `INSERT INTO rate_buckets AS b (key, available, capacity, rate, at)
VALUES ($1, $2::float8 - $4::float8, $2, $3, clock_timestamp())
ON CONFLICT (key) DO UPDATE SET
    available = LEAST(b.capacity, b.available + b.rate * EXTRACT(EPOCH FROM clock_timestamp() - b.at)) - $4::float8,
    at = clock_timestamp()
RETURNING available, rate`

// Wait reserves cost from key's bucket (made with budget b on first use)
// and returns when the bucket covers it. If ctx ends first, or would end
// before the bucket covers it, the reservation is returned to the bucket
// and the error says how long the wait would have been.
func (l *Limiter) Wait(ctx context.Context, key string, cost float64, b Budget) error {
	if b.Capacity <= 0 || b.Rate <= 0 {
		return fmt.Errorf("pacing %s: a budget needs a capacity and a rate", key)
	}
	var available, rate float64
	if err := l.db.QueryRowxContext(ctx, reserveSQL, key, b.Capacity, b.Rate, cost).Scan(&available, &rate); err != nil {
		return fmt.Errorf("pacing %s: reserve: %w", key, err)
	}
	if available >= 0 {
		return nil
	}
	wait := time.Duration(math.Ceil(-available / rate * float64(time.Second)))
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
		l.giveBack(key, cost)
		return &WaitError{Key: key, Wait: wait}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		l.giveBack(key, cost)
		return &WaitError{Key: key, Wait: wait}
	}
}

// WaitError is a wait for a bucket that the caller's context would not
// allow.
type WaitError struct {
	Key  string
	Wait time.Duration
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("pacing %s: the budget is spent for the next %s", e.Key, e.Wait.Round(time.Millisecond))
}

// giveBack returns a reservation that will not be used. It runs after the
// caller's context may have ended, so on its own short one.
func (l *Limiter) giveBack(key string, cost float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.db.ExecContext(ctx, `UPDATE rate_buckets SET available = LEAST(capacity, available + $2::float8) WHERE key = $1`, key, cost)
}

// Observe brings key's bucket in line with what the service itself
// reported: its budget, and how much of it is available now. The bucket
// never holds more than the service says is there; it may hold less, for
// reservations made but not yet seen by the service. refund is returned
// to the bucket first: what a call reserved beyond what it cost.
func (l *Limiter) Observe(ctx context.Context, key string, b Budget, available, refund float64) error {
	if b.Capacity <= 0 || b.Rate <= 0 {
		return nil // nothing reported
	}
	_, err := l.db.ExecContext(ctx, `INSERT INTO rate_buckets AS r (key, available, capacity, rate, at)
VALUES ($1, $4::float8, $2::float8, $3::float8, clock_timestamp())
ON CONFLICT (key) DO UPDATE SET
    available = LEAST($2::float8, $4::float8, r.available + r.rate * EXTRACT(EPOCH FROM clock_timestamp() - r.at) + $5::float8),
    capacity = $2, rate = $3, at = clock_timestamp()`, key, b.Capacity, b.Rate, available, max(refund, 0))
	if err != nil {
		return fmt.Errorf("pacing %s: observe: %w", key, err)
	}
	return nil
}
