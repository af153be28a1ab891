package pacing_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/pacing"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// Two worker processes, each with its own connections and eight callers,
// draw on one bucket: between them they never get more than its budget
// allows at any moment, and every caller is served.
func TestWait_ProcessesShareOneBudget(t *testing.T) {
	db, url := storetest.New(t)
	ctx := context.Background()
	other, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	budget := pacing.Budget{Capacity: 10, Rate: 50}
	procs := []*pacing.Limiter{pacing.New(db.DB), pacing.New(other.DB)}
	const calls = 110
	var mu sync.Mutex
	var granted []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for p := range procs {
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < calls/16+1; i++ {
					mu.Lock()
					if len(granted) >= calls {
						mu.Unlock()
						return
					}
					mu.Unlock()
					if err := procs[p].Wait(ctx, "shop:a.myshopify.com", 1, budget); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					granted = append(granted, time.Since(start))
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	slices.Sort(granted)
	if len(granted) < calls {
		t.Fatalf("%d calls served, want %d", len(granted), calls)
	}
	for i, at := range granted {
		// Call i+1 may start once the bucket has held i+1 units: the 10
		// it started with and 50 a second since (one unit of slack for the
		// clock read after the grant).
		if allowed := budget.Capacity + budget.Rate*at.Seconds() + 1; float64(i+1) > allowed {
			t.Fatalf("call %d went at %s, when the budget allowed %.1f", i+1, at, allowed)
		}
	}
	if last := granted[len(granted)-1]; last < 1900*time.Millisecond {
		t.Fatalf("%d calls took %s, under the 2s the budget needs", len(granted), last)
	}
}

// A caller that cannot wait as long as the bucket needs gets an error at
// once and takes nothing from the callers after it.
func TestWait_ACallerThatCannotWaitTakesNothing(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	l := pacing.New(db.DB)
	budget := pacing.Budget{Capacity: 5, Rate: 1}
	if err := l.Wait(ctx, "sendgrid", 5, budget); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	var we *pacing.WaitError
	if err := l.Wait(short, "sendgrid", 3, budget); !errors.As(err, &we) || we.Wait < 2*time.Second {
		t.Fatalf("a wait the context cannot allow: %v", err)
	}
	if time.Since(began) > time.Second {
		t.Fatal("the caller waited before giving up")
	}
	var available float64
	if err := db.Get(&available, `SELECT available FROM rate_buckets WHERE key = 'sendgrid'`); err != nil || available < 0 {
		t.Fatalf("bucket holds %v after the caller gave up (%v): it took from it", available, err)
	}
	if err := l.Wait(ctx, "sendgrid", 1, pacing.Budget{}); err == nil {
		t.Fatal("a budget without capacity or rate was accepted")
	}
}

// What the service reports wins over the bucket's own count: a shop whose
// bucket Shopify says is nearly empty makes the next caller wait.
func TestObserve_TheServicesCountWins(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	l := pacing.New(db.DB)
	budget := pacing.Budget{Capacity: 1000, Rate: 100}
	if err := l.Wait(ctx, "shop:b", 10, budget); err != nil {
		t.Fatal(err)
	}
	if err := l.Observe(ctx, "shop:b", pacing.Budget{Capacity: 2000, Rate: 100}, 0, 50); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := l.Wait(ctx, "shop:b", 50, budget); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < 400*time.Millisecond {
		t.Fatalf("waited %s for 50 points at 100/s from an empty bucket", waited)
	}
	var capacity float64
	if err := db.Get(&capacity, `SELECT capacity FROM rate_buckets WHERE key = 'shop:b'`); err != nil || capacity != 2000 {
		t.Fatalf("capacity %v (%v), want the 2000 Shopify reported", capacity, err)
	}
}

// A bucket's first use lets one call go, not a full bucket's worth: how
// much of a shop's Shopify bucket is already spent is unknown until
// Shopify answers, so the next callers wait for the rate.
func TestWait_FirstContactLetsOneCallGoAndTheRestAtTheRate(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	l := pacing.New(db.DB)
	budget := pacing.Budget{Capacity: 2000, Rate: 100}
	if err := l.Wait(ctx, "shop:new", 14, budget); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	for range 5 {
		if err := l.Wait(ctx, "shop:new", 14, budget); err != nil {
			t.Fatal(err)
		}
	}
	// 70 points at 100 a second: 0.7 s; a full bucket at first contact
	// would have let them go at once.
	if waited := time.Since(began); waited < 600*time.Millisecond {
		t.Fatalf("five more 14-point calls went in %s after the first contact", waited)
	}
}
