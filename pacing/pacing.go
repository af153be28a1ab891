// Package pacing owns the budgets Candor's calls to other services share
// across every worker process: a token bucket per key (a Shopify shop's
// GraphQL query-cost points, the SendGrid account's Mail Send calls), kept
// in Postgres so no process assumes it is the only one calling.
//
// A call goes when its bucket holds its cost, and takes it: Shopify or
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

// Wait takes cost from key's bucket as soon as the bucket holds it, and
// returns then. On first use the bucket is made with budget b holding
// just this call's cost: how much of the service's own bucket is spent is
// not known until it answers, so the calls after the first go at b's
// rate, and Observe lowers the bucket to what the service reports. A caller that
// waits holds nothing: what others give back (Observe's refunds) serves it
// sooner. If ctx ends first, or would end before the bucket could hold
// cost, Wait returns a *WaitError saying how long the wait would have been.
func (l *Limiter) Wait(ctx context.Context, key string, cost float64, b Budget) error {
	if b.Capacity <= 0 || b.Rate <= 0 {
		return fmt.Errorf("pacing %s: a budget needs a capacity and a rate", key)
	}
	for {
		var secs float64
		if err := l.db.GetContext(ctx, &secs, `SELECT pace_take($1, $2, $3, $4)`, key, b.Capacity, b.Rate, cost); err != nil {
			return fmt.Errorf("pacing %s: take: %w", key, err)
		}
		if secs <= 0 {
			return nil
		}
		wait := max(time.Duration(math.Ceil(secs*float64(time.Second))), minPoll)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return &WaitError{Key: key, Wait: wait}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return &WaitError{Key: key, Wait: wait}
		}
	}
}

// minPoll bounds how often one waiting caller asks its bucket again.
const minPoll = 10 * time.Millisecond

// WaitError is a wait for a bucket that the caller's context would not
// allow.
type WaitError struct {
	Key  string
	Wait time.Duration
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("pacing %s: the budget is spent for the next %s", e.Key, e.Wait.Round(time.Millisecond))
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
