// Package bench measures webhook intake against the real parts: the embedded
// Temporal dev server (one per run, started in TestMain), a fresh Postgres
// database per benchmark, and Candor's HTTP handler on a loopback TCP server.
//
// Run (see docs/benchmarks.md for the figures):
//
//	go test -run '^$' -bench . -benchtime 2000x -count 3 ./bench/
//
// Every benchmark drives load with a fixed pool of 16 goroutines (or, for the
// latency benchmark, a fixed 100 requests/s), talks only to 127.0.0.1, and is
// bounded in count and time. Besides rates and latencies, the intake
// benchmarks report where the handler's time goes (handler_ms, split into
// handler_start_ms in ExecuteWorkflow and handler_rest_ms for everything
// else, mostly Postgres), and BenchmarkIntakePostgresPart isolates the
// Postgres work of one delivery.
//
// Without -bench (plain `go test ./...`) TestMain starts nothing and only the
// cheap tests of the load generator run.
package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
	"github.com/candorhq/candor/workflows"
)

const (
	benchShop   = "bench-store.myshopify.com"
	benchSecret = "bench-webhook-secret"

	// concurrency is the number of goroutines that drive the rate
	// benchmarks. A fixed worker pool (not b.RunParallel, whose goroutine
	// count is GOMAXPROCS×parallelism) keeps the offered load the same on
	// any machine and the same for the bare loop and for intake. 16 in
	// flight is enough to keep both CPUs of the target machine busy while
	// requests wait on the network, Postgres and Temporal.
	concurrency = 16

	// warmup operations run before the timer starts in each benchmark, so
	// connection set-up (TCP, gRPC streams, the Postgres pool) is not timed.
	warmup = 2 * concurrency

	// The latency benchmark: a steady rate for a fixed window.
	steadyRate   = 100 // requests per second
	steadyWindow = 10 * time.Second

	// vsCount is how many starts each side of BenchmarkIntakeVsBare makes,
	// in vsRounds alternating rounds.
	vsCount  = 4000
	vsRounds = 8

	// opTimeout bounds every single request or start.
	opTimeout = 30 * time.Second
)

// temporal is the one dev server every benchmark shares; nil when the
// package runs without -bench.
var temporal *devenv.Temporal

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// Plain `go test`: only the cheap tests run; start nothing.
		os.Exit(m.Run())
	}
	t, err := devenv.StartTemporal(context.Background(), devenv.TemporalOptions{}) // in memory, free port, no UI
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	temporal = t
	code := m.Run()
	t.Stop()
	os.Exit(code)
}

// orderSeq makes order IDs, and so workflow IDs, unique across every
// benchmark in the run (they all share one Temporal server).
var orderSeq atomic.Int64

func nextOrderID() int64 { return 1_000_000 + orderSeq.Add(1) }

// env is what one benchmark runs against.
type env struct {
	db       *store.DB
	temporal client.Client
	ring     *keys.Ring
	url      string // POST /webhooks/shopify on the loopback server
	http     *http.Client

	// Where the time goes, summed over requests: the whole handler, and the
	// part of it spent in ExecuteWorkflow. The rest of the handler is
	// Postgres (dedupe, shop, the delivery+registry transaction) and CPU
	// (read, HMAC, parse).
	handlerNS, startNS, handled atomic.Int64
	// The same for bare starts: total ExecuteWorkflow time and count.
	bareNS, bareN atomic.Int64
}

// timedClient is the server's Temporal client, timing ExecuteWorkflow.
type timedClient struct {
	client.Client
	e *env
}

func (c timedClient) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	t0 := time.Now()
	defer func() { c.e.startNS.Add(int64(time.Since(t0))) }()
	return c.Client.ExecuteWorkflow(ctx, o, wf, args...)
}

func (e *env) resetBreakdown() {
	for _, v := range []*atomic.Int64{&e.handlerNS, &e.startNS, &e.handled, &e.bareNS, &e.bareN} {
		v.Store(0)
	}
}

// meanStartMS is the mean ExecuteWorkflow time of bare starts, in ms.
func (e *env) meanStartMS() float64 {
	return float64(e.bareNS.Load()) / float64(max(e.bareN.Load(), 1)) / 1e6
}

// breakdown is the mean handler time since the last reset and the part of
// it spent in ExecuteWorkflow, in ms.
func (e *env) breakdown() (handler, start float64) {
	n := float64(max(e.handled.Load(), 1))
	return float64(e.handlerNS.Load()) / n / 1e6, float64(e.startNS.Load()) / n / 1e6
}

// reportBreakdown reports the mean handler time and its split, in ms.
func (e *env) reportBreakdown(b *testing.B) {
	if e.handled.Load() == 0 {
		return
	}
	h, s := e.breakdown()
	b.ReportMetric(h, "handler_ms")
	b.ReportMetric(s, "handler_start_ms")
	b.ReportMetric(h-s, "handler_rest_ms")
}

func newEnv(b *testing.B) *env {
	b.Helper()
	if temporal == nil {
		b.Fatal("the Temporal dev server is not running (TestMain starts it only with -bench)")
	}
	ctx := context.Background()
	db, _ := storetest.New(b)

	master := make([]byte, 32)
	_, _ = rand.Read(master)
	ring, err := keys.New(master)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := ring.Seal([]byte("shpat_bench_token"), benchShop)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.AddShop(ctx, store.Shop{Domain: benchShop, TokenSealed: sealed, Settings: store.DefaultSettings(benchShop)}); err != nil {
		b.Fatal(err)
	}

	// As in production: payloads encrypted under each request's data key.
	dk := datakeys.New(db, ring)
	c, err := client.Dial(client.Options{
		HostPort:      temporal.Address,
		Logger:        tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		DataConverter: dk.DataConverter(workflows.DataKeyOwner(ring)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)

	e := &env{db: db, temporal: c, ring: ring}
	srv := &web.Server{DB: db, Temporal: timedClient{c, e}, Keys: ring, DataKeys: dk, ShopifySecret: benchSecret,
		// Errors only (a refused delivery's dependency and error), so a run
		// that fails says why.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), TemporalRetention: 24 * time.Hour}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		e.handlerNS.Add(int64(time.Since(t0)))
		e.handled.Add(1)
	}))
	b.Cleanup(hs.Close)
	e.url = hs.URL + "/webhooks/shopify"

	tr := &http.Transport{MaxIdleConns: 4 * concurrency, MaxIdleConnsPerHost: 4 * concurrency, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	e.http = &http.Client{Transport: tr, Timeout: opTimeout}
	return e
}

// startOptions are the options web/shopify.go's handOff uses.
func startOptions(orderID int64) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                                       review.WorkflowID(benchShop, orderID),
		TaskQueue:                                workflows.TaskQueue,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
}

// bareStart starts one ReviewRequest directly, with the input the intake
// would build for the same demo order.
func (e *env) bareStart(ctx context.Context) error {
	id := nextOrderID()
	o := shopifytest.DemoOrder(id)
	in := workflows.ReviewRequestInput{Shop: benchShop, OrderID: id, OrderName: o.Name,
		RequestID: e.ring.RequestID(benchShop, id), FulfilledAt: time.Now().UTC()}
	for _, p := range o.Products {
		in.Products = append(in.Products, store.Product{ID: p.ID, Title: p.Title})
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	t0 := time.Now()
	_, err := e.temporal.ExecuteWorkflow(ctx, startOptions(id), workflows.ReviewRequest, in)
	e.bareNS.Add(int64(time.Since(t0)))
	e.bareN.Add(1)
	return err
}

// delivery is one signed fulfillments/create webhook for a fresh order, as
// Shopify sends it (full payload, personal data included).
type delivery struct {
	webhookID string
	body      []byte
}

func newDelivery() delivery {
	o := shopifytest.DemoOrder(nextOrderID())
	return delivery{webhookID: shopifytest.NewWebhookID(), body: shopifytest.FulfillmentPayload(o, "")}
}

func newDeliveries(n int) []delivery {
	ds := make([]delivery, n)
	for i := range ds {
		ds[i] = newDelivery()
	}
	return ds
}

func (d delivery) request(url string) (*http.Request, error) {
	return shopifytest.WebhookRequest(url, shopify.TopicFulfillmentCreate, benchShop, benchSecret, d.webhookID, d.body)
}

// post sends one delivery and requires 200 "started".
func (e *env) post(ctx context.Context, d delivery) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	req, err := d.request(e.url)
	if err != nil {
		return err
	}
	resp, err := e.http.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "started" {
		return fmt.Errorf("webhook %s: got %d %q, want 200 \"started\"", d.webhookID, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// runPool calls op(i) for i in [0, n) from concurrency goroutines and returns
// the first error; after an error the remaining operations are abandoned.
func runPool(n int, op func(i int) error) error { return runWorkers(concurrency, n, op) }

func runWorkers(workers, n int, op func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return first
}

// frameworkProbe reports whether this call is the one-iteration probe that
// `go test` makes before an -benchtime=Nx run with N > 1; its results are
// discarded. Benchmarks that do a fixed amount of work per call skip it, so
// the fixed work is done (and timed) once per -count.
func frameworkProbe(b *testing.B) bool {
	if b.N != 1 {
		return false
	}
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return false
	}
	s := f.Value.String()
	n, err := strconv.Atoi(strings.TrimSuffix(s, "x"))
	return strings.HasSuffix(s, "x") && err == nil && n > 1
}

// BenchmarkBareExecuteWorkflow is the baseline: b.N ReviewRequest starts
// straight to Temporal, 16 at a time, with handOff's options.
func BenchmarkBareExecuteWorkflow(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if err := runPool(warmup, func(int) error { return e.bareStart(ctx) }); err != nil {
		b.Fatal(err)
	}
	e.resetBreakdown()
	b.ResetTimer()
	if err := runPool(b.N, func(int) error { return e.bareStart(ctx) }); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "starts/s")
	b.ReportMetric(e.meanStartMS(), "start_ms")
}

// BenchmarkIntake is b.N signed fulfillments/create deliveries through the
// whole intake (read, verify HMAC, parse, dedupe, load shop, start the
// workflow, record delivery and registry entries), 16 at a time over HTTP.
// Payloads are built before the timer starts; signing happens per request.
func BenchmarkIntake(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	warm := newDeliveries(warmup)
	if err := runPool(len(warm), func(i int) error { return e.post(ctx, warm[i]) }); err != nil {
		b.Fatal(err)
	}
	ds := newDeliveries(b.N)
	e.resetBreakdown()
	b.ResetTimer()
	if err := runPool(b.N, func(i int) error { return e.post(ctx, ds[i]) }); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	e.reportBreakdown(b)
}

// BenchmarkIntakeVsBare is the side-by-side figure: in one function, on
// the same server and the same fresh database, vsCount bare starts and
// vsCount intake deliveries, 16 at a time, interleaved in vsRounds rounds
// (bare, intake, intake, bare, ...) so that drift over the run (the server's
// growing state, other load on the machine) falls on both sides alike. It
// reports both rates and their ratio; the target is ratio ≥ 0.8. b.N is not
// used: each call does the fixed work once.
func BenchmarkIntakeVsBare(b *testing.B) {
	if frameworkProbe(b) {
		b.ReportMetric(0, "ns/op")
		return
	}
	e := newEnv(b)
	ctx := context.Background()
	warm := newDeliveries(warmup)
	if err := runPool(warmup, func(int) error { return e.bareStart(ctx) }); err != nil {
		b.Fatal(err)
	}
	if err := runPool(len(warm), func(i int) error { return e.post(ctx, warm[i]) }); err != nil {
		b.Fatal(err)
	}
	ds := newDeliveries(vsCount)
	e.resetBreakdown()
	b.ResetTimer()

	per := vsCount / vsRounds
	var bareTime, intakeTime time.Duration
	bareRound := func() {
		t0 := time.Now()
		if err := runPool(per, func(int) error { return e.bareStart(ctx) }); err != nil {
			b.Fatal(err)
		}
		bareTime += time.Since(t0)
	}
	intakeRound := func(r int) {
		batch := ds[r*per : (r+1)*per]
		t0 := time.Now()
		if err := runPool(per, func(i int) error { return e.post(ctx, batch[i]) }); err != nil {
			b.Fatal(err)
		}
		intakeTime += time.Since(t0)
	}
	for r := range vsRounds {
		if r%2 == 0 {
			bareRound()
			intakeRound(r)
		} else {
			intakeRound(r)
			bareRound()
		}
	}
	b.StopTimer()

	bare := float64(per*vsRounds) / bareTime.Seconds()
	intake := float64(per*vsRounds) / intakeTime.Seconds()
	b.ReportMetric(0, "ns/op") // the fixed work is not per b.N iteration
	b.ReportMetric(bare, "bare_starts/s")
	b.ReportMetric(intake, "intake_deliveries/s")
	b.ReportMetric(intake/bare, "ratio")
	b.ReportMetric(e.meanStartMS(), "bare_start_ms")
	e.reportBreakdown(b)
}

// BenchmarkIntakeLatency100rps offers a steady 100 deliveries/s for a fixed
// 10 s window (1000 requests). Each request runs in its own goroutine, so a
// slow response never delays the pacing (an open-loop load generator: no
// coordinated omission). Every request must get 200 "started". b.N is not
// used: each call runs the window once.
func BenchmarkIntakeLatency100rps(b *testing.B) {
	if frameworkProbe(b) {
		b.ReportMetric(0, "ns/op")
		return
	}
	e := newEnv(b)
	ctx := context.Background()
	warm := newDeliveries(warmup)
	if err := runPool(len(warm), func(i int) error { return e.post(ctx, warm[i]) }); err != nil {
		b.Fatal(err)
	}
	n := int(steadyWindow.Seconds() * steadyRate)
	ds := newDeliveries(n)
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	e.resetBreakdown()
	b.ResetTimer()

	tick := time.NewTicker(time.Second / steadyRate)
	first := time.Now()
	var last time.Time
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		last = time.Now()
		wg.Go(func() {
			t0 := time.Now()
			errs[i] = e.post(ctx, ds[i])
			lat[i] = time.Since(t0)
		})
	}
	tick.Stop()
	wg.Wait()
	b.StopTimer()

	if err := errors.Join(errs...); err != nil {
		b.Fatalf("not every request got 200 started: %v", err)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(0, "ns/op") // the window is not per b.N iteration
	b.ReportMetric(ms(percentile(lat, 50)), "p50_ms")
	b.ReportMetric(ms(percentile(lat, 99)), "p99_ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max_ms")
	b.ReportMetric(float64(n-1)/last.Sub(first).Seconds(), "offered_req/s")
	e.reportBreakdown(b)
}

// percentile is the nearest-rank p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// TestSignedDeliveryVerifies checks the benchmarks' load is what the intake
// accepts: a fulfillments/create delivery signed so shopify.VerifyHMAC passes,
// for a valid shop, with a webhook ID, and a payload intake can parse.
func TestSignedDeliveryVerifies(t *testing.T) {
	d := newDelivery()
	req, err := d.request("http://127.0.0.1/webhooks/shopify")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !shopify.VerifyHMAC(benchSecret, body, req.Header.Get(shopify.HeaderHMAC)) {
		t.Fatal("the delivery's HMAC does not verify with the bench secret")
	}
	if shopify.VerifyHMAC("another-secret", body, req.Header.Get(shopify.HeaderHMAC)) {
		t.Fatal("the delivery's HMAC verifies with the wrong secret")
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] ^= 1
	if shopify.VerifyHMAC(benchSecret, tampered, req.Header.Get(shopify.HeaderHMAC)) {
		t.Fatal("a tampered body still verifies")
	}
	if got := req.Header.Get(shopify.HeaderTopic); got != shopify.TopicFulfillmentCreate {
		t.Errorf("topic = %q", got)
	}
	if !shopify.ValidShopDomain(req.Header.Get(shopify.HeaderShop)) || req.Header.Get(shopify.HeaderWebhookID) == "" {
		t.Errorf("shop %q / webhook ID %q would be refused", req.Header.Get(shopify.HeaderShop), req.Header.Get(shopify.HeaderWebhookID))
	}
	f, err := shopify.ParseFulfillment(body)
	if err != nil {
		t.Fatalf("intake could not parse the payload: %v", err)
	}
	if f.Status != "success" || len(f.LineItems) == 0 {
		t.Errorf("payload would not start a workflow: status %q, %d line items", f.Status, len(f.LineItems))
	}
	if other := newDelivery(); other.webhookID == d.webhookID || string(other.body) == string(d.body) {
		t.Error("two deliveries share a webhook ID or an order")
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
}
