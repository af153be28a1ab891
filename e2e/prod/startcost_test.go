package prod

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/telemetry"
	"github.com/candorhq/candor/workflows"
)

// startVariant is one way of starting a workflow: what
// BenchmarkStartCost tells apart is what each thing a ReviewRequest's
// start carries costs the Temporal server and its databases.
type startVariant struct {
	name  string
	start func(ctx context.Context, i int) error
	// prepare, if set, runs before each round's clock and CPU count
	// start: what the caller has ready before it calls (Shopify's
	// payloads are built and signed on Shopify's machines).
	prepare func(from, n int)
}

// BenchmarkStartCost starts workflows that differ in one thing at a time,
// from a plain start to a ReviewRequest's exactly as serve makes it, and
// last delivers signed fulfillments to the two serve replicas (intake);
// in rounds that take turns, each round beginning with the next variant,
// so load from elsewhere falls on every variant alike. No worker polls: it
// is intake's share of the work. Each window lasts until Temporal is idle
// again (the visibility row and the task transfer come after the answer),
// less what the deployment spends idle. It reports, per start, the CPU of
// the Temporal server and its databases, of serve, Candor's database and
// the calling process, and the ratios by CPU and by rate of intake to the
// plain start and to Candor's own start from a bare loop.
//
//	CANDOR_CACHE_DIR=$PWD/.cache go test -count=1 -run '^$' -bench BenchmarkStartCost -benchtime 1x -timeout 30m ./e2e/prod
func BenchmarkStartCost(b *testing.B) {
	// Shown as it comes: a benchmark's own log is cut after a few lines.
	logf := func(format string, args ...any) {
		b.Helper()
		fmt.Fprintf(os.Stderr, "startcost: "+format+"\n", args...)
	}
	rounds := envInt(b, "CANDOR_STARTCOST_ROUNDS", 4)
	per := envInt(b, "CANDOR_STARTCOST_STARTS", 250)
	inFlight := envInt(b, "CANDOR_SOAK_IN_FLIGHT", 16)
	d := deploy(b, 2, 0)
	candorClient := d.candorClient(b)
	shops := d.connectShops(b, envInt(b, "CANDOR_STARTCOST_SHOPS", 20))
	orders := soakOrders(shops, (rounds*per+len(shops)-1)/len(shops))
	type delivery struct {
		id   string
		body []byte
	}
	deliveries := make([]delivery, len(orders))
	run := time.Now().UnixNano()
	shopOf := func(i int) string { return fmt.Sprintf("soak-%05d.myshopify.com", i%1000) }
	plain := func(v string, i int) client.StartWorkflowOptions {
		return client.StartWorkflowOptions{ID: fmt.Sprintf("startcost/%d/%s/%d", run, v, i), TaskQueue: bareTaskQueue}
	}
	bareInput := strings.Repeat("x", 320)
	// A review request's input as intake makes it; each variant's order
	// IDs are apart from the others' (the variant's name sets the high
	// digits).
	input := func(v string, i int) workflows.ReviewRequestInput {
		in := workflows.ReviewRequestInput{Shop: shopOf(i), OrderID: run%1_000_000_000 + int64(i) + int64(len(v))*1_000_000_000_000,
			OrderName: fmt.Sprintf("#%d", 1000+i), RequestID: fmt.Sprintf("req-%d-%d", run, i), FulfilledAt: time.Now().UTC(),
			Fulfillment: 5_000_000 + int64(i), FulfillmentName: fmt.Sprintf("#%d-F1", 1000+i)}
		in.Products = []store.Product{{ID: 101, Title: "Linen shirt"}, {ID: 102, Title: "Wool scarf"}}
		return in
	}
	variants := []startVariant{
		{name: "plain", start: func(ctx context.Context, i int) error {
			_, err := d.tc.ExecuteWorkflow(ctx, plain("plain", i), bareWorkflowName, bareInput)
			return err
		}},
		{name: "reject_duplicate", start: func(ctx context.Context, i int) error {
			o := plain("reject_duplicate", i)
			o.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
			o.WorkflowExecutionErrorWhenAlreadyStarted = true
			_, err := d.tc.ExecuteWorkflow(ctx, o, bareWorkflowName, bareInput)
			return err
		}},
		{name: "shop_attr", start: func(ctx context.Context, i int) error {
			o := plain("shop_attr", i)
			o.TypedSearchAttributes = sdktemporal.NewSearchAttributes(review.AttrShop.ValueSet(shopOf(i)))
			_, err := d.tc.ExecuteWorkflow(ctx, o, bareWorkflowName, bareInput)
			return err
		}},
		{name: "shop_phase_attrs", start: func(ctx context.Context, i int) error {
			o := plain("shop_phase_attrs", i)
			o.TypedSearchAttributes = sdktemporal.NewSearchAttributes(review.AttrShop.ValueSet(shopOf(i)),
				review.AttrPhase.ValueSet(string(review.PhaseWaitingDelay)))
			_, err := d.tc.ExecuteWorkflow(ctx, o, bareWorkflowName, bareInput)
			return err
		}},
		{name: "encrypted_input", start: func(ctx context.Context, i int) error {
			in := input("encrypted_input", i)
			o := plain("encrypted_input", i)
			o.ID = review.WorkflowID(in.Shop, in.OrderID)
			_, err := candorClient.ExecuteWorkflow(datakeys.WithWorkflow(ctx, o.ID), o, workflows.ReviewRequest, in)
			return err
		}},
		{name: "candor", start: func(ctx context.Context, i int) error {
			in := input("candor", i)
			o := workflows.ReviewRequestStartOptions(in)
			_, err := candorClient.ExecuteWorkflow(datakeys.WithWorkflow(ctx, o.ID), o, workflows.ReviewRequest, in)
			return err
		}},
	}
	variants = append(variants, startVariant{name: "intake",
		prepare: func(from, n int) {
			for i := from; i < from+n; i++ {
				deliveries[i] = delivery{shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(shopifytest.DemoOrder(orders[i].id), "delivered")}
			}
		},
		start: func(_ context.Context, i int) error {
			code, err := d.post(i%len(d.serves), orders[i], deliveries[i].id, deliveries[i].body)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("delivery answered %d", code)
			}
			return err
		}})
	spent := make([]cpuSnapshot, len(variants))
	took := make([]time.Duration, len(variants))
	// CANDOR_STARTCOST_PIN: Temporal on one CPU, Candor and the callers on
	// the other (deployment.pin), as in production.
	pinned := os.Getenv("CANDOR_STARTCOST_PIN") != ""
	if pinned {
		d.pin(b)
		defer d.unpin(b)
	}
	// What the deployment spends doing nothing (pollers, timers, the
	// serve replicas' watchers), taken off each window in proportion.
	idleFrom, idleAt := d.cpu(b), time.Now()
	time.Sleep(3 * time.Second)
	idle := d.cpu(b).sub(idleFrom)
	idleFor := time.Since(idleAt)
	withoutIdle := func(s cpuSnapshot, window time.Duration) cpuSnapshot {
		f := float64(window) / float64(idleFor)
		part := func(d time.Duration) time.Duration { return time.Duration(float64(d) * f) }
		return s.sub(cpuSnapshot{serve: part(idle.serve), worker: part(idle.worker), temporal: part(idle.temporal),
			pgCandor: part(idle.pgCandor), pgTemporal: part(idle.pgTemporal), bench: part(idle.bench), machine: part(idle.machine)})
	}
	// Temporal finishes a start after answering it (the visibility row,
	// the workflow task's transfer to matching): a window lasts until the
	// server is back to idle, so that work is charged to its own start.
	settle := func() {
		quiet := idle.temporal + idle.pgTemporal
		for range 60 {
			at, from := time.Now(), d.cpu(b)
			time.Sleep(250 * time.Millisecond)
			s := d.cpu(b).sub(from)
			if float64(s.temporal+s.pgTemporal) <= 2*float64(quiet)*float64(time.Since(at))/float64(idleFor)+float64(5*time.Millisecond) {
				return
			}
		}
	}
	settle()
	for r := range rounds {
		// The variants take turns, each round starting one later.
		for k := range variants {
			v := (r + k) % len(variants)
			vr := variants[v]
			if vr.prepare != nil {
				vr.prepare(r*per, per)
			}
			var profiled sync.WaitGroup
			if out := os.Getenv("CANDOR_SOAK_PROFILE"); out != "" && vr.name == "intake" && r == 0 {
				// serve-1's CPU while the first intake round runs.
				profiled.Go(func() { d.cpuProfile(b, d.pprof[0], max(2, per/150), out) })
			}
			if pinned {
				d.pin(b)
			}
			before := d.cpu(b)
			began := time.Now()
			jobs := make(chan int)
			var wg sync.WaitGroup
			var failed atomic.Int64
			for range inFlight {
				wg.Go(func() {
					for i := range jobs {
						if err := vr.start(context.Background(), i); err != nil {
							failed.Add(1)
							b.Logf("%s: %v", vr.name, err)
						}
					}
				})
			}
			for i := range per {
				jobs <- r*per + i
			}
			close(jobs)
			wg.Wait()
			took[v] += time.Since(began)
			profiled.Wait()
			if failed.Load() > 0 {
				b.Fatalf("%s: %d starts failed", vr.name, failed.Load())
			}
			settle()
			spent[v] = spent[v].add(withoutIdle(d.cpu(b).sub(before), time.Since(began)))
		}
	}
	n := rounds * per
	logf("idle, per second: %s", idle.perOrder(int(idleFor/time.Millisecond)/1000))
	ms := func(t time.Duration) float64 { return float64(t.Microseconds()) / 1000 / float64(n) }
	base := ms(spent[0].temporal + spent[0].pgTemporal)
	for v, vr := range variants {
		s := spent[v]
		t := ms(s.temporal + s.pgTemporal)
		logf("%-17s Temporal %.2f + its databases %.2f = %.2f CPU ms a start (×%.2f of plain); serve %.2f, Candor's database %.2f, client process %.2f; in all %.2f; %.0f starts/s",
			vr.name, ms(s.temporal), ms(s.pgTemporal), t, t/base, ms(s.serve), ms(s.pgCandor), ms(s.bench), ms(s.ours()), float64(n)/took[v].Seconds())
		b.ReportMetric(t, vr.name+"_temporal_ms/start")
	}
	// What serve asked of Temporal: one StartWorkflowExecution a delivery,
	// and nothing else per delivery.
	calls := map[string]float64{}
	for _, p := range d.serves {
		resp, err := http.Get(p.URL + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		scrape, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(scrape), "\n") {
			rest, ok := strings.CutPrefix(l, telemetry.SDKRequests+"{")
			_, op, _ := strings.Cut(rest, `operation="`)
			op, _, _ = strings.Cut(op, `"`)
			v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			if ok && err == nil {
				calls[op] += v
			}
		}
	}
	logf("serve's calls to Temporal, both replicas, %d deliveries: %v", n, calls)
	last := len(variants) - 1
	logf("intake/plain start: by CPU %.3f, by rate %.3f; intake/candor start: by CPU %.3f, by rate %.3f (target ≥ 0.8)",
		float64(spent[0].ours())/float64(spent[last].ours()), float64(took[0])/float64(took[last]),
		float64(spent[last-1].ours())/float64(spent[last].ours()), float64(took[last-1])/float64(took[last]))
	b.ReportMetric(float64(spent[0].ours())/float64(spent[last].ours()), "intake/plain_by_cpu")
	b.ReportMetric(float64(took[0])/float64(took[last]), "intake/plain_by_rate")
	b.ReportMetric(float64(spent[last-1].ours())/float64(spent[last].ours()), "intake/candor_by_cpu")
	b.ReportMetric(float64(took[last-1])/float64(took[last]), "intake/candor_by_rate")
	b.ReportMetric(0, "ns/op")
}

func (s cpuSnapshot) add(o cpuSnapshot) cpuSnapshot {
	return cpuSnapshot{serve: s.serve + o.serve, worker: s.worker + o.worker, temporal: s.temporal + o.temporal,
		pgCandor: s.pgCandor + o.pgCandor, pgTemporal: s.pgTemporal + o.pgTemporal, bench: s.bench + o.bench, machine: s.machine + o.machine}
}

// candorClient is a Temporal client dialled as serve dials it: Candor's
// client options, its tracing interceptor (off: no exporter), and its data
// converter over the deployment's data keys.
func (d *deployment) candorClient(tb testing.TB) client.Client {
	tb.Helper()
	ctx := context.Background()
	var master []byte
	var dbURL string
	for _, kv := range d.candor.Env {
		if v, ok := strings.CutPrefix(kv, "CANDOR_MASTER_KEY="); ok {
			var err error
			if master, err = base64.StdEncoding.DecodeString(v); err != nil {
				tb.Fatal(err)
			}
		}
		if v, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
			dbURL = v
		}
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ring, err := keys.New(master)
	if err != nil {
		tb.Fatal(err)
	}
	if err := datakeys.LoadIdentity(ctx, db, ring); err != nil {
		tb.Fatal(err)
	}
	dk := datakeys.New(db, ring)
	cfg := config.Config{TemporalAddress: temporal.Address, TemporalNamespace: d.ns}
	o := cfg.TemporalOptions()
	tr, err := telemetry.TracingFromEnv(ctx, "candor-bench")
	if err != nil {
		tb.Fatal(err)
	}
	if err := telemetry.Instrument(&o, telemetry.NewMetrics(), tr); err != nil {
		tb.Fatal(err)
	}
	o.Logger = tlog.NewStructuredLogger(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})))
	o.DataConverter = dk.DataConverter(workflows.DataKeyOwner(dk.Ring()))
	o.FailureConverter = datakeys.FailureConverter()
	c, err := client.Dial(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}
