package activities_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/pacing"
	"github.com/candorhq/candor/store"
)

// window is a shop whose review requests all come due at once: n requests,
// sent by workers from two worker processes.
type window struct {
	n          int
	plan       shopifytest.Plan
	bucketLeft float64 // points left in the shop's Shopify bucket at the start
	mailLimit  int     // SendGrid Mail Send calls per second
	paced      bool    // with package pacing, as `candor worker` runs
}

type windowResult struct {
	sent, failed, throttled, rateLimited int
	took                                 time.Duration
}

// sendWindow schedules the requests, then sends them all at once from two
// processes of 16 workers each, and counts what Shopify and SendGrid
// answered.
func sendWindow(tb testing.TB, w window, timed func(bool)) windowResult {
	tb.Helper()
	ctx := context.Background()
	f := newFixture(tb, customerOrder(1_000_000))
	f.shop.SetPlan(w.plan)
	f.sg.SetRateLimit(w.mailLimit, time.Second)
	ids := []int64{1_000_000}
	for i := 1; i < w.n; i++ {
		o := customerOrder(1_000_000 + int64(i))
		c := *o.Customer
		c.ID, c.Email = 5_550_000_000+int64(i), fmt.Sprintf("customer%d@example.org", i)
		o.Customer = &c
		f.shop.SetOrder(o)
		var products []store.Product
		for _, p := range o.Products {
			products = append(products, store.Product{ID: p.ID, Title: p.Title})
		}
		if _, err := f.env.ExecuteActivity(f.acts.Schedule, activities.ScheduleInput{Shop: testShop, OrderID: o.ID,
			OrderName: o.Name, RequestID: f.ring.RequestID(testShop, o.ID), Products: products}); err != nil {
			tb.Fatalf("schedule: %v", err)
		}
		ids = append(ids, o.ID)
	}
	f.shop.SetBucketAvailable(w.bucketLeft)
	procs := make([]*activities.Activities, 2)
	for p := range procs {
		a := *f.acts
		if w.paced {
			// Each process its own limiter: only Postgres is shared.
			a.Shopify.Pace = pacing.New(f.db.DB)
			a.Pace = pacing.New(f.db.DB)
			// One call at a time, at 90% of SendGrid's limit: its refresh
			// periods are fixed windows.
			a.MailBudget = pacing.Budget{Capacity: 1, Rate: 0.9 * float64(w.mailLimit)}
		}
		procs[p] = &a
	}
	queue := make(chan int64, len(ids))
	for _, id := range ids {
		queue <- id
	}
	close(queue)
	var mu sync.Mutex
	var res windowResult
	var wg sync.WaitGroup
	timed(true)
	start := time.Now()
	for p := range procs {
		for worker := 0; worker < 16; worker++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var suite testsuite.WorkflowTestSuite
				suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
				env := suite.NewTestActivityEnvironment()
				env.RegisterActivity(procs[p])
				for id := range queue {
					val, err := env.ExecuteActivity(procs[p].SendReviewRequest, activities.SendInput{
						Shop: testShop, OrderID: id, RequestID: f.ring.RequestID(testShop, id), Kind: activities.KindFirst})
					var out activities.SendResult
					if err == nil {
						err = val.Get(&out)
					}
					mu.Lock()
					if err == nil && out.Status == store.StatusSent {
						res.sent++
					} else {
						res.failed++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	res.took = time.Since(start)
	timed(false)
	res.throttled, res.rateLimited = f.shop.Throttled(), f.sg.RateLimited()
	_ = ctx
	return res
}

// A shop's requests that all come due at once go out within its Shopify
// query-cost budget and the SendGrid account's rate: not one THROTTLED, not
// one 429, every email sent. (BenchmarkSendWindow_5000 runs 5,000, with
// and without pacing, for docs/benchmarks.md.)
func TestSendReviewRequest_ARequestsWindowStaysWithinShopifyAndSendGridBudgets(t *testing.T) {
	res := sendWindow(t, window{n: 100, plan: shopifytest.PlanStandard, bucketLeft: 300, mailLimit: 20, paced: true}, func(bool) {})
	if res.sent != 100 || res.throttled != 0 || res.rateLimited != 0 {
		t.Fatalf("%d of 100 sent (%d not), %d THROTTLED, %d answered 429", res.sent, res.failed, res.throttled, res.rateLimited)
	}
}

// BenchmarkSendWindow_5000: 5,000 requests of one Shopify Plus shop due at
// the same minute, SendGrid allowing 100 Mail Send calls a second. Run with
//
//	go test -run '^$' -bench SendWindow -benchtime 1x -timeout 1h ./activities/
func BenchmarkSendWindow_5000(b *testing.B) {
	for _, paced := range []bool{true, false} {
		name := "paced"
		if !paced {
			name = "baseline_unpaced"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				res := sendWindow(b, window{n: 5000, plan: shopifytest.PlanPlus, bucketLeft: 1000, mailLimit: 100, paced: paced},
					func(on bool) {
						if on {
							b.StartTimer()
						} else {
							b.StopTimer()
						}
					})
				b.ReportMetric(float64(res.sent), "sent")
				b.ReportMetric(float64(res.failed), "not_sent")
				b.ReportMetric(float64(res.throttled), "THROTTLED")
				b.ReportMetric(float64(res.rateLimited), "429s")
				b.ReportMetric(float64(res.sent)/res.took.Seconds(), "sends/s")
			}
		})
	}
}
