package registry_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store/storetest"
)

func TestFlowMap_ShopAndOneCustomerAsAnAccessibleSVGWithoutPersonalData(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	const shop = "map.myshopify.com"
	now := time.Now()
	day := 24 * time.Hour
	e := func(subject, ref, datum, system, action string, keep time.Duration) registry.Entry {
		return registry.Entry{Shop: shop, Subject: subject, Datum: datum, System: system, Action: action,
			Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent, ExpiresAt: now.Add(keep), Ref: ref}
	}
	entries := []registry.Entry{
		// Customer A: collected before known (no subject, tied by ref), stored, sent.
		e("", "rq_aaaa", registry.DatumPurchaseHistory, registry.SystemCandor, registry.ActionCollected, 0),
		e("sub_alice", "rq_aaaa", registry.DatumPurchaseHistory, registry.SystemTemporal, registry.ActionStored, 7*day),
		e("sub_alice", "rq_aaaa", registry.DatumEmail, registry.SystemSendGrid, registry.ActionTransmitted, 30*day),
		e("sub_alice", "rq_aaaa", registry.DatumEmail, registry.SystemShopify, registry.ActionRead, 0),
		// Customer B: stored in Postgres, then erased at SendGrid.
		e("sub_bob", "rq_bbbb", registry.DatumEmail, registry.SystemSendGrid, registry.ActionTransmitted, 30*day),
		e("sub_bob", "rq_bbbb", registry.DatumCustomerID, registry.SystemPostgres, registry.ActionStored, 180*day),
		e("sub_bob", "rq_bbbb", registry.DatumEmail, registry.SystemSendGrid, registry.ActionErased, 0),
	}
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error { _, err := registry.Append(ctx, tx, now, entries...); return err }); err != nil {
		t.Fatal(err)
	}

	render := func(f registry.Filter) (registry.FlowMap, string) {
		t.Helper()
		m, err := registry.LoadFlowMap(ctx, db, f)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := m.WriteSVG(&b, "map"); err != nil {
			t.Fatal(err)
		}
		svg := b.String()
		// Well-formed XML with a title and description first.
		var doc struct {
			XMLName xml.Name `xml:"svg"`
			Role    string   `xml:"role,attr"`
			Labels  string   `xml:"aria-labelledby,attr"`
			Title   string   `xml:"title"`
			Desc    string   `xml:"desc"`
		}
		if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if doc.Role != "img" || doc.Labels != "map-title map-desc" || !strings.HasPrefix(doc.Title, "Data-flow map: ") || doc.Desc == "" {
			t.Fatalf("not accessible: %+v", doc)
		}
		for _, personal := range []string{"sub_alice", "sub_bob", "rq_aaaa", "rq_bbbb", "sub_", "rq_"} {
			if strings.Contains(svg, personal) {
				t.Fatalf("the map holds %q:\n%s", personal, svg)
			}
		}
		return m, svg
	}

	m, svg := render(registry.Filter{Shop: shop})
	for _, want := range []string{
		"Shopify", "Candor process memory", "Candor database (PostgreSQL)", "Temporal (workflow engine)", "Twilio SendGrid",
		"transmitted", "user.contact.email", "2 entries, 2 subjects, kept up to 30 days",
		"user.unique_id", "kept up to 180 days", "1 deletions recorded", "collected",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the shop's map lacks %q", want)
		}
	}
	var toSendGrid *registry.Flow
	for i, f := range m.Flows {
		if f.To == registry.SystemSendGrid {
			toSendGrid = &m.Flows[i]
		}
		if f.Action == registry.ActionCollected && (f.From != registry.SystemShopify || f.To != registry.SystemCandor) {
			t.Errorf("collected flows from Shopify into Candor: %+v", f)
		}
		if f.Action == registry.ActionRead && (f.From != registry.SystemShopify || f.Retention != 0) {
			t.Errorf("a read flows from the system read, into memory: %+v", f)
		}
	}
	if toSendGrid == nil || toSendGrid.From != registry.SystemCandor || toSendGrid.Entries != 2 || toSendGrid.Subjects != 2 {
		t.Fatalf("flow to SendGrid: %+v", toSendGrid)
	}

	// One customer: only Alice's flows, her ref-tied collection included.
	m, svg = render(registry.Filter{Shop: shop, Subject: "sub_alice"})
	if !strings.Contains(svg, "one customer of shop "+shop) {
		t.Errorf("the title does not say the scope")
	}
	if strings.Contains(svg, "Candor database (PostgreSQL)") || strings.Contains(svg, "deletions") || strings.Contains(svg, "user.unique_id") {
		t.Errorf("Alice's map shows Bob's flows:\n%s", svg)
	}
	var collected bool
	for _, f := range m.Flows {
		collected = collected || f.Action == registry.ActionCollected
		if f.Subjects > 1 {
			t.Errorf("one customer's flow counts %d subjects", f.Subjects)
		}
	}
	if !collected {
		t.Error("the collection written before the customer was known is missing")
	}

	// The record of processing carries the shop's map, and its flows as a
	// table.
	var ropa bytes.Buffer
	if err := registry.ROPA(ctx, db, registry.Filter{Shop: shop}, &ropa, now); err != nil {
		t.Fatal(err)
	}
	doc := ropa.String()
	if !strings.Contains(doc, "## Data-flow map") || !strings.Contains(doc, `<svg xmlns="http://www.w3.org/2000/svg"`) ||
		!strings.Contains(doc, "| Candor process memory | Twilio SendGrid | transmitted | `user.contact.email` | 2 | 2 | kept up to 30 days |") {
		t.Fatalf("the ropa export lacks the map:\n%s", doc)
	}
	for _, personal := range []string{"sub_alice", "sub_bob", "rq_aaaa", "rq_bbbb"} {
		if strings.Contains(doc, personal) {
			t.Fatalf("the ropa export holds %q", personal)
		}
	}

	// Nothing in scope, and bad input.
	_, svg = render(registry.Filter{Shop: "empty.myshopify.com"})
	if !strings.Contains(svg, "No entries in scope") {
		t.Errorf("empty map: %s", svg)
	}
	if _, err := registry.LoadFlowMap(ctx, db, registry.Filter{Subject: "sub_alice"}); err == nil {
		t.Error("a customer's map without their shop")
	}
}
