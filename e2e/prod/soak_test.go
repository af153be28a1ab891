package prod

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// The soak harness drives many orders through the production topology, the
// whole pipeline (webhook → wait → email), and checks that nothing is lost
// and nothing is duplicated. BenchmarkSoak runs it with faults midway and,
// on the same server in the same run, the two bare-Temporal baselines;
// TestSoak_… runs a small one with a fault, so the harness itself is
// tested in CI.

// soakOrder is one order of one shop.
type soakOrder struct {
	shop string
	id   int64
}

// email is the order's customer address in the Shopify stand-in
// (shopifytest.DemoOrder): one per order, so one email per address is one
// email per order.
func (o soakOrder) email() string { return shopifytest.DemoOrder(o.id).Customer.Email }

// soakOrders makes perShop orders for each shop, interleaved across shops
// as a platform's traffic is, with IDs unused by any other test.
func soakOrders(shops []string, perShop int) []soakOrder {
	base := time.Now().UnixNano()%100_000_000*4 + 1
	var out []soakOrder
	for j := range perShop {
		for i, s := range shops {
			out = append(out, soakOrder{shop: s, id: base + int64(i*perShop+j)})
		}
	}
	return out
}

// connectShops connects n-1 more shops, as operators do (`candor shops
// add`, four at a time), each a store of its own at the Shopify stand-in
// with its own token and cost bucket; it returns every shop, the
// deployment's first.
func (d *deployment) connectShops(tb testing.TB, n int) []string {
	tb.Helper()
	shops := []string{shop}
	for i := 1; i < n; i++ {
		shops = append(shops, fmt.Sprintf("soak-%05d.myshopify.com", i))
	}
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range jobs {
				tok := fmt.Sprintf("shpat_soak_%05d", i)
				d.shopify.AddStore(tok)
				if _, err := d.candor.Run(context.Background(), "shops", "add", "--shop", shops[i], "--token", tok,
					"--delay", "1s", "--fallback-delay", "3s"); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := 1; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return shops
}

// webhookClient keeps connections to the replicas open, as Shopify's
// senders do; the default client's two idle connections per host would
// make every concurrent delivery dial anew.
var webhookClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

// post delivers one signed fulfillment to a replica and returns its status.
func (d *deployment) post(replica int, o soakOrder, webhookID string, body []byte) (int, error) {
	req, err := shopifytest.WebhookRequest(d.serves[replica].URL+"/webhooks/shopify", shopify.TopicFulfillmentCreate, o.shop, secret, webhookID, body)
	if err != nil {
		return 0, err
	}
	resp, err := webhookClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// intakeStats are what the deliveries of one phase saw.
type intakeStats struct {
	mu        sync.Mutex
	latencies []time.Duration // each order's first attempt of its first delivery
	refused   atomic.Int64    // answers 503, or no answer: retried as Shopify retries
	accepted  atomic.Int64    // orders whose first delivery was accepted
	finished  atomic.Bool     // every delivery was made or given up
	lastErr   atomic.Value
}

func (s *intakeStats) p(q float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.latencies) == 0 {
		return 0
	}
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	return l[min(len(l)-1, int(math.Ceil(q*float64(len(l))))-1)]
}

// deliverUntilAccepted delivers like Shopify: a 503 or no answer is tried
// again (after a second here, compressed from Shopify's backoff) until it
// is accepted or until is passed; any other answer is an error.
func (d *deployment) deliverUntilAccepted(st *intakeStats, replica int, o soakOrder, webhookID string, body []byte, first bool, until time.Time) error {
	for attempt := 0; ; attempt++ {
		began := time.Now()
		code, err := d.post(replica, o, webhookID, body)
		if first && attempt == 0 {
			st.mu.Lock()
			st.latencies = append(st.latencies, time.Since(began))
			st.mu.Unlock()
		}
		switch {
		case err == nil && code == http.StatusOK:
			return nil
		case err == nil && code != http.StatusServiceUnavailable:
			return fmt.Errorf("order %d: delivery answered %d", o.id, code)
		}
		st.refused.Add(1)
		if time.Now().After(until) {
			return fmt.Errorf("order %d: still refused at the deadline (%d, %v)", o.id, code, err)
		}
		time.Sleep(time.Second)
	}
}

// intake delivers every order's fulfillment (shipment delivered, so each
// is sent after its shop's 1 s delay), inFlight at a time, alternating
// between the replicas. With duplicates, every second order is delivered
// again to the other replica with the same webhook ID (Shopify's retry)
// and every fifth again with a new one (a second event); those come after
// the order's first delivery is accepted, while its workflow runs.
func (d *deployment) intake(st *intakeStats, orders []soakOrder, inFlight int, duplicates bool) time.Duration {
	until := time.Now().Add(10*time.Minute + time.Duration(len(orders))*20*time.Millisecond)
	jobs := make(chan int)
	var wg sync.WaitGroup
	began := time.Now()
	for range inFlight {
		wg.Go(func() {
			for i := range jobs {
				o := orders[i]
				body := shopifytest.FulfillmentPayload(shopifytest.DemoOrder(o.id), "delivered")
				id := shopifytest.NewWebhookID()
				replica := i % len(d.serves)
				if err := d.deliverUntilAccepted(st, replica, o, id, body, true, until); err != nil {
					st.lastErr.Store(err)
					continue
				}
				st.accepted.Add(1)
				if !duplicates {
					continue
				}
				if i%2 == 0 {
					if err := d.deliverUntilAccepted(st, (replica+1)%len(d.serves), o, id, body, false, until); err != nil {
						st.lastErr.Store(err)
					}
				}
				if i%5 == 0 {
					if err := d.deliverUntilAccepted(st, replica, o, shopifytest.NewWebhookID(), body, false, until); err != nil {
						st.lastErr.Store(err)
					}
				}
			}
		})
	}
	for i := range orders {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	st.finished.Store(true)
	return time.Since(began)
}

// countWorkflows counts the namespace's workflows matching a visibility
// query.
func (d *deployment) countWorkflows(tb testing.TB, query string) int {
	tb.Helper()
	resp, err := d.tc.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Namespace: d.ns, Query: query})
	if err != nil {
		tb.Fatal(err)
	}
	return int(resp.GetCount())
}

// settle waits until the outbox holds mails emails and no review workflow
// runs, up to within, and returns when that was reached.
func (d *deployment) settle(tb testing.TB, mails int, within time.Duration) time.Time {
	tb.Helper()
	deadline := time.Now().Add(within)
	d.mail.WaitFor(mails, within)
	for openReviews(tb, d) > 0 {
		if time.Now().After(deadline) {
			tb.Errorf("%d review workflows still running after %v", openReviews(tb, d), within)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	return time.Now()
}

// soakVerdict checks what a user would: one email to each order's
// customer, none more; every workflow closed as completed; every request
// recorded as sent (or, after a lost 202, as sent_unconfirmed). It returns
// the count of each request status.
func (d *deployment) soakVerdict(tb testing.TB, orders []soakOrder) map[string]int {
	tb.Helper()
	time.Sleep(3 * time.Second) // a duplicate would come within the shop's delay
	per := map[string]int{}
	mails := d.mail.Outbox()
	for _, m := range mails {
		per[m.To[0]]++
	}
	lost, doubled := 0, 0
	for _, o := range orders {
		switch n := per[o.email()]; {
		case n == 0:
			lost++
			if lost <= 5 {
				tb.Log(d.describe(review.WorkflowID(o.shop, o.id)))
			}
		case n > 1:
			doubled++
		}
	}
	if lost != 0 || doubled != 0 || len(mails) != len(orders) {
		tb.Errorf("%d orders got no email, %d more than one; %d emails for %d orders", lost, doubled, len(mails), len(orders))
	}
	if n := d.countWorkflows(tb, "WorkflowType = 'ReviewRequest' AND ExecutionStatus = 'Completed'"); n != len(orders) {
		tb.Errorf("%d review workflows completed, want %d (running: %d)", n, len(orders), openReviews(tb, d))
	}
	statuses := map[string]int{}
	rows, err := d.db.Query(`SELECT status, count(*) FROM review_requests GROUP BY status`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			tb.Fatal(err)
		}
		statuses[s] = n
	}
	if statuses[store.StatusSent]+statuses[store.StatusSentUnconfirmed] != len(orders) {
		tb.Errorf("request statuses %v, want all %d %s or %s", statuses, len(orders), store.StatusSent, store.StatusSentUnconfirmed)
	}
	return statuses
}

// fault is one fault injected midway, and what it cost.
type fault struct {
	name      string
	at        int           // orders accepted when it began
	down      time.Duration // how long the part was away
	recovered time.Duration // from its return to the next accepted delivery (Postgres)
}

// injectFaults runs the faults in turn as intake passes a quarter, half
// and three quarters of the orders: SIGKILL of a worker, restarted 3 s
// later; SendGrid bursts of 429 (with X-RateLimit-Reset) and 503, one
// send in 50 each (2 to 100), and two lost 202s (502 after the mail is
// queued); PostgreSQL, Candor's and Temporal's, stopped for 3 s and
// started again. It returns when all have run.
func (d *deployment) injectFaults(tb testing.TB, st *intakeStats, total int, restartPostgres bool) []fault {
	tb.Helper()
	waitFor := func(n int) int {
		for int(st.accepted.Load()) < n && !st.finished.Load() {
			time.Sleep(20 * time.Millisecond)
		}
		return int(st.accepted.Load())
	}
	var out []fault
	at := waitFor(total / 4)
	began := time.Now()
	d.workers[0].Kill()
	time.Sleep(3 * time.Second)
	if err := d.workers[0].Start(context.Background()); err != nil {
		tb.Error(err)
	}
	out = append(out, fault{name: "worker SIGKILL, restarted after 3 s", at: at, down: time.Since(began)})

	at = waitFor(total / 2)
	burst := min(max(total/50, 2), 100)
	d.mail.FailNext(burst, http.StatusTooManyRequests)
	d.mail.FailNext(burst, http.StatusServiceUnavailable)
	d.mail.AcceptThenFail(2, http.StatusBadGateway)
	out = append(out, fault{name: fmt.Sprintf("SendGrid: %d × 429, %d × 503, 2 × 502 after queueing", burst, burst), at: at})

	if !restartPostgres {
		return out
	}
	at = waitFor(total * 3 / 4)
	restart := stopPostgres(tb)
	began = time.Now()
	time.Sleep(3 * time.Second)
	restart()
	back := time.Now()
	down := back.Sub(began)
	before := st.accepted.Load()
	for st.accepted.Load() == before && time.Since(back) < 3*time.Minute && !st.finished.Load() {
		time.Sleep(20 * time.Millisecond)
	}
	out = append(out, fault{name: "PostgreSQL stopped, started after 3 s", at: at, down: down, recovered: time.Since(back)})
	return out
}

// The bare baseline: a workflow with the pipeline's shape and nothing of
// Candor in it. ReviewRequest, for a delivered order, runs four activities
// (Schedule, PlanSend, PlanSend again after the delay's timer, and
// SendReviewRequest) around one timer of the shop's delay; the bare one runs
// four activities that return their input around a timer of the same 1 s.
const (
	bareWorkflowName = "SoakBare"
	bareActivityName = "SoakBareStep"
	bareTaskQueue    = "soak-bare"
)

func bareWorkflow(ctx workflow.Context, in string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var out string
	for i := range 4 {
		if i == 2 {
			if err := workflow.Sleep(ctx, time.Second); err != nil {
				return "", err
			}
		}
		if err := workflow.ExecuteActivity(ctx, bareActivityName, in).Get(ctx, &out); err != nil {
			return "", err
		}
	}
	return out, nil
}

func bareStep(_ context.Context, in string) (string, error) { return in, nil }

// bareRun starts n bare workflows inFlight at a time with a plain
// client.ExecuteWorkflow loop, from this process, then starts a worker in
// this process to run them, and waits for them to close. It returns the time the
// starts took and the time until the last one closed; afterStarts, if
// not nil, runs as soon as the last start returns. withAttributes starts
// each with the two search attributes a ReviewRequest starts with
// (CandorShop, CandorPhase), to tell their cost from Candor's own.
func (d *deployment) bareRun(tb testing.TB, n, inFlight int, withAttributes bool, afterStarts func()) (starts, done time.Duration) {
	tb.Helper()
	w := worker.New(d.tc, bareTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: bareWorkflowName})
	w.RegisterActivityWithOptions(bareStep, activity.RegisterOptions{Name: bareActivityName})
	defer w.Stop()
	// The same shape of input as a review request: shop, order, name,
	// request ID and two products.
	in := strings.Repeat("x", 320)
	run := time.Now().UnixNano()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Int64
	began := time.Now()
	for range inFlight {
		wg.Go(func() {
			for i := range jobs {
				opts := client.StartWorkflowOptions{ID: fmt.Sprintf("soak-bare/%d/%d", run, i), TaskQueue: bareTaskQueue}
				if withAttributes {
					opts.TypedSearchAttributes = sdktemporal.NewSearchAttributes(review.AttrShop.ValueSet(shop), review.AttrPhase.ValueSet(string(review.PhaseWaitingDelay)))
				}
				_, err := d.tc.ExecuteWorkflow(context.Background(), opts, bareWorkflowName, in)
				if err != nil {
					failed.Add(1)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	starts = time.Since(began)
	if afterStarts != nil {
		afterStarts()
	}
	// The worker polls only once every start is in, as Candor's workers
	// do in the clean phase: intake is measured alone on both sides.
	if err := w.Start(); err != nil {
		tb.Fatal(err)
	}
	if failed.Load() > 0 {
		tb.Fatalf("%d bare starts failed", failed.Load())
	}
	q := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", bareWorkflowName)
	deadline := time.Now().Add(10 * time.Minute)
	for d.countWorkflows(tb, q) > 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("bare workflows still running after 10 minutes")
		}
		time.Sleep(250 * time.Millisecond)
	}
	return starts, time.Since(began)
}

// actions counts, over the histories of a sample of orders, the Temporal
// Cloud actions per workflow (https://docs.temporal.io/cloud/actions:
// workflow started, each activity attempt, timer started, signal) and
// the history events; version markers are counted apart.
func (d *deployment) actions(tb testing.TB, orders []soakOrder, sample int) (actions, events, markers float64) {
	tb.Helper()
	step := max(1, len(orders)/sample)
	n := 0
	for i := 0; i < len(orders); i += step {
		o := orders[i]
		it := d.tc.GetWorkflowHistory(context.Background(), review.WorkflowID(o.shop, o.id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				tb.Fatal(err)
			}
			events++
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enumspb.EVENT_TYPE_TIMER_STARTED,
				enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				actions++
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				actions += float64(e.GetActivityTaskStartedEventAttributes().GetAttempt()) // retries are actions too
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				markers++
			}
		}
		n++
	}
	return actions / float64(n), events / float64(n), markers / float64(n)
}

// dbSize is the size of a database on the package's PostgreSQL.
func (d *deployment) dbSize(tb testing.TB, name string) int64 {
	tb.Helper()
	var n int64
	if err := d.db.Get(&n, `SELECT pg_database_size($1)`, name); err != nil {
		tb.Fatal(err)
	}
	return n
}

func (d *deployment) candorDB(tb testing.TB) string {
	tb.Helper()
	var name string
	if err := d.db.Get(&name, `SELECT current_database()`); err != nil {
		tb.Fatal(err)
	}
	return name
}

// envInt reads a positive integer from the environment, or def.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestSoak_SmallRunWithAWorkerKilledAndSendGridRefusingLosesAndDuplicatesNothing
// runs the soak harness small: 40 orders of 4 shops over both replicas,
// with duplicate deliveries, while one worker is SIGKILLed and restarted
// and SendGrid answers a burst of 429s, 503s and lost 202s. Every order
// gets exactly one email and every workflow completes.
func TestSoak_SmallRunWithAWorkerKilledAndSendGridRefusingLosesAndDuplicatesNothing(t *testing.T) {
	d := deploy(t, 2, 2)
	orders := soakOrders(d.connectShops(t, 4), 10)
	st := &intakeStats{}
	began := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		took := d.intake(st, orders, 8, true)
		t.Logf("intake: %d orders in %v, %d deliveries refused and retried", len(orders), took.Round(time.Millisecond), st.refused.Load())
	})
	faults := d.injectFaults(t, st, len(orders), false)
	wg.Wait()
	if err, _ := st.lastErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	d.settle(t, len(orders), 2*time.Minute)
	t.Logf("settled %v after the first delivery; faults: %+v", time.Since(began).Round(time.Millisecond), faults)
	statuses := d.soakVerdict(t, orders)
	if statuses[store.StatusSentUnconfirmed] > 2 {
		t.Errorf("%d sent_unconfirmed, want at most the 2 lost 202s", statuses[store.StatusSentUnconfirmed])
	}
}

// BenchmarkSoak is the soak and the scale simulation on the production
// topology (two serve replicas, two workers, the Temporal server on
// PostgreSQL), and the baselines beside it in the same run:
//
//  1. bare: CANDOR_SOAK_BASELINE workflows of the pipeline's shape started
//     by a plain client.ExecuteWorkflow loop, CANDOR_SOAK_IN_FLIGHT at a
//     time, then run by a worker in this process: starts/s and
//     completions/s;
//  2. clean: as many orders through Candor (webhook → wait → email), at the
//     same concurrency, no duplicates, no faults, the workers stopped until
//     intake is done as the bare worker was: intake/s and completions/s,
//     and their ratios to the bare run's, by rate and by CPU per order;
//  3. soak: CANDOR_SOAK_ORDERS orders of CANDOR_SOAK_SHOPS shops, with
//     duplicate deliveries, and faults midway (injectFaults; none with
//     CANDOR_SOAK_FAULTS=0). It fails unless every order has exactly one
//     email and a completed workflow. It reports throughput, intake
//     latency, PostgreSQL bytes and registry rows per 1,000 orders, peak
//     RSS of serve and worker, and Temporal actions per order.
//
// The work is done once per call, whatever b.N: run it with -benchtime 1x.
// Defaults are small (200 orders of 10 shops); docs/benchmarks.md has the
// commands for 10,000 orders and for 1,000 shops × 20.
func BenchmarkSoak(b *testing.B) {
	// A long run shows its progress as it goes: a benchmark's log comes
	// only at its end, and a run cut short by -timeout would show none.
	logf := func(format string, args ...any) {
		b.Helper()
		fmt.Fprintf(os.Stderr, time.Now().Format(time.TimeOnly)+" soak: "+format+"\n", args...)
		b.Logf(format, args...)
	}
	total := envInt(b, "CANDOR_SOAK_ORDERS", 200)
	nShops := envInt(b, "CANDOR_SOAK_SHOPS", 10)
	baseN := envInt(b, "CANDOR_SOAK_BASELINE", 200)
	inFlight := envInt(b, "CANDOR_SOAK_IN_FLIGHT", 16)
	withFaults := os.Getenv("CANDOR_SOAK_FAULTS") != "0"
	logf("load before: %s", loadavg())

	d := deploy(b, 2, 2)
	connect := time.Now()
	shops := d.connectShops(b, nShops)
	logf("%d shops connected in %v", len(shops), time.Since(connect).Round(time.Millisecond))
	perShop := (total + len(shops) - 1) / len(shops)
	all := soakOrders(shops, perShop+(baseN+len(shops)-1)/len(shops))
	clean, orders := all[:baseN], all[len(all)-total:]

	// 1. The bare baseline.
	logf("bare baseline: %d workflows, %d in flight", baseN, inFlight)
	cpu0 := d.cpu(b)
	var cpuBareStarts cpuSnapshot
	bareStarts, bareDone := d.bareRun(b, baseN, inFlight, false, func() { cpuBareStarts = d.cpu(b).sub(cpu0) })
	cpuBare := d.cpu(b).sub(cpu0)
	logf("bare baseline with Candor's two start search attributes: %d workflows", baseN)
	cpu0 = d.cpu(b)
	var cpuAttrStarts cpuSnapshot
	attrStarts, _ := d.bareRun(b, baseN, inFlight, true, func() { cpuAttrStarts = d.cpu(b).sub(cpu0) })
	bareStartRate := float64(baseN) / bareStarts.Seconds()
	bareDoneRate := float64(baseN) / bareDone.Seconds()

	// 2. Candor, clean, at the same concurrency.
	cst := &intakeStats{}
	var profiled sync.WaitGroup
	// Intake alone, as the bare starts were: the workers stop (SIGTERM,
	// as in a deploy) until every delivery is accepted, then start again
	// and work through what came in.
	for _, w := range d.workers {
		if err := w.Stop(30 * time.Second); err != nil {
			b.Fatal(err)
		}
	}
	if out := os.Getenv("CANDOR_SOAK_PROFILE"); out != "" {
		// serve-1's CPU while intake runs (an estimate of how long it does).
		secs := max(2, int(float64(baseN)/bareStartRate/0.6))
		profiled.Go(func() { d.cpuProfile(b, d.pprof[0], secs, out) })
	}
	cpu0 = d.cpu(b)
	began := time.Now()
	took := d.intake(cst, clean, inFlight, false)
	cpuIntake := d.cpu(b).sub(cpu0)
	for _, w := range d.workers {
		if err := w.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	profiled.Wait()
	if err, _ := cst.lastErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	cleanDone := d.settle(b, len(clean), 10*time.Minute).Sub(began)
	cpuClean := d.cpu(b).sub(cpu0)
	intakeRate := float64(baseN) / took.Seconds()
	doneRate := float64(baseN) / cleanDone.Seconds()
	logf("bare: %d started in %v (%.0f/s), all closed after %v (%.1f/s)", baseN, bareStarts.Round(time.Millisecond), bareStartRate, bareDone.Round(time.Millisecond), bareDoneRate)
	logf("candor: %d accepted in %v (%.0f/s, p99 %v), all emailed and closed after %v (%.1f/s)", baseN, took.Round(time.Millisecond), intakeRate, cst.p(0.99).Round(time.Microsecond), cleanDone.Round(time.Millisecond), doneRate)
	logf("ratios, same run: intake/bare start %.3f (target ≥ 0.8), completions %.3f (target ≥ 0.7)", intakeRate/bareStartRate, doneRate/bareDoneRate)
	logf("bare with attributes: %d started in %v (%.0f/s); intake/bare-with-attributes start %.3f", baseN, attrStarts.Round(time.Millisecond), float64(baseN)/attrStarts.Seconds(), intakeRate/(float64(baseN)/attrStarts.Seconds()))
	logf("CPU, bare starts (first start to last): %s", cpuBareStarts.perOrder(baseN))
	logf("CPU, bare starts with attributes: %s", cpuAttrStarts.perOrder(baseN))
	logf("CPU, bare (first start to last close): %s", cpuBare.perOrder(baseN))
	logf("CPU, candor intake (first delivery to last accepted): %s", cpuIntake.perOrder(baseN))
	logf("CPU, candor (first delivery to last close): %s", cpuClean.perOrder(baseN))
	// On a machine whose CPU is the limit, as this one's two cores are,
	// throughput is inversely proportional to CPU per order: the ratios of
	// CPU per order are the same comparison as the rates, without the
	// noise of whatever else the machine ran meanwhile.
	intakeCPURatio := float64(cpuBareStarts.ours()) / float64(cpuIntake.ours())
	doneCPURatio := float64(cpuBare.ours()) / float64(cpuClean.ours())
	attrCPURatio := float64(cpuAttrStarts.ours()) / float64(cpuIntake.ours())
	logf("ratios by CPU per order: intake/bare start %.3f (with attributes %.3f), completions %.3f", intakeCPURatio, attrCPURatio, doneCPURatio)

	// 3. The soak.
	dbName := d.candorDB(b)
	temporalDBs := func() int64 { return d.dbSize(b, "prod_temporal") + d.dbSize(b, "prod_visibility") }
	candorBefore, temporalBefore := d.dbSize(b, dbName), temporalDBs()
	rowsBefore := d.count(b, `SELECT count(*) FROM registry_entries`)
	st := &intakeStats{}
	cpu0 = d.cpu(b)
	began = time.Now()
	var intakeTook time.Duration
	var wg sync.WaitGroup
	logf("soak: %d orders of %d shops, faults %v", len(orders), len(shops), withFaults)
	wg.Go(func() { intakeTook = d.intake(st, orders, inFlight, true) })
	var faults []fault
	if withFaults {
		faults = d.injectFaults(b, st, len(orders), true)
		logf("faults injected: %+v", faults)
	}
	wg.Wait()
	logf("soak intake done in %v; waiting for every email", intakeTook.Round(time.Millisecond))
	if err, _ := st.lastErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	// Intake outruns the pipeline: allow the orders time at 5 a second,
	// well under what the clean phase measures, beyond half an hour.
	soakDone := d.settle(b, len(clean)+len(orders), 30*time.Minute+time.Duration(len(orders))*200*time.Millisecond).Sub(began)
	cpuSoak := d.cpu(b).sub(cpu0)
	statuses := d.soakVerdict(b, append(slices.Clone(clean), orders...))
	candorBytes := d.dbSize(b, dbName) - candorBefore
	temporalBytes := temporalDBs() - temporalBefore
	rows := d.count(b, `SELECT count(*) FROM registry_entries`) - rowsBefore
	actions, events, markers := d.actions(b, orders, 100)
	var serveRSS, workerRSS int64
	for _, p := range d.serves {
		serveRSS = max(serveRSS, p.PeakRSS())
	}
	for _, p := range d.workers {
		workerRSS = max(workerRSS, p.PeakRSS())
	}
	per1k := func(v float64) float64 { return v * 1000 / float64(len(orders)) }

	logf("soak: %d orders of %d shops: intake %v, all emailed and closed after %v (%.1f orders/s); %d deliveries refused and retried; statuses %v",
		len(orders), len(shops), intakeTook.Round(time.Millisecond), soakDone.Round(time.Millisecond), float64(len(orders))/soakDone.Seconds(), st.refused.Load(), statuses)
	logf("intake latency: p50 %v, p99 %v", st.p(0.5).Round(time.Microsecond), st.p(0.99).Round(time.Microsecond))
	for _, f := range faults {
		logf("fault at %d accepted: %s; away %v; first delivery accepted %v after its return", f.at, f.name, f.down.Round(time.Millisecond), f.recovered.Round(time.Millisecond))
	}
	logf("per 1,000 orders: Candor's database +%.1f MB, Temporal's (history + visibility) +%.1f MB, %.0f registry rows", per1k(float64(candorBytes))/1e6, per1k(float64(temporalBytes))/1e6, per1k(float64(rows)))
	logf("per order: %.1f Temporal actions, %.1f history events, %.1f version markers; peak RSS serve %.0f MB, worker %.0f MB", actions, events, markers, float64(serveRSS)/1e6, float64(workerRSS)/1e6)
	logf("CPU, soak (first delivery to last close; a killed worker's CPU before the kill included): %s", cpuSoak.perOrder(len(orders)))
	logf("Candor's largest tables after the run: %s", d.tableSizes(b))
	logf("load after: %s", loadavg())

	b.ReportMetric(bareStartRate, "bare_starts/s")
	b.ReportMetric(intakeRate, "intake/s")
	b.ReportMetric(intakeRate/bareStartRate, "intake/bare")
	b.ReportMetric(bareDoneRate, "bare_done/s")
	b.ReportMetric(doneRate, "pipeline_done/s")
	b.ReportMetric(doneRate/bareDoneRate, "done/bare")
	b.ReportMetric(intakeCPURatio, "intake/bare_by_cpu")
	b.ReportMetric(attrCPURatio, "intake/bare_attrs_by_cpu")
	b.ReportMetric(intakeRate/(float64(baseN)/attrStarts.Seconds()), "intake/bare_attrs")
	b.ReportMetric(doneCPURatio, "done/bare_by_cpu")
	b.ReportMetric(float64(len(orders))/soakDone.Seconds(), "soak_orders/s")
	b.ReportMetric(soakDone.Seconds(), "soak_s")
	b.ReportMetric(float64(st.p(0.99).Microseconds())/1000, "intake_p99_ms")
	b.ReportMetric(per1k(float64(candorBytes+temporalBytes))/1e6, "pg_MB/1k_orders")
	b.ReportMetric(per1k(float64(rows)), "registry_rows/1k_orders")
	b.ReportMetric(float64(serveRSS)/1e6, "serve_peak_MB")
	b.ReportMetric(float64(workerRSS)/1e6, "worker_peak_MB")
	b.ReportMetric(actions, "actions/order")
	b.ReportMetric(0, "ns/op")
}

// cpuProfile saves the CPU profile of the serve replica whose pprof
// listener is at addr, taken over secs seconds, to out.
func (d *deployment) cpuProfile(tb testing.TB, addr string, secs int, out string) {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		// No profile is no fault of the pipeline: say so, and go on.
		tb.Logf("no CPU profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(out)
	if err != nil {
		tb.Error(err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		tb.Error(err)
	}
}

// tableSizes lists the Candor database's largest tables with their rows
// (the statistics' estimate) and bytes (indexes and TOAST included), for
// the per-order costs in docs/scaling.md.
func (d *deployment) tableSizes(tb testing.TB) string {
	tb.Helper()
	var rows []struct {
		Name  string `db:"name"`
		Rows  int64  `db:"rows"`
		Bytes int64  `db:"bytes"`
	}
	if err := d.db.Select(&rows, `SELECT relname AS name, n_live_tup AS rows, pg_total_relation_size(relid) AS bytes
		FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT 8`); err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s ~%d rows %.1f MB", r.Name, r.Rows, float64(r.Bytes)/1e6))
	}
	return strings.Join(out, "; ")
}

// loadavg is the machine's load, as uptime prints it.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}
