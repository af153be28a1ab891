package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/workflows"
)

// sweepRows is how many expired review requests the sweep benchmark seeds.
const sweepRows = 1_000_000

var (
	sweepBatchFlag = flag.Int("sweep.batch", 0, "the retention sweep's batch size (0: Candor's default)")
	sweepOtherShop = flag.Bool("sweep.othershop", false, "seed the expired rows in another shop than intake's, to see what sharing the registry head costs")
)

// sweepQueue is a task queue of the sweep benchmark's own, so its worker
// runs only the Retention workflow, not the review workflows intake starts.
const sweepQueue = "bench-retention"

// seedExpired inserts n review requests of the bench shop, sent and erased
// at SendGrid long ago and now past their expiry, each with its data key (the
// sweep's delete destroys those too), in one INSERT … SELECT generate_series
// per table. Rows that expire were written months ago, so it then does what
// autovacuum and checkpoints would have done since: VACUUM (FREEZE, ANALYZE)
// and a CHECKPOINT. Otherwise the seed's own hint-bit writes and checkpoint
// would land in the measured window.
func (e *env) seedExpired(ctx context.Context, shop string, n int) error {
	if _, err := e.db.ExecContext(ctx, `INSERT INTO data_keys (id, shop, owner, wrapped)
	SELECT 'dk_swept_' || i, $1, 'rq_swept_' || i, 'v1.00000000.' || md5(i::text) FROM generate_series(1, $2) AS i`, shop, n); err != nil {
		return fmt.Errorf("seed data keys: %w", err)
	}
	_, err := e.db.ExecContext(ctx, `INSERT INTO review_requests (request_id, shop, order_id, order_name, products, subject,
		status, sent_at, sendgrid_erased_at, created_at, updated_at, expires_at)
	SELECT 'rq_swept_' || i, $1, 5000000000 + i, '#' || i, '[{"id":1,"title":"Mug"}]',
		'sub_' || md5(i::text), 'sent', now() - interval '200 days', now() - interval '170 days',
		now() - interval '200 days', now() - interval '170 days', now() - interval '20 days' - i * interval '1 ms'
	FROM generate_series(1, $2) AS i`, shop, n)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for _, q := range []string{`VACUUM (FREEZE, ANALYZE) review_requests`, `VACUUM (FREEZE, ANALYZE) data_keys`, `CHECKPOINT`} {
		if _, err := e.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// paced posts deliveries at steadyRate until stop is closed (or, with a nil
// stop, for steadyWindow) and returns every latency; each request runs in
// its own goroutine (open loop).
func (e *env) paced(ctx context.Context, stop <-chan struct{}) ([]time.Duration, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var errs []error
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / steadyRate)
	defer tick.Stop()
	deadline := time.After(steadyWindow)
	if stop != nil {
		deadline = nil
	}
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-deadline:
			break loop
		case <-tick.C:
		}
		d := newDelivery()
		wg.Go(func() {
			t0 := time.Now()
			err := e.post(ctx, d)
			mu.Lock()
			lat = append(lat, time.Since(t0))
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat, errors.Join(errs...)
}

// BenchmarkRetentionSweep1M seeds 1,000,000 expired review requests, then
// measures, in one run: webhook intake at a steady 100 deliveries/s with
// no sweep (the baseline), then the Retention workflow (on a real worker and
// the real Temporal server) deleting all of them, with a `deleted` registry
// entry each, while intake keeps the same 100/s. It reports the sweep's
// time and rate, intake p50/p99 before and during, and the p99 ratio. b.N
// is not used: each call runs this once.
//
//	go test -run '^$' -bench RetentionSweep1M -benchtime 1x -timeout 30m ./bench/
func BenchmarkRetentionSweep1M(b *testing.B) {
	if frameworkProbe(b) {
		b.ReportMetric(0, "ns/op")
		return
	}
	e := newEnv(b)
	ctx := context.Background()
	t0 := time.Now()
	shop := benchShop
	if *sweepOtherShop {
		shop = "bench-other.myshopify.com"
		if err := e.db.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: "v1.k.x", Settings: store.DefaultSettings(shop)}); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.seedExpired(ctx, shop, sweepRows); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d expired rows in %s", sweepRows, time.Since(t0).Round(time.Millisecond))
	// Bytes a row takes with its indexes, for docs/scaling.md: the seeded
	// requests (synthetic, one product each) and their data keys.
	var requestBytes, keyBytes float64
	if err := e.db.GetContext(ctx, &requestBytes, `SELECT pg_total_relation_size('review_requests')::float8 / $1`, sweepRows); err != nil {
		b.Fatal(err)
	}
	if err := e.db.GetContext(ctx, &keyBytes, `SELECT pg_total_relation_size('data_keys')::float8 / $1`, sweepRows); err != nil {
		b.Fatal(err)
	}

	w := worker.New(e.temporal, sweepQueue, worker.Options{})
	workflows.Register(w, &activities.Activities{DB: e.db, Keys: e.ring, Temporal: e.temporal, Namespace: "default", SweepBatch: *sweepBatchFlag})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	warm := newDeliveries(warmup)
	if err := runPool(len(warm), func(i int) error { return e.post(ctx, warm[i]) }); err != nil {
		b.Fatal(err)
	}
	e.resetBreakdown()
	base, err := e.paced(ctx, nil)
	if err != nil {
		b.Fatalf("baseline intake: %v", err)
	}
	baseHandler, baseStart := e.breakdown()
	e.resetBreakdown()

	b.ResetTimer()
	stop := make(chan struct{})
	type intake struct {
		lat []time.Duration
		err error
	}
	during := make(chan intake, 1)
	go func() {
		lat, err := e.paced(ctx, stop)
		during <- intake{lat, err}
	}()
	start := time.Now()
	run, err := e.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("retention/bench/%d", start.UnixNano()),
		TaskQueue: sweepQueue}, workflows.Retention, workflows.RetentionInput{})
	if err != nil {
		b.Fatal(err)
	}
	var res activities.SweepResult
	err = run.Get(ctx, &res)
	sweep := time.Since(start)
	close(stop)
	got := <-during
	b.StopTimer()
	sweepHandler, sweepStart := e.breakdown()
	if err != nil {
		b.Fatalf("sweep: %v", err)
	}
	if n := res.Deleted(retention.ReviewRequests); n != sweepRows {
		b.Fatalf("the sweep deleted %d review requests, want %d", n, sweepRows)
	}
	var left, recorded int
	if err := e.db.GetContext(ctx, &left, `SELECT (SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq\_swept\_%')
		+ (SELECT count(*) FROM data_keys WHERE owner LIKE 'rq\_swept\_%')`); err != nil {
		b.Fatal(err)
	}
	if err := e.db.GetContext(ctx, &recorded, `SELECT count(*) FROM registry_entries WHERE action = 'deleted' AND purpose = 'retention'`); err != nil {
		b.Fatal(err)
	}
	if left != 0 || recorded != sweepRows {
		b.Fatalf("after the sweep: %d seeded rows or data keys left, %d deletions recorded", left, recorded)
	}
	// The registry now holds the sweep's 1,000,000 entries and intake's few
	// thousand: its bytes per entry, indexes included.
	var registryBytes float64
	if err := e.db.GetContext(ctx, &registryBytes, `SELECT pg_total_relation_size('registry_entries')::float8 / count(*) FROM registry_entries`); err != nil {
		b.Fatal(err)
	}

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	// A run in which intake refused deliveries (a 503, as when Temporal's
	// start outlasts the hand-off timeout) fails, but says first what it
	// measured: a failed benchmark prints no metrics.
	report := b.ReportMetric
	if got.err != nil {
		report = func(v float64, unit string) { b.Logf("%12.4g %s", v, unit) }
		defer func() {
			errs := []error{got.err}
			if j, ok := got.err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			b.Fatalf("intake during the sweep: %d of %d deliveries refused; the first: %v", len(errs), len(got.lat), errs[0])
		}()
	}
	report(0, "ns/op")
	report(sweep.Seconds(), "sweep_s")
	report(float64(sweepRows)/sweep.Seconds(), "rows/s")
	report(ms(percentile(base, 50)), "base_p50_ms")
	report(ms(percentile(base, 99)), "base_p99_ms")
	report(ms(percentile(got.lat, 50)), "sweep_p50_ms")
	report(ms(percentile(got.lat, 99)), "sweep_p99_ms")
	report(ms(got.lat[len(got.lat)-1]), "sweep_max_ms")
	report(float64(len(got.lat)), "sweep_requests")
	report(float64(percentile(got.lat, 99))/float64(percentile(base, 99)), "p99_ratio")
	// Where intake's time went, as means: Temporal's start, and the rest
	// (mostly the Postgres transaction that shares the registry head).
	report(baseStart, "base_start_ms")
	report(baseHandler-baseStart, "base_rest_ms")
	report(sweepStart, "sweep_start_ms")
	report(sweepHandler-sweepStart, "sweep_rest_ms")
	report(requestBytes, "request_B/row")
	report(keyBytes, "data_key_B/row")
	report(registryBytes, "registry_B/entry")
}

// BenchmarkRetentionSweepAlone1M is the sweep's Postgres part with nothing
// else running, on 1,000,000 seeded rows: the shop's Postgres step
// (SweepPostgresShop, as each shop's RetentionShop child runs it) in
// Temporal's test activity environment (no server, no intake). It is the
// baseline for the sweep's time in BenchmarkRetentionSweep1M. In the same
// run, all_shops_before_fanout runs SweepPostgres, the one activity of the
// sweep before it fanned out per shop (kept for old histories to replay),
// on a seed of its own.
func BenchmarkRetentionSweepAlone1M(b *testing.B) {
	if frameworkProbe(b) {
		b.ReportMetric(0, "ns/op")
		return
	}
	for _, perShop := range []bool{true, false} {
		name := "per_shop"
		if !perShop {
			name = "all_shops_before_fanout"
		}
		b.Run(name, func(b *testing.B) {
			db, _ := storetest.New(b)
			ctx := context.Background()
			master := make([]byte, 32)
			_, _ = rand.Read(master)
			ring, err := keys.New(master)
			if err != nil {
				b.Fatal(err)
			}
			if err := db.AddShop(ctx, store.Shop{Domain: benchShop, TokenSealed: "v1.k.x", Settings: store.DefaultSettings(benchShop)}); err != nil {
				b.Fatal(err)
			}
			e := &env{db: db}
			if err := e.seedExpired(ctx, benchShop, sweepRows); err != nil {
				b.Fatal(err)
			}
			var suite testsuite.WorkflowTestSuite
			suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			tenv := suite.NewTestActivityEnvironment()
			a := &activities.Activities{DB: db, Keys: ring, SweepBatch: *sweepBatchFlag}
			tenv.RegisterActivity(a)
			b.ResetTimer()
			start := time.Now()
			var deleted int64
			if perShop {
				v, err := tenv.ExecuteActivity(a.SweepPostgresShop, activities.SweepShopInput{RunID: "bench", Shop: benchShop})
				var res activities.PolicySweep
				if err == nil {
					err = v.Get(&res)
				}
				if err != nil {
					b.Fatal(err)
				}
				deleted = res.Deleted
			} else {
				v, err := tenv.ExecuteActivity(a.SweepPostgres, "bench")
				var res []activities.PolicySweep
				if err == nil {
					err = v.Get(&res)
				}
				if err != nil || len(res) == 0 {
					b.Fatalf("sweep result %+v, %v", res, err)
				}
				deleted = res[0].Deleted
			}
			sweep := time.Since(start)
			b.StopTimer()
			if deleted != sweepRows {
				b.Fatalf("the sweep deleted %d rows, want %d", deleted, sweepRows)
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(sweep.Seconds(), "sweep_s")
			b.ReportMetric(float64(sweepRows)/sweep.Seconds(), "rows/s")
		})
	}
}
