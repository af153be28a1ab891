package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/proto"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/web"
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
	return id, s.awaitPrivacy(t, kind, id)
}

// awaitPrivacy waits for an accepted privacy request's workflow.
func (s *system) awaitPrivacy(t *testing.T, kind, id string) workflows.PrivacyRequestResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var res workflows.PrivacyRequestResult
	if err := s.tc.GetWorkflow(ctx, workflows.PrivacyRequestID(kind, shop, id), "").Get(ctx, &res); err != nil {
		t.Fatalf("privacy workflow: %v\nlogs:\n%s", err, lastLines(s.logs.String(), 15))
	}
	return res
}

// allHistories is the text of every workflow history in the namespace,
// decoded wherever this system's keys still can.
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
			h, _, err := devenv.HistoryText(ctx, s.tc, e.Execution.WorkflowId, s.codec())
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

// backupHistory copies a workflow's history events, as a backup of
// Temporal's store would hold them, and checks the copy decodes now.
func (s *system) backupHistory(t *testing.T, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	var evs []*historypb.HistoryEvent
	it := s.tc.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, proto.Clone(ev).(*historypb.HistoryEvent))
	}
	if text, sealed := s.restore(t, evs); sealed != 0 || !strings.Contains(text, "SendReviewRequest") {
		t.Fatalf("the backup does not decode before the erasure (%d sealed), so it proves nothing", sealed)
	}
	return evs
}

// restore decodes a backup's payloads with the codec, as a restored
// Temporal would; it returns the text and how many payloads stayed sealed.
func (s *system) restore(t *testing.T, evs []*historypb.HistoryEvent) (string, int) {
	t.Helper()
	codec := s.codec()
	sealed := 0
	var b strings.Builder
	for _, ev := range evs {
		ev = proto.Clone(ev).(*historypb.HistoryEvent)
		err := proxy.VisitPayloads(context.Background(), ev, proxy.VisitPayloadsOptions{
			Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
				out, err := codec.Decode(ps)
				if err != nil {
					sealed += len(ps)
					return ps, nil
				}
				for _, p := range out {
					b.Write(p.GetData())
					b.WriteByte('\n')
				}
				return out, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(ev.String())
	}
	return b.String(), sealed
}

// sentOrder is a new order of this customer, delivered, whose review
// request has been sent.
func (s *system) sentOrder(t *testing.T, seq int64, email string, customerID int64) shopifytest.Order {
	t.Helper()
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + seq)
	o.Customer.Email, o.Customer.ID = email, customerID
	// Long names: the erasure tests search every history on the shared test
	// server, ciphertext bytes included, where a three-letter demo name
	// turns up by chance (it did: "Doe", "Mei").
	o.Customer.FirstName, o.Customer.LastName = "Ottoline-Erasure", "Quennell-Vasquez"
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("order %d: %+v", o.ID, r)
	}
	return o
}

func asNotFound(err error, nf **serviceerror.NotFound) bool {
	e, ok := err.(*serviceerror.NotFound)
	*nf = e
	return ok
}

func TestErasure_CustomerRedactLeavesNothingReadableAndProvesIt(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	o := s.sentOrder(t, 101, "ottoline.redact@example.org", 8_765_432_109)
	// A second order of the same customer is still waiting to be sent.
	o2 := o
	o2.ID, o2.Name = o.ID+1, "#4242"
	s.shopify.SetOrder(o2)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o2, ""))
	time.Sleep(300 * time.Millisecond) // let its first activity store the request

	// A backup of Temporal's store, taken before the erasure, holds the
	// first order's history.
	backup := s.backupHistory(t, review.WorkflowID(shop, o.ID))

	// SendGrid keeps the address on its own lists after a bounce and a
	// global unsubscribe.
	s.mail.Suppress("bounces", o.Customer.Email)
	s.mail.Suppress("global_unsubscribes", o.Customer.Email)
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
	if st := res.Steps["keys"]; st.Done != 3 || !st.Verified {
		t.Errorf("keys step %+v, want 3 data keys destroyed (two requests', the subject's)", st)
	}
	if decoded, sealed := s.restore(t, backup); sealed == 0 || strings.Contains(decoded, o.Name) || strings.Contains(decoded, o.Products[0].Title) {
		t.Errorf("the pre-erasure backup still decodes (%d payloads sealed)", sealed)
	}
	if erased := s.mail.Erased(); len(erased) != 1 || erased[0] != o.Customer.Email {
		t.Fatalf("SendGrid erasure jobs for %v", erased)
	}
	if n := len(s.mail.Outbox()); n != 0 {
		t.Errorf("SendGrid still holds %d emails to the customer", n)
	}
	if on := s.mail.SuppressedOn(o.Customer.Email); len(on) != 0 {
		t.Errorf("SendGrid's %v lists still hold the address", on)
	}
	for _, order := range []int64{o.ID, o2.ID} {
		if _, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(shop, order), ""); err == nil {
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
	for sys, want := range map[string]string{"temporal": "none of the 2 exists", "postgres": "no row",
		"sendgrid":  "none holds the address. SendGrid accepted job",
		"data_keys": "none of the scope's data keys exists"} {
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

// TestErasure_RedactDuringAnInFlightSendSendsNothing accepts a
// customers/redact while the send activity is between its eligibility
// checks and SendGrid: held in its just-in-time read of the recipient from
// Shopify. Whatever the activity and the privacy workflow then do first, no
// email goes out. A control run first, with the same hold and no redact,
// shows the email would have gone out well within the time waited.
func TestErasure_RedactDuringAnInFlightSendSendsNothing(t *testing.T) {
	s := start(t, nil)
	hold := func(o shopifytest.Order) (release func()) {
		t.Helper()
		reached, release := s.shopify.HoldNext("CandorRecipient")
		s.shopify.SetOrder(o)
		s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
		select {
		case <-reached:
		case <-time.After(60 * time.Second):
			release()
			t.Fatal("the send activity never read the recipient")
		}
		return release
	}

	control := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 301)
	control.Customer.Email, control.Customer.ID = "control.inflight@example.org", 8_765_432_301
	release := hold(control)
	released := time.Now()
	release()
	if r := s.result(t, control.ID); r.Status != store.StatusSent || s.mail.Sent() != 1 {
		t.Fatalf("control: %+v, %d sent", r, s.mail.Sent())
	}
	window := max(20*time.Since(released), 3*time.Second)

	o := shopifytest.DemoOrder(control.ID + 1)
	o.Customer.Email, o.Customer.ID = "ines.inflight@example.org", 8_765_432_302
	release = hold(o)
	got := s.deliver(t, shopify.TopicCustomersRedact, shopifytest.NewWebhookID(), redactPayload(o, o.ID))
	accepted := time.Now()
	release()
	id, ok := strings.CutPrefix(got, "accepted ")
	if !ok {
		t.Fatalf("redact: %q", got)
	}
	res := s.awaitPrivacy(t, store.KindCustomerRedact, id)
	if wait := window - time.Since(accepted); wait > 0 {
		time.Sleep(wait)
	}
	if n := s.mail.Sent(); n != 1 {
		t.Fatalf("%d emails accepted by SendGrid, want only the control's: the in-flight send went out after the redact", n)
	}
	if st := res.Steps["temporal"]; !st.Verified {
		t.Errorf("temporal step %+v", st)
	}
	if dump := s.dump(t); strings.Contains(dump, o.Customer.Email) || strings.Contains(dump, fmt.Sprint(o.ID)) {
		t.Error("Postgres still holds the redacted customer's address or order")
	}
}

func TestErasure_UnknownCustomerGetsAReceiptThatNothingWasHeld(t *testing.T) {
	s := start(t, nil)
	stranger := shopifytest.DemoOrder(777)
	stranger.Customer.ID = 5_550_001
	id, _ := s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, shopifytest.NewWebhookID(), redactPayload(stranger))
	rcs, err := s.db.Receipts(context.Background(), id)
	if err != nil || len(rcs) != 4 {
		t.Fatalf("receipts %+v, %v", rcs, err)
	}
	for _, rc := range rcs {
		if rc.System == "data_keys" {
			// Only the key that sealed the address in the request itself.
			if strings.Count(rc.Asked, "dk_") != 1 {
				t.Errorf("keys receipt: %+v", rc)
			}
			continue
		}
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

// A history the erasure could not find (its request row was already swept,
// and Shopify did not name the order) survives in Temporal, as a copy in a
// backup would. Its payloads were encrypted under the request's data key,
// which went with the row: the history is still there, but nothing in it
// can be read any more, by the worker, the UI or anyone.
func TestErasure_LeftoverHistoryCannotBeDecrypted(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 505)
	o.Customer.Email, o.Customer.ID = "leftover.history@example.org", 7_123_456_789
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("order: %+v", r)
	}
	wid := review.WorkflowID(shop, o.ID)
	before, sealed, err := devenv.HistoryText(ctx, s.tc, wid, s.codec())
	if err != nil || sealed != 0 || !strings.Contains(before, o.Name) || !strings.Contains(before, o.Products[0].Title) {
		t.Fatalf("before the erasure the codec must read the history (%d sealed, %v)", sealed, err)
	}
	raw, _, _ := devenv.HistoryText(ctx, s.tc, wid, nil)
	if strings.Contains(raw, o.Name) || strings.Contains(raw, o.Products[0].Title) {
		t.Fatal("the stored history holds the order in clear text")
	}
	// The row is swept (as retention does): its data key goes with it, in
	// the same statement. The redact then names no order.
	var keysBefore int
	_ = s.db.Get(&keysBefore, `SELECT count(*) FROM data_keys WHERE owner = $1`, s.ring.RequestID(shop, o.ID))
	if _, err := s.db.Exec(`DELETE FROM review_requests WHERE order_id = $1`, o.ID); err != nil {
		t.Fatal(err)
	}
	var keysAfter int
	_ = s.db.Get(&keysAfter, `SELECT count(*) FROM data_keys WHERE owner = $1`, s.ring.RequestID(shop, o.ID))
	if keysBefore != 1 || keysAfter != 0 {
		t.Fatalf("the request's data key: %d before the row was deleted, %d after; want 1, 0", keysBefore, keysAfter)
	}
	// A process that has not cached the key (the UI's codec server, a
	// restarted worker; every process after 30 s) can no longer read it.
	fresh := datakeys.New(s.db, s.ring).Codec("", datakeys.ServiceOwner)
	if _, sealed, _ := devenv.HistoryText(ctx, s.tc, wid, fresh); sealed == 0 {
		t.Fatal("the history still decodes once its row and key are gone")
	}
	id, res := s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, shopifytest.NewWebhookID(), redactPayload(o))
	if _, err := s.tc.DescribeWorkflowExecution(ctx, wid, ""); err != nil {
		t.Fatalf("the history was deleted after all, so this test proves nothing: %v", err)
	}
	if st := res.Steps["keys"]; st.Done != 1 || !st.Verified {
		t.Fatalf("keys step %+v: want the subject's key destroyed (the request's went with its row)", st)
	}

	after, sealed, err := devenv.HistoryText(ctx, s.tc, wid, s.codec())
	if err != nil {
		t.Fatal(err)
	}
	if sealed == 0 {
		t.Fatal("every payload still decodes after the erasure")
	}
	for _, ident := range append(personal(o), o.Name, o.Products[0].Title, o.Products[1].Title) {
		if strings.Contains(after, ident) {
			t.Errorf("the leftover history still reads %q", ident)
		}
	}
	// Ask the codec directly, as the Temporal UI would.
	var n int
	if err := s.db.Get(&n, `SELECT count(*) FROM data_keys WHERE owner = $1`, s.ring.RequestID(shop, o.ID)); err != nil || n != 0 {
		t.Fatalf("the request's data key is still stored (%d, %v)", n, err)
	}
	var rc store.Receipt
	if err := s.db.Get(&rc, `SELECT * FROM privacy_receipts WHERE request_id = $1 AND system = 'data_keys'`, id); err != nil {
		t.Fatalf("no receipt for the keys: %v", err)
	}
	if !strings.Contains(rc.Asked, "dk_") || !strings.Contains(rc.Verified, "none of the scope's data keys exists") {
		t.Errorf("keys receipt: %+v", rc)
	}
}

// shop/redact destroys every data key of the shop: nothing any workflow of
// the shop wrote can be decoded afterwards, wherever a copy is.
func TestErasure_ShopRedactDestroysEveryKeyOfTheShop(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 909)
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("order: %+v", r)
	}
	backup := s.backupHistory(t, review.WorkflowID(shop, o.ID))
	var before int
	if err := s.db.Get(&before, `SELECT count(*) FROM data_keys WHERE shop = $1`, shop); err != nil || before == 0 {
		t.Fatalf("the shop has %d data keys before, %v", before, err)
	}
	body, _ := json.Marshal(map[string]any{"shop_id": 954889, "shop_domain": shop})
	id, res := s.privacy(t, shopify.TopicShopRedact, store.KindShopRedact, shopifytest.NewWebhookID(), body)
	if st := res.Steps["keys"]; st.Done != before || !st.Verified {
		t.Fatalf("keys step %+v, want all %d keys destroyed", st, before)
	}
	var after int
	_ = s.db.Get(&after, `SELECT count(*) FROM data_keys WHERE shop = $1`, shop)
	if after != 0 {
		t.Fatalf("%d data keys of the shop left", after)
	}
	if decoded, sealed := s.restore(t, backup); sealed == 0 || strings.Contains(decoded, o.Products[0].Title) {
		t.Fatalf("the shop's history backup still decodes (%d sealed)", sealed)
	}
	var rc store.Receipt
	if err := s.db.Get(&rc, `SELECT * FROM privacy_receipts WHERE request_id = $1 AND system = 'data_keys'`, id); err != nil ||
		!strings.Contains(rc.Asked, "every data key of the shop") {
		t.Fatalf("keys receipt %+v, %v", rc, err)
	}
	// The privacy workflow itself (service key) still reads, for the
	// operator: it names no one.
	h, sealed, err := devenv.HistoryText(ctx, s.tc, workflows.PrivacyRequestID(store.KindShopRedact, shop, id), s.codec())
	if err != nil || sealed != 0 || !strings.Contains(h, id) {
		t.Fatalf("the privacy workflow's history: %d sealed, %v", sealed, err)
	}
}

// Shopify documents email-only customer records: a customers/redact whose
// customer has an address and no ID. It used to be refused with 400, so the
// erasure never happened. Now it erases by the orders it names and by the
// address: a guest checkout with the address, which Shopify did not name,
// goes too, SendGrid is asked to erase the address, and a later guest order
// to it is not sent.
func TestErasure_EmailOnlyCustomerRecordErasesByItsOrdersAndItsAddress(t *testing.T) {
	s := start(t, func(st *store.Settings) { st.ConsentMode = store.ConsentNone }) // guests carry no consent state
	ctx := context.Background()
	const email = "email.only@example.org"
	named := s.sentOrder(t, 303, email, 8_765_432_303)
	guest := func(seq int64) shopifytest.Order {
		o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + seq)
		o.Customer, o.GuestEmail = nil, " Email.Only@example.org"
		return o
	}
	unnamed := guest(304)
	s.order(t, unnamed)
	if r := s.result(t, unnamed.ID); r.Status != store.StatusSent {
		t.Fatalf("guest order: %+v", r)
	}

	body, _ := json.Marshal(map[string]any{"shop_id": 954889, "shop_domain": shop,
		"customer": map[string]any{"email": email}, "orders_to_redact": []int64{named.ID}})
	id, res := s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, shopifytest.NewWebhookID(), body)
	if st := res.Steps["temporal"]; st.Found != 2 || !st.Verified {
		t.Errorf("temporal step %+v, want both orders' workflows stopped and verified", st)
	}
	if st := res.Steps["keys"]; !st.Verified || st.Done < 3 {
		t.Errorf("keys step %+v, want the two requests' keys and the sealed address's key destroyed", st)
	}
	if st := res.Steps["sendgrid"]; st.Done != 1 || !st.Verified {
		t.Errorf("sendgrid step %+v, want the address erased", st)
	}
	if erased := s.mail.Erased(); len(erased) != 1 || !strings.EqualFold(strings.TrimSpace(erased[0]), email) {
		t.Errorf("SendGrid erasure jobs for %v", erased)
	}
	for _, o := range []shopifytest.Order{named, unnamed} {
		if _, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(shop, o.ID), ""); err == nil {
			t.Errorf("the review workflow of order %d still exists", o.ID)
		}
	}
	var left int
	if err := s.db.Get(&left, `SELECT count(*) FROM review_requests WHERE shop = $1 AND order_id = ANY($2)`, shop, pq.Array([]int64{named.ID, unnamed.ID})); err != nil || left != 0 {
		t.Fatalf("%d review requests of the orders left, %v", left, err)
	}
	if err := s.db.Get(&left, `SELECT count(*) FROM data_keys WHERE shop = $1 AND owner IN ($2, $3, $4)`, shop, id,
		s.ring.RequestID(shop, named.ID), s.ring.RequestID(shop, unnamed.ID)); err != nil || left != 0 {
		t.Fatalf("%d data keys left, %v", left, err)
	}
	var status, sealed string
	if err := s.db.QueryRow(`SELECT status, email_sealed FROM privacy_requests WHERE id = $1`, id).Scan(&status, &sealed); err != nil || status != "done" || sealed != "" {
		t.Fatalf("privacy request %s, sealed address kept %t, %v", status, sealed != "", err)
	}

	next := guest(305)
	s.order(t, next)
	if r := s.result(t, next.ID); r.Status != store.StatusSkipped || r.Reason != review.ReasonErased {
		t.Errorf("guest order after the erasure: %+v, want skipped/%s", r, review.ReasonErased)
	}
	if strings.Contains(strings.ToLower(s.dump(t)), email) {
		t.Error("Postgres still holds the address")
	}
}

// TestErasure_ReachesTheCustomersGuestCheckouts: a customer with an account
// had checked out twice as a guest with the same address. Their
// customers/redact names one guest order in orders_to_redact; the other is
// found by the address (typed in another case). SendGrid is asked to erase
// the address, both guest requests and workflows are gone, and a later guest
// order with the address is skipped as erased. Postgres keeps only the
// address's key on the suppression list, never the address.
func TestErasure_ReachesTheCustomersGuestCheckouts(t *testing.T) {
	s := start(t, func(st *store.Settings) { st.ConsentMode = store.ConsentNone }) // guests carry no consent state
	ctx := context.Background()
	base := time.Now().UnixNano()%1_000_000_000 + 401
	email := fmt.Sprintf("perpetua.guest.%d@example.org", base)
	guest := func(id int64) shopifytest.Order {
		o := shopifytest.DemoOrder(id)
		o.Customer, o.GuestEmail = nil, email
		return o
	}
	named, found := guest(base), guest(base+1)
	for _, o := range []shopifytest.Order{named, found} {
		s.order(t, o)
		if r := s.result(t, o.ID); r.Status != store.StatusSent {
			t.Fatalf("guest order %d: %+v", o.ID, r)
		}
	}

	account := shopifytest.DemoOrder(base + 2) // the customer's account, which never ordered
	account.Customer.Email = strings.ToUpper(email)
	id, res := s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, shopifytest.NewWebhookID(), redactPayload(account, named.ID))
	if st := res.Steps["sendgrid"]; st.Done != 1 || !st.Verified {
		t.Errorf("sendgrid step %+v, want the address erased", st)
	}
	if erased := s.mail.Erased(); len(erased) != 1 || !strings.EqualFold(erased[0], email) {
		t.Errorf("SendGrid erasure jobs for %v, want the guest address", erased)
	}
	var left int
	if err := s.db.Get(&left, `SELECT count(*) FROM review_requests WHERE order_id = ANY($1)`, pq.Array([]int64{named.ID, found.ID})); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d guest request rows left", left)
	}
	for _, o := range []shopifytest.Order{named, found} {
		if _, err := s.tc.DescribeWorkflowExecution(ctx, review.WorkflowID(shop, o.ID), ""); err == nil {
			t.Errorf("review workflow for guest order %d still exists", o.ID)
		}
	}

	next := guest(base + 3)
	s.order(t, next)
	if r := s.result(t, next.ID); r.Status != store.StatusSkipped || r.Reason != review.ReasonErased {
		t.Errorf("guest order after the erasure: %+v, want skipped/%s", r, review.ReasonErased)
	}
	dump := s.dump(t)
	if !strings.Contains(dump, id) || !strings.Contains(dump, "adr_") {
		t.Fatal("the dump lacks the privacy request or the address key, so the search proves nothing")
	}
	if strings.Contains(strings.ToLower(dump), email) {
		t.Error("Postgres still holds the guest's address")
	}
}

// A compliance request accepted while Temporal was down is stored, answered
// 503, and (once Shopify's retries have run out) started by the re-drive
// schedule when Temporal is back; none stays received. Requests still
// within the grace period are left to intake.
func TestPrivacy_RequestsAcceptedWhileTemporalWasDownAreRedrivenAndComplete(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()

	// The schedule is created idempotently; it is removed again, so it
	// cannot fire into the other tests of this package.
	for i := 0; i < 2; i++ {
		if err := workflows.EnsurePrivacyRedriveSchedule(ctx, s.tc); err != nil {
			t.Fatalf("ensure schedule (%d): %v", i, err)
		}
	}
	h := s.tc.ScheduleClient().GetHandle(ctx, workflows.PrivacyRedriveScheduleID)
	desc, err := h.Describe(ctx)
	if err != nil || len(desc.Schedule.Spec.Intervals) != 1 || desc.Schedule.Spec.Intervals[0].Every != workflows.PrivacyRedriveInterval {
		t.Fatalf("schedule: %+v, %v", desc, err)
	}
	if a, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || a.Workflow != "RedrivePrivacy" {
		t.Fatalf("the schedule runs %+v", desc.Schedule.Action)
	}
	_ = h.Delete(ctx)

	// A replica whose Temporal is unreachable accepts three requests.
	dead, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	down := httptest.NewServer((&web.Server{DB: s.db, Temporal: dead, Keys: s.ring, DataKeys: s.keys, ShopifySecret: secret,
		Logger: slog.New(slog.DiscardHandler), TemporalRetention: 24 * time.Hour}).Handler())
	defer down.Close()
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 404)
	asks := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 405)
	asks.Customer.ID = o.Customer.ID + 1 // another customer: an erasure would take their report with it
	later := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 406)
	for _, d := range []struct {
		topic string
		body  []byte
	}{
		{shopify.TopicCustomersRedact, redactPayload(o, o.ID)},
		{shopify.TopicCustomersDataRequest, shopifytest.DataRequestPayload(shop, asks)},
		{shopify.TopicCustomersRedact, redactPayload(later, later.ID)},
	} {
		req, _ := shopifytest.WebhookRequest(down.URL+"/webhooks/shopify", d.topic, shop, secret, shopifytest.NewWebhookID(), d.body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s with Temporal down: %d, want 503", d.topic, resp.StatusCode)
		}
	}
	var reqs []store.PrivacyRequest
	if err := s.db.Select(&reqs, `SELECT * FROM privacy_requests WHERE status = 'received' ORDER BY received_at`); err != nil || len(reqs) != 3 {
		t.Fatalf("received requests: %d, %v", len(reqs), err)
	}
	// Shopify gave up on the first two long ago; the third just came in.
	if _, err := s.db.Exec(`UPDATE privacy_requests SET received_at = received_at - interval '5 hours' WHERE id IN ($1, $2)`,
		reqs[0].ID, reqs[1].ID); err != nil {
		t.Fatal(err)
	}

	redrive := func(run string) activities.RedriveResult {
		t.Helper()
		return runWorkflow[activities.RedriveResult](t, s, "privacy-redrive/"+run, time.Minute, workflows.RedrivePrivacy)
	}
	if res := redrive("first"); res.Stalled != 2 || res.Started != 2 {
		t.Fatalf("first re-drive: %+v, want 2 stalled, 2 started", res)
	}
	for _, r := range reqs[:2] {
		s.awaitPrivacy(t, r.Kind, r.ID)
	}
	if _, err := s.tc.DescribeWorkflowExecution(ctx, workflows.PrivacyRequestID(reqs[2].Kind, shop, reqs[2].ID), ""); err == nil {
		t.Fatal("a request within the grace period was re-driven")
	}

	// Later, the third is past its grace too; the first two are not
	// started again.
	if _, err := s.db.Exec(`UPDATE privacy_requests SET received_at = received_at - interval '5 hours' WHERE id = $1`, reqs[2].ID); err != nil {
		t.Fatal(err)
	}
	if res := redrive("second"); res.Stalled != 1 || res.Started != 1 {
		t.Fatalf("second re-drive: %+v, want 1 stalled, 1 started", res)
	}
	s.awaitPrivacy(t, reqs[2].Kind, reqs[2].ID)

	var left int
	if err := s.db.Get(&left, `SELECT count(*) FROM privacy_requests WHERE status <> 'done'`); err != nil || left != 0 {
		t.Fatalf("%d requests not done, %v", left, err)
	}
	var receipts int
	if err := s.db.Get(&receipts, `SELECT count(DISTINCT request_id) FROM privacy_receipts`); err != nil || receipts != 3 {
		t.Fatalf("receipts for %d requests, want 3 (%v)", receipts, err)
	}
	var reports int
	if err := s.db.Get(&reports, `SELECT count(*) FROM subject_reports WHERE request_id = $1`, reqs[1].ID); err != nil || reports != 1 {
		t.Fatalf("data request reports: %d, %v", reports, err)
	}
}
