package e2e

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/workflows"
)

// Where the test leaves its pictures of the Temporal UI, for the README.
const (
	uiListScreenshot    = "../docs/temporal-ui-list.png"
	uiHistoryScreenshot = "../docs/temporal-ui-history.png"
)

// An operator opens the Temporal UI of a dev server set up as `candor dev`
// sets up its own (the UI decodes payloads through Candor's codec endpoint,
// with an operator token in the endpoint's path), filters the workflow list
// by shop, and reads one request's history, decoded: the order name and
// products, and nothing of the customer.
func TestTemporalUI_FindsRequestsByShopAndShowsTheDecodedHistory(t *testing.T) {
	ctx := context.Background()
	// Candor's address first: the UI is started with the codec endpoint.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	db, _ := storetest.New(t)
	token, _, err := db.CreateToken(ctx, store.TokenSpec{Name: "ui-test operator", Role: store.RoleOperator})
	if err != nil {
		t.Fatal(err)
	}
	uiPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{UIPort: uiPort,
		UICodecEndpoint: "http://" + ln.Addr().String() + "/codec/" + token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tmp.Stop)
	s := startWith(t, options{temporal: tmp.Address, db: db, listener: ln,
		codecOrigins: []string{tmp.UIURL}, codecPathTokens: true,
		settings: func(st *store.Settings) { st.Delay = time.Second }})

	// One request sent for this shop, one still waiting; and one for
	// another shop, which the filter leaves out.
	base := time.Now().UnixNano() % 1_000_000_000
	sent := shopifytest.DemoOrder(base + 51)
	sent.Customer.FirstName, sent.Customer.LastName = "Perpetua", "Quillfeather"
	sent.Customer.Email, sent.Customer.ID = "perpetua.q@example.org", 9_871_777_001
	s.shopify.SetOrder(sent)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(sent, "delivered"))
	if r := s.result(t, sent.ID); r.Status != store.StatusSent {
		t.Fatalf("result %+v", r)
	}
	waiting := shopifytest.DemoOrder(base + 53)
	s.shopify.SetOrder(waiting)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(waiting, ""))
	t.Cleanup(func() {
		_ = s.tc.TerminateWorkflow(context.Background(), review.WorkflowID(shop, waiting.ID), "", "test over")
	})
	other := "elsewhere-goods.myshopify.com"
	otherIn := reconcileStart(shopifytest.DemoOrder(base + 57))
	otherIn.Shop = other
	if ok, err := workflows.ReviewStarter(s.tc, s.ring.RequestID)(ctx, otherIn); err != nil || !ok {
		t.Fatalf("start for %s: %v %v", other, ok, err)
	}
	sentID, waitingID, otherID := review.WorkflowID(shop, sent.ID), review.WorkflowID(shop, waiting.ID), review.WorkflowID(other, otherIn.OrderID)
	waitListed(t, s, "CandorShop = '"+other+"'", otherID)
	waitListed(t, s, "CandorShop = '"+shop+"' AND CandorPhase = 'waiting_delivery'", waitingID)

	br := startBrowser(t)
	query := "CandorShop = '" + shop + "'"
	br.open(tmp.UIURL + "/namespaces/default/workflows?query=" + url.QueryEscape(query))
	list := br.waitText("main", 60*time.Second, sentID, waitingID)
	if strings.Contains(list, otherID) {
		t.Errorf("the list filtered by %s shows %s:\n%s", query, otherID, list)
	}
	saveScreenshot(t, br, uiListScreenshot)

	// The sent request's history, its payloads decoded by Candor.
	run, err := s.tc.DescribeWorkflowExecution(ctx, sentID, "")
	if err != nil {
		t.Fatal(err)
	}
	br.open(tmp.UIURL + "/namespaces/default/workflows/" + url.PathEscape(sentID) + "/" +
		run.GetWorkflowExecutionInfo().GetExecution().GetRunId() + "/history")
	history := br.waitText("main", 60*time.Second, sent.Name, sent.Products[0].Title)
	for _, p := range personal(sent) {
		if strings.Contains(history, p) || strings.Contains(br.source(), p) {
			t.Errorf("the Temporal UI shows the customer's %q", p)
		}
	}
	saveScreenshot(t, br, uiHistoryScreenshot)

	// The UI's decode went through Candor, which recorded the operator's
	// read of the request's data.
	es, err := registry.Entries(ctx, s.db, shop)
	if err != nil {
		t.Fatal(err)
	}
	read := false
	for _, e := range es {
		read = read || e.System == registry.SystemTemporal && e.Action == registry.ActionRead
	}
	if !read {
		t.Error("the registry has no entry for the UI's decode of the history")
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func saveScreenshot(t *testing.T, br *webDriver, path string) {
	t.Helper()
	png := br.screenshot()
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	if err := os.WriteFile(filepath.FromSlash(path), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
