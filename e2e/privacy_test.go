package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

func redactPayload(o shopifytest.Order, orders ...int64) []byte {
	b, _ := json.Marshal(map[string]any{"shop_id": 954889, "shop_domain": shop,
		"customer":         map[string]any{"id": o.Customer.ID, "email": o.Customer.Email, "phone": o.Customer.Phone},
		"orders_to_redact": orders})
	return b
}

// privacy sends a compliance webhook and waits for its workflow.
func (s *system) privacy(t *testing.T, topic, kind, webhookID string, body []byte) (string, workflows.PrivacyRequestResult) {
	t.Helper()
	got := s.deliver(t, topic, webhookID, body)
	id, ok := strings.CutPrefix(got, "accepted ")
	if !ok {
		t.Fatalf("%s: %q", topic, got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var res workflows.PrivacyRequestResult
	if err := s.tc.GetWorkflow(ctx, workflows.PrivacyRequestID(kind, shop, id), "").Get(ctx, &res); err != nil {
		t.Fatalf("privacy workflow: %v\nlogs:\n%s", err, lastLines(s.logs.String(), 15))
	}
	return id, res
}

// allHistories is the decoded text of every workflow history in the
// namespace.
func (s *system) allHistories(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	var token []byte
	for {
		resp, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", NextPageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.Executions {
			h, err := devenv.HistoryText(ctx, s.tc, e.Execution.WorkflowId)
			if err != nil {
				var nf *serviceerror.NotFound
				if ok := asNotFound(err, &nf); ok {
					continue // deleted between listing and reading
				}
				t.Fatal(err)
			}
			b.WriteString(e.Execution.WorkflowId + "\n" + h)
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return b.String()
		}
	}
}

func asNotFound(err error, nf **serviceerror.NotFound) bool {
	e, ok := err.(*serviceerror.NotFound)
	*nf = e
	return ok
}

func TestErasure_CustomerRedactLeavesNothingReadableAndProvesIt(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 101)
	o.Customer.Email, o.Customer.ID = "ottoline.redact@example.org", 8_765_432_109
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("first order: %+v", r)
	}
	// A second order of the same customer is still waiting to be sent.
	o2 := o
	o2.ID, o2.Name = o.ID+1, "#4242"
	s.shopify.SetOrder(o2)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o2, ""))
	time.Sleep(300 * time.Millisecond) // let its first activity store the request

	// SendGrid fails twice during the erasure: it must be retried, not
	// reported done.
	s.mail.FailNext(2, 503)
	hook := shopifytest.NewWebhookID()
	id, res := s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, hook, redactPayload(o, o.ID, o2.ID))
	if st := res.Steps["temporal"]; st.Found != 2 || !st.Verified {
		t.Errorf("temporal step %+v, want 2 workflows stopped and verified", st)
	}
	if st := res.Steps["sendgrid"]; st.Done != 1 || !st.Verified {
		t.Errorf("sendgrid step %+v", st)
	}
	if erased := s.mail.Erased(); len(erased) != 1 || erased[0] != o.Customer.Email {
		t.Fatalf("SendGrid erasure jobs for %v", erased)
	}
	if n := len(s.mail.Outbox()); n != 0 {
		t.Errorf("SendGrid still holds %d emails to the customer", n)
	}
	for _, order := range []int64{o.ID, o2.ID} {
		if _, err := s.tc.DescribeWorkflowExecution(ctx, workflows.ReviewRequestID(shop, order), ""); err == nil {
			t.Errorf("review workflow for order %d still exists", order)
		}
	}

	// A full dump of every table and every remaining history holds nothing
	// that identifies the customer.
	dump := s.dump(t)
	histories := s.allHistories(t)
	if !strings.Contains(dump, id) || !strings.Contains(histories, id) {
		t.Fatal("the privacy request is not in the dump or the histories, so the search proves nothing")
	}
	for _, ident := range append(personal(o), fmt.Sprint(o.ID), fmt.Sprint(o2.ID), o.Name, o2.Name) {
		if strings.Contains(dump, ident) {
			t.Errorf("Postgres still holds %q", ident)
		}
		if strings.Contains(histories, ident) {
			t.Errorf("a Temporal history still holds %q", ident)
		}
	}

	// The receipt: per system, what was asked and what was verified.
	rcs, err := s.db.Receipts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.Receipt{}
	for _, rc := range rcs {
		got[rc.System] = rc
	}
	for sys, want := range map[string]string{"temporal": "none of the 2 exists", "postgres": "no row", "sendgrid": "accepted job"} {
		if !strings.Contains(got[sys].Verified, want) {
			t.Errorf("receipt for %s: %+v", sys, got[sys])
		}
	}
	es, _ := registry.Entries(ctx, s.db, shop)
	erasedEntries := 0
	for _, e := range es {
		if e.Action == registry.ActionErased && e.Ref == id {
			erasedEntries++
		}
	}
	if erasedEntries < 3 || registry.VerifyChain(es) != -1 {
		t.Fatalf("%d erased entries, chain ok %t", erasedEntries, registry.VerifyChain(es) == -1)
	}

	// The same webhook again is a no-op; later deliveries for the erased
	// customer send nothing.
	if got := s.deliver(t, shopify.TopicCustomersRedact, hook, redactPayload(o, o.ID)); got != "accepted "+id {
		t.Fatalf("redelivery: %q", got)
	}
	if n := len(s.mail.Erased()); n != 1 {
		t.Fatalf("redelivery asked SendGrid again (%d jobs)", n)
	}
	o3 := o
	o3.ID = o.ID + 2
	s.shopify.SetOrder(o3)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o3, "delivered"))
	if r := s.result(t, o3.ID); r.Status != store.StatusSkipped {
		t.Fatalf("order after erasure: %+v", r)
	}
}

func TestErasure_UnknownCustomerGetsAReceiptThatNothingWasHeld(t *testing.T) {
	s := start(t, nil)
	stranger := shopifytest.DemoOrder(777)
	stranger.Customer.ID = 5_550_001
	id, _ := s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, shopifytest.NewWebhookID(), redactPayload(stranger))
	rcs, err := s.db.Receipts(context.Background(), id)
	if err != nil || len(rcs) != 3 {
		t.Fatalf("receipts %+v, %v", rcs, err)
	}
	for _, rc := range rcs {
		if !strings.Contains(rc.Asked+rc.Verified, "0 ") && !strings.Contains(rc.Asked, "nothing") {
			t.Errorf("receipt for %s claims something was held: %+v", rc.System, rc)
		}
	}
	if n := len(s.mail.Erased()); n != 0 {
		t.Fatalf("SendGrid asked to erase a customer it never received (%d)", n)
	}
}

func TestDataRequest_BuildsTheSubjectsReport(t *testing.T) {
	s := start(t, nil)
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 303)
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	s.result(t, o.ID)
	body, _ := json.Marshal(map[string]any{"shop_id": 1, "shop_domain": shop, "orders_requested": []int64{o.ID},
		"customer": map[string]any{"id": o.Customer.ID, "email": o.Customer.Email}, "data_request": map[string]any{"id": 9999}})
	id, _ := s.privacy(t, shopify.TopicCustomersDataRequest, store.KindDataRequest, shopifytest.NewWebhookID(), body)
	var report string
	if err := s.db.Get(&report, `SELECT report::text FROM subject_reports WHERE request_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"sendgrid"`, `"user.contact.email"`, `"recipient": true`, `"review_requests_held": 1`} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %s: %s", want, report)
		}
	}
	for _, pii := range personal(o) {
		if strings.Contains(report, pii) {
			t.Errorf("report contains %q", pii)
		}
	}
}
