package prod

import (
	"context"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// completedAttempt is the attempt on which the workflow's activity of this
// name completed, from the workflow's history (its first such activity).
func completedAttempt(t *testing.T, d *deployment, workflowID, activity string) int32 {
	t.Helper()
	it := d.tc.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]string{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[e.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] == activity {
			return a.GetAttempt()
		}
	}
	t.Fatalf("workflow %s ran no %s", workflowID, activity)
	return 0
}

// retry is what an operator sees of an activity waiting for its next
// attempt: its name, the failure, and how long Temporal waits.
type retry struct {
	activity, failure string
	wait              time.Duration
	status            string // the request row's status meanwhile
}

// awaitRetry polls the order's workflow until an activity has failed and
// waits for its next attempt.
func awaitRetry(t *testing.T, d *deployment, orderID int64) retry {
	t.Helper()
	id := review.WorkflowID(shop, orderID)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		desc, err := d.tc.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range desc.GetPendingActivities() {
			next, last := a.GetNextAttemptScheduleTime(), a.GetLastAttemptCompleteTime()
			if a.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED && next != nil && last != nil {
				st, _ := d.request(t, orderID)
				return retry{activity: a.GetActivityType().GetName(), failure: a.GetLastFailure().GetMessage(),
					wait: next.AsTime().Sub(last.AsTime()), status: st}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no activity waited for a retry within 30s (%s)", id, d.describe(id))
	return retry{}
}

// sendRetryInterval is the send activity's first retry interval in
// workflows/review.go: what a retry waits when the API gave no wait.
const sendRetryInterval = 5 * time.Second

// TestAPIFaults_EachSendGridAndShopifyFailureDoesWhatTheDocsSay runs one
// order per failure through the production processes, against the
// stand-ins answering as the real APIs do, and checks the outcome
// docs/sending.md (SendGrid) and the README (Shopify) give, with one email
// per order and nothing left running:
//   - SendGrid 429 with X-RateLimit-Reset: back to scheduled, retried at
//     the reset (sooner than the policy's 5 s), then sent;
//   - SendGrid 503: back to scheduled, retried, sent;
//   - SendGrid 500 after queueing the mail: sent_unconfirmed, not retried;
//   - no answer from SendGrid within the client's 30 s timeout, the mail
//     queued: sent_unconfirmed, not retried;
//   - Shopify 429 with Retry-After: 7: retried no sooner than 7 s, sent;
//   - Shopify THROTTLED (the shop's cost bucket empty): waited out inside
//     the attempt for the restore Shopify reports, sent on attempt 1.
func TestAPIFaults_EachSendGridAndShopifyFailureDoesWhatTheDocsSay(t *testing.T) {
	d := deploy(t, 1, 1)
	base := time.Now().UnixNano()%1_000_000_000 + 2000
	var addrs []string
	order := func(i int64, label string) shopifytest.Order {
		o := d.newOrder(base+i, label)
		addrs = append(addrs, o.Customer.Email)
		return o
	}
	settle := func(o shopifytest.Order) (string, int32) {
		t.Helper()
		id := review.WorkflowID(shop, o.ID)
		deadline := time.Now().Add(time.Minute)
		for {
			desc, err := d.tc.DescribeWorkflowExecution(context.Background(), id, "")
			if err != nil {
				t.Fatal(err)
			}
			if s := desc.GetWorkflowExecutionInfo().GetStatus(); s == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				break
			} else if s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || time.Now().After(deadline) {
				t.Fatalf("%s: %s", id, d.describe(id))
			}
			time.Sleep(200 * time.Millisecond)
		}
		st, _ := d.request(t, o.ID)
		return st, completedAttempt(t, d, id, "SendReviewRequest")
	}

	// The timeout first: its 30 s run while the other faults are tried.
	timeout := order(0, "sg-timeout")
	queued, release := d.mail.HoldNext()
	defer release()
	d.fulfil(t, timeout, "delivered")
	wait(t, queued, 30*time.Second, "the send reaching SendGrid")
	timedOut := time.Now()

	o := order(1, "sg-429")
	d.mail.FailNext(1, http.StatusTooManyRequests)
	d.fulfil(t, o, "delivered")
	r := awaitRetry(t, d, o.ID)
	t.Logf("SendGrid 429: %s retried after %v (%s); the request %s meanwhile", r.activity, r.wait, r.failure, r.status)
	if r.activity != "SendReviewRequest" || r.status != store.StatusScheduled || r.wait >= sendRetryInterval {
		t.Errorf("SendGrid 429: %s waits %v with the request %s; want the send back to %s, retried at X-RateLimit-Reset (under %v)",
			r.activity, r.wait, r.status, store.StatusScheduled, sendRetryInterval)
	}
	if st, a := settle(o); st != store.StatusSent || a != 2 {
		t.Errorf("SendGrid 429: %s on attempt %d, want %s on attempt 2", st, a, store.StatusSent)
	}

	o = order(2, "sg-503")
	d.mail.FailNext(1, http.StatusServiceUnavailable)
	d.fulfil(t, o, "delivered")
	r = awaitRetry(t, d, o.ID)
	t.Logf("SendGrid 503: %s retried after %v; the request %s meanwhile", r.activity, r.wait, r.status)
	if r.activity != "SendReviewRequest" || r.status != store.StatusScheduled {
		t.Errorf("SendGrid 503: %s with the request %s; want the send back to %s and retried", r.activity, r.status, store.StatusScheduled)
	}
	if st, a := settle(o); st != store.StatusSent || a != 2 {
		t.Errorf("SendGrid 503: %s on attempt %d, want %s on attempt 2", st, a, store.StatusSent)
	}

	o = order(3, "sg-500")
	d.mail.AcceptThenFail(1, http.StatusInternalServerError)
	d.fulfil(t, o, "delivered")
	if st, a := settle(o); st != store.StatusSentUnconfirmed || a != 1 {
		t.Errorf("SendGrid 500 after queueing: %s on attempt %d, want %s on attempt 1 (never retried)", st, a, store.StatusSentUnconfirmed)
	}

	o = order(4, "shopify-429")
	d.shopify.FailNext(1, http.StatusTooManyRequests, "7")
	d.fulfil(t, o, "delivered")
	r = awaitRetry(t, d, o.ID)
	t.Logf("Shopify 429 (Retry-After: 7): %s retried after %v (%s)", r.activity, r.wait, r.failure)
	if r.wait < 7*time.Second-100*time.Millisecond {
		t.Errorf("Shopify 429 with Retry-After: 7: %s retried after %v, sooner than Shopify asked", r.activity, r.wait)
	}
	if st, _ := settle(o); st != store.StatusSent {
		t.Errorf("Shopify 429: %s, want %s", st, store.StatusSent)
	}

	o = order(5, "shopify-throttled")
	throttled := d.shopify.Throttled()
	d.shopify.DrainBeforeNextQueries(1)
	d.fulfil(t, o, "delivered")
	if st, a := settle(o); st != store.StatusSent || a != 1 {
		t.Errorf("Shopify THROTTLED: %s on attempt %d, want %s on attempt 1 (waited out inside it)", st, a, store.StatusSent)
	}
	if n := d.shopify.Throttled() - throttled; n == 0 {
		t.Error("the stand-in answered nothing THROTTLED: the fault was not injected")
	} else {
		t.Logf("Shopify THROTTLED %d times, each waited out within the attempt", n)
	}

	if st, a := settle(timeout); st != store.StatusSentUnconfirmed || a != 1 {
		t.Errorf("SendGrid timeout: %s on attempt %d, want %s on attempt 1 (never retried)", st, a, store.StatusSentUnconfirmed)
	}
	t.Logf("SendGrid timeout: settled %v after the mail was queued", time.Since(timedOut).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // a duplicate would come within the delay
	onePerAddress(t, d, addrs...)
	if n := openReviews(t, d); n != 0 {
		t.Errorf("%d review requests still running", n)
	}
}
