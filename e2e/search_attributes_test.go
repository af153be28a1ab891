package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

// The README's queries, as an operator types them into the Temporal UI or
// `temporal workflow list --query`; %s is the shop, then the day.
const (
	queryWaitingForShop = `CandorShop = '%s' AND ExecutionStatus = 'Running'`
	queryFailedToday    = `WorkflowType = 'ReviewRequest' AND (CandorOutcome = 'failed' OR ExecutionStatus = 'Failed') AND CloseTime > '%s'`
	queryDueForShop     = `CandorShop = '%s' AND CandorPhase IN ('waiting_delivery', 'waiting_delay') AND CandorSendAt < '%s'`
)

// attributes are a workflow's search attributes as Temporal stores them:
// clear text, not encoded by Candor's payload codec.
func attributes(t *testing.T, s *system, id string) map[string]string {
	t.Helper()
	d, err := s.tc.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	out := map[string]string{}
	for k, p := range d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
		out[k] = string(p.GetData())
	}
	return out
}

// list is the IDs of the workflows a visibility query matches.
func list(t *testing.T, s *system, query string) []string {
	t.Helper()
	var ids []string
	var next []byte
	for {
		resp, err := s.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: next})
		if err != nil {
			t.Fatalf("list %q: %v", query, err)
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if next = resp.GetNextPageToken(); len(next) == 0 {
			return ids
		}
	}
}

// waitListed waits until the query lists want (visibility follows a
// workflow's changes within moments), and returns what it listed then.
func waitListed(t *testing.T, s *system, query, want string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ids := list(t, s, query)
		if slices.Contains(ids, want) {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q never listed %s; it lists %v", query, want, ids)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scanSearchAttributes reads the search attributes of every workflow the
// package's tests have run on this Temporal so far and fails on any that
// holds a review workflow's Shopify order ID, an email address or one of
// secrets. It returns how many workflows it read.
func scanSearchAttributes(t *testing.T, s *system, secrets []string) int {
	t.Helper()
	ids := list(t, s, "")
	var orders []string
	for _, id := range ids {
		if _, order, ok := review.ParseWorkflowID(id); ok {
			orders = append(orders, strconv.FormatInt(order, 10))
		}
	}
	if len(orders) == 0 {
		t.Fatal("no review workflow to scan, so the scan proves nothing")
	}
	isTime := regexp.MustCompile(`^"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)"$`)
	for _, id := range ids {
		for name, value := range attributes(t, s, id) {
			if strings.Contains(value, "@") {
				t.Errorf("workflow %s: search attribute %s = %s holds an email address", id, name, value)
			}
			for _, secret := range secrets {
				if strings.Contains(value, secret) {
					t.Errorf("workflow %s: search attribute %s = %s holds %q", id, name, value, secret)
				}
			}
			if isTime.MatchString(value) {
				continue // a timestamp's digits are a time, whatever else they spell
			}
			for _, order := range orders {
				if regexp.MustCompile(`(^|\D)` + order + `(\D|$)`).MatchString(value) {
					t.Errorf("workflow %s: search attribute %s = %s holds order ID %s", id, name, value, order)
				}
			}
		}
	}
	return len(ids)
}

// An operator finds review requests by shop, phase and outcome, with the
// README's queries, and no search attribute of any workflow holds the
// customer's data or a Shopify order ID.
func TestSearchAttributes_OperatorsFindRequestsByShopPhaseAndOutcome(t *testing.T) {
	s := start(t, func(st *store.Settings) { st.Delay, st.FallbackDelay = time.Second, time.Hour })
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UnixNano() % 1_000_000_000
	o := shopifytest.DemoOrder(base + 31)
	o.Customer.FirstName, o.Customer.LastName = "Ottoline", "Vandersteen-Marsh"
	o.Customer.Email, o.Customer.Phone = "ottoline.vm@example.org", "+44 7700 900456"
	o.Customer.Address1, o.Customer.ID = "4 Quayside Mews", 9_871_555_123
	s.shopify.SetOrder(o)

	// Fulfilled, no delivery yet: waiting for the shop, with its planned
	// send time.
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, ""))
	// The whole order shipped in that one parcel (the shop emails once per
	// order, after the whole order is delivered).
	s.deliver(t, shopify.TopicOrderFulfilled, shopifytest.NewWebhookID(), shopifytest.OrderPayload(o))
	id := review.WorkflowID(shop, o.ID)
	waiting := fmtQuery(t, readme, queryWaitingForShop, shop)
	waitListed(t, s, waiting, id)
	// The fallback is an hour away: due within two hours, not within half.
	waitListed(t, s, fmtQuery(t, readme, queryDueForShop, shop, time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339)), id)
	if ids := list(t, s, fmt.Sprintf(queryDueForShop, shop, time.Now().Add(30*time.Minute).UTC().Format(time.RFC3339))); slices.Contains(ids, id) {
		t.Errorf("a request planned in an hour is listed as due within 30 minutes")
	}

	// Delivered: sent, and done.
	s.deliver(t, shopify.TopicFulfillmentUpdate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("result %+v", r)
	}
	got := attributes(t, s, id)
	for name, want := range map[string]string{
		review.AttrShop.GetName(): `"` + shop + `"`, review.AttrPhase.GetName(): `"done"`, review.AttrOutcome.GetName(): `"sent"`,
	} {
		if got[name] != want {
			t.Errorf("search attribute %s = %s, want %s (all: %v)", name, got[name], want, got)
		}
	}
	if _, ok := got[review.AttrSendAt.GetName()]; !ok {
		t.Errorf("no planned send time: %v", got)
	}
	if slices.Contains(list(t, s, waiting), id) {
		t.Errorf("%q still lists the sent request", waiting)
	}

	// SendGrid refuses the sender: the next request fails, and is what
	// failed today; the sent one is not.
	s.acts.Mailer = sendgrid.New(s.mail.Key, s.mail.URL, sendgrid.From("reviews@"+shop))
	f := shopifytest.DemoOrder(base + 37)
	s.shopify.SetOrder(f)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(f, "delivered"))
	s.deliver(t, shopify.TopicOrderFulfilled, shopifytest.NewWebhookID(), shopifytest.OrderPayload(f))
	if r := s.result(t, f.ID); r.Status != store.StatusFailed {
		t.Fatalf("result %+v, want failed", r)
	}
	midnight := time.Now().UTC().Truncate(24 * time.Hour).Format(time.RFC3339)
	failed := waitListed(t, s, fmtQuery(t, readme, queryFailedToday, midnight), review.WorkflowID(shop, f.ID))
	if slices.Contains(failed, id) {
		t.Errorf("the sent request is listed as failed today")
	}
	if r := attributes(t, s, review.WorkflowID(shop, f.ID))[review.AttrReason.GetName()]; r != `"`+string(review.ReasonSenderUnverified)+`"` {
		t.Errorf("failed request's reason = %s", r)
	}

	// A request started by reconciliation carries the same attributes.
	rc := shopifytest.DemoOrder(base + 41)
	started, err := workflows.ReviewStarter(s.tc, s.ring.RequestID)(context.Background(), reconcileStart(rc))
	if err != nil || !started {
		t.Fatalf("reconcile start: %v %v", started, err)
	}
	waitListed(t, s, "CandorShop = '"+shop+"' AND CandorPhase = 'waiting_delivery'", review.WorkflowID(shop, rc.ID))
	if err := s.tc.TerminateWorkflow(context.Background(), review.WorkflowID(shop, rc.ID), "", "test over"); err != nil {
		t.Fatal(err)
	}

	if n := scanSearchAttributes(t, s, append(personal(o), personal(f)...)); n < 3 {
		t.Fatalf("scanned %d workflows", n)
	}
}

// fmtQuery fills in a README query, and fails if the README does not show
// it (with its own example values).
func fmtQuery(t *testing.T, readme []byte, query string, args ...any) string {
	t.Helper()
	shown := strings.ReplaceAll(regexp.QuoteMeta(query), "%s", "[^']+")
	if !regexp.MustCompile(shown).Match(readme) {
		t.Errorf("the README does not show the query %s", query)
	}
	return fmt.Sprintf(query, args...)
}

// reconcileStart is what reconciliation finds for an order no webhook
// announced.
func reconcileStart(o shopifytest.Order) activities.ReviewStart {
	rs := activities.ReviewStart{Shop: shop, OrderID: o.ID, OrderName: o.Name, FulfilledAt: time.Now()}
	for _, p := range o.Products {
		rs.Items = append(rs.Items, shopify.LineItem{ProductID: &p.ID, Title: p.Title})
	}
	return rs
}

// On a namespace without Candor's search attributes, Temporal refuses every
// review request's start; serve and worker check first and stop with the
// command that creates them. Once created, the check passes.
func TestSearchAttributes_ANamespaceWithoutThemIsRefusedWithTheCommandToRun(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("bare-%d", time.Now().UnixNano())
	nc, err := client.NewNamespaceClient(client.Options{HostPort: temporalAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: temporalAddr, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var checkErr error
	deadline := time.Now().Add(30 * time.Second)
	for { // a new namespace takes a moment to reach the frontend's cache
		checkErr = workflows.CheckSearchAttributes(ctx, c, ns)
		if errors.Is(checkErr, workflows.ErrSearchAttributesMissing) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !errors.Is(checkErr, workflows.ErrSearchAttributesMissing) ||
		!strings.Contains(checkErr.Error(), review.SearchAttributeCreateCommand(ns)) {
		t.Fatalf("check = %v, want it to name: %s", checkErr, review.SearchAttributeCreateCommand(ns))
	}
	in := workflows.NewReviewRequestInput(shop, 4242, "#4242", "rq_test", nil, time.Now())
	if _, err := c.ExecuteWorkflow(ctx, workflows.ReviewRequestStartOptions(in), workflows.ReviewRequest, in); err == nil {
		t.Fatal("Temporal started a review request with undefined search attributes; the check would not be needed")
	}

	if err := devenv.AddSearchAttributes(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	if err := workflows.CheckSearchAttributes(ctx, c, ns); err != nil {
		t.Fatalf("after creating them: %v", err)
	}
}
