package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

// RecordHistoriesEnv names a folder to write the recorded histories to. The
// ones in workflows/testdata/histories were recorded this way:
//
//	CANDOR_RECORD_HISTORIES=$PWD/workflows/testdata/histories go test ./e2e -run TestHistories
const RecordHistoriesEnv = "CANDOR_RECORD_HISTORIES"

// TestHistories_EveryWorkflowPathRecordsAndReplays runs each workflow's
// paths on the real Temporal server, then replays each history, decoded,
// against the workflow code as it is now: a workflow that is not
// deterministic across its own run fails here. The same histories, once
// committed, guard later changes (workflows/replay_test.go).
func TestHistories_EveryWorkflowPathRecordsAndReplays(t *testing.T) {
	s := start(t, func(st *store.Settings) {
		st.Delay, st.FallbackDelay, st.Reminder = time.Second, 2*time.Second, 2*time.Second
	})
	ctx := context.Background()
	base := time.Now().UnixNano()%1_000_000_000 + 5000
	recorded := map[string][]byte{} // file name → decoded history
	keep := func(name, workflowID string) {
		t.Helper()
		j, err := devenv.HistoryJSON(ctx, s.tc, workflowID, s.codec())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recorded[name] = j
	}
	var orders []shopifytest.Order

	order := func(n int64) shopifytest.Order {
		o := shopifytest.DemoOrder(base + n)
		o.Customer.ID = 7_000_000_000 + base + n
		s.shopify.SetOrder(o)
		orders = append(orders, o)
		return o
	}

	// ReviewRequest, delivered in the first event: sent, then the reminder.
	delivered := order(1)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(delivered, "delivered"))
	// Delivered by a later event (the delivered signal): sent and reminded.
	signalled := order(2)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(signalled, ""))
	s.deliver(t, shopify.TopicFulfillmentUpdate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(signalled, "delivered"))
	// No delivery event: the fallback delay.
	fallback := order(3)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(fallback, ""))
	// Cancelled while waiting: the stop signal.
	cancelled := order(4)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(cancelled, ""))
	cancelled.Cancelled = true
	s.shopify.SetOrder(cancelled)
	s.deliver(t, shopify.TopicOrderCancelled, shopifytest.NewWebhookID(), shopifytest.OrderPayload(cancelled))

	for name, c := range map[string]struct {
		o    shopifytest.Order
		want workflows.ReviewRequestResult
	}{
		"review_delivered_sent_reminded.json": {delivered, workflows.ReviewRequestResult{Status: store.StatusSent, ReminderStatus: store.StatusSent}},
		"review_signalled_sent_reminded.json": {signalled, workflows.ReviewRequestResult{Status: store.StatusSent, ReminderStatus: store.StatusSent}},
		"review_fallback_sent_reminded.json":  {fallback, workflows.ReviewRequestResult{Status: store.StatusSent, ReminderStatus: store.StatusSent}},
		"review_cancelled.json":               {cancelled, workflows.ReviewRequestResult{Status: store.StatusSkipped, Reason: review.ReasonCancelled}},
	} {
		if r := s.result(t, c.o.ID); r != c.want {
			t.Fatalf("%s: result %+v, want %+v", name, r, c.want)
		}
		keep(name, review.WorkflowID(shop, c.o.ID))
	}
	// The search-attributes version's side (the files above were recorded
	// before it): the send time, the phases and the outcome upserted.
	keep("review_search_attributes.json", review.WorkflowID(shop, signalled.ID))

	// The send-heartbeat version's side of a plain send (the files above
	// were recorded before it).
	heartbeat := order(9)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(heartbeat, "delivered"))
	if r := s.result(t, heartbeat.ID); r.Status != store.StatusSent {
		t.Fatalf("send with heartbeats: result %+v", r)
	}
	keep("review_send_heartbeat.json", review.WorkflowID(shop, heartbeat.ID))

	// The multi-shipment version's side, which every new ReviewRequest takes
	// (with its search attributes): two parcels, the order fulfilled, the
	// parcels delivered out of order, one email about both, the reminder.
	parcels := order(11)
	first, second := parcels.Products[:1], parcels.Products[1:2]
	for _, st := range []struct {
		topic string
		body  []byte
	}{
		{shopify.TopicFulfillmentCreate, shopifytest.ShipmentPayload(parcels, 1, shopify.FulfillmentSuccess, "", first)},
		{shopify.TopicFulfillmentCreate, shopifytest.ShipmentPayload(parcels, 2, shopify.FulfillmentSuccess, "", second)},
		{shopify.TopicOrderFulfilled, shopifytest.OrderPayload(parcels)},
		{shopify.TopicFulfillmentUpdate, shopifytest.ShipmentPayload(parcels, 2, shopify.FulfillmentSuccess, "delivered", second)},
		{shopify.TopicFulfillmentUpdate, shopifytest.ShipmentPayload(parcels, 1, shopify.FulfillmentSuccess, "delivered", first)},
	} {
		s.deliver(t, st.topic, shopifytest.NewWebhookID(), st.body)
	}
	if r := s.result(t, parcels.ID); r.Status != store.StatusSent || r.ReminderStatus != store.StatusSent {
		t.Fatalf("two parcels: result %+v", r)
	}
	keep("review_shipments.json", review.WorkflowID(shop, parcels.ID))

	// SendGrid accepts the mail, then answers 502: sent, unconfirmed.
	s.mail.AcceptThenFail(1, 502)
	unconfirmed := order(7)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(unconfirmed, "delivered"))
	if r := s.result(t, unconfirmed.ID); r.Status != store.StatusSentUnconfirmed {
		t.Fatalf("accepted then 502: result %+v, want %s", r, store.StatusSentUnconfirmed)
	}
	keep("review_sent_unconfirmed.json", review.WorkflowID(shop, unconfirmed.ID))

	// PrivacyRequest: a data request, then an erasure, of another customer
	// (the erasure deletes that customer's review history).
	erased := order(5)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(erased, "delivered"))
	s.result(t, erased.ID)
	body, _ := json.Marshal(map[string]any{"shop_id": 1, "shop_domain": shop, "orders_requested": []int64{erased.ID},
		"customer": map[string]any{"id": erased.Customer.ID, "email": erased.Customer.Email}, "data_request": map[string]any{"id": 9999}})
	id, _ := s.privacy(t, shopify.TopicCustomersDataRequest, store.KindDataRequest, shopifytest.NewWebhookID(), body)
	keep("privacy_data_request.json", workflows.PrivacyRequestID(store.KindDataRequest, shop, id))
	id, res := s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, shopifytest.NewWebhookID(), redactPayload(erased, erased.ID))
	if st := res.Steps["postgres"]; !st.Verified {
		t.Fatalf("customer redact: %+v", res)
	}
	keep("privacy_customer_redact.json", workflows.PrivacyRequestID(store.KindCustomerRedact, shop, id))

	// Retention: one sweep. Reconcile: one run.
	sweepID := fmt.Sprintf("retention/record/%d", base)
	if _, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: sweepID, TaskQueue: workflows.TaskQueue}, workflows.Retention, workflows.RetentionInput{}); err != nil {
		t.Fatal(err)
	}
	reconcileID := fmt.Sprintf("reconcile/record/%d", base)
	s.reconcile(t, reconcileID)
	keep("reconcile_fanout.json", reconcileID)
	// RedrivePrivacy: one run, as its schedule starts it.
	redriveID := fmt.Sprintf("privacy-redrive/record/%d", base)
	runWorkflow[activities.RedriveResult](t, s, redriveID, time.Minute, workflows.RedrivePrivacy)
	keep("privacy_redrive.json", redriveID)
	waitClosed(t, s.tc, sweepID)
	keep("retention_fanout.json", sweepID)

	// Last, as they end the shop: app/uninstalled with a request waiting,
	// then shop/redact.
	waiting := order(8)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(waiting, ""))
	waitRunning(t, s, waiting.ID)
	uninstall := []byte(`{"id":954889,"name":"Harbour Goods","domain":"harbour-goods.example","myshopify_domain":"` + shop + `"}`)
	id, res = s.privacy(t, shopify.TopicAppUninstalled, store.KindUninstall, shopifytest.NewWebhookID(), uninstall)
	if st := res.Steps["token"]; !st.Verified {
		t.Fatalf("uninstall: %+v", res)
	}
	keep("privacy_uninstall.json", workflows.PrivacyRequestID(store.KindUninstall, shop, id))
	id, res = s.privacy(t, shopify.TopicShopRedact, store.KindShopRedact, shopifytest.NewWebhookID(), []byte(`{"shop_id":954889,"shop_domain":"`+shop+`"}`))
	if st := res.Steps["postgres"]; !st.Verified {
		t.Fatalf("shop redact: %+v", res)
	}
	keep("privacy_shop_redact_long_steps.json", workflows.PrivacyRequestID(store.KindShopRedact, shop, id))

	dir := os.Getenv(RecordHistoriesEnv)
	written := 0
	replayer := worker.NewWorkflowReplayer()
	workflows.RegisterWorkflows(replayer)
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for name, j := range recorded {
		for _, o := range orders {
			for _, pii := range personal(o) {
				if bytes.Contains(j, []byte(pii)) {
					t.Fatalf("%s holds personal data %q", name, pii)
				}
			}
		}
		h, err := client.HistoryFromJSON(bytes.NewReader(j), client.HistoryJSONOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Under its own workflow ID, which the started event records: the
		// fan-out workflows name their children after it.
		id := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId()
		if err := replayer.ReplayWorkflowHistoryWithOptions(logger, h, worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id}}); err != nil {
			t.Errorf("%s does not replay: %v", name, err)
		}
		if dir != "" {
			written += writeNew(t, filepath.Join(dir, name), append(j, '\n'))
		}
	}
	if dir != "" {
		t.Logf("wrote %d new histories to %s", written, dir)
	}
}

// waitClosed waits for a workflow to finish, whatever its result type.
func waitClosed(t *testing.T, c client.Client, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
}

// writeNew writes a history that is not recorded yet and leaves one that
// is: a recorded history stands for workflows already running in
// production, so it is never recorded again.
func writeNew(t *testing.T, path string, b []byte) int {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	return 1
}

// waitRunning waits until the order's review workflow has started and
// stored its request, so a later step finds it waiting.
func waitRunning(t *testing.T, s *system, orderID int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := s.db.Get(&n, `SELECT count(*) FROM review_requests WHERE order_id = $1`, orderID); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %d: no review request stored", orderID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
