package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
)

var svgRe = regexp.MustCompile(`(?s)<svg .*?</svg>`)

func TestAppRegistry_DrawsTheDataFlowMapForTheShopAndOneCustomer(t *testing.T) {
	e := newAppEnv(t)
	ctx := context.Background()
	alice, bob := e.ring.Subject(shop, 7001), e.ring.Subject(shop, 7002)
	now := time.Now()
	add := func(subject, ref, datum, system, action string, keep time.Duration) registry.Entry {
		return registry.Entry{Shop: shop, Subject: subject, Datum: datum, System: system, Action: action,
			Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent, ExpiresAt: now.Add(keep), Ref: ref}
	}
	if err := e.db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := registry.Append(ctx, tx, now,
			add(alice, "rq_alice1", registry.DatumEmail, registry.SystemSendGrid, registry.ActionTransmitted, 30*24*time.Hour),
			add(bob, "rq_bob1", registry.DatumPurchaseHistory, registry.SystemTemporal, registry.ActionStored, 7*24*time.Hour))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c, _ := e.login(t, shop)

	status, _, page := do(t, c, http.MethodGet, e.url+"/app/registry", nil, nil)
	svg := svgRe.FindString(page)
	if status != 200 || svg == "" {
		t.Fatalf("/app/registry: %d, no SVG:\n%s", status, page)
	}
	for _, want := range []string{`role="img"`, `<title id="flow-map-title">Data-flow map: shop ` + shop, `<desc id="flow-map-desc">`,
		"Twilio SendGrid", "Temporal (workflow engine)", "user.contact.email", "user.behavior.purchase_history", "kept up to 30 days"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the shop's map lacks %q", want)
		}
	}
	if !strings.Contains(page, "<caption>The map&#39;s flows</caption>") || !strings.Contains(page, "<td>sendgrid</td>") {
		t.Error("no table of the flows beside the map")
	}
	for _, personal := range []string{alice, bob, "rq_alice1", "rq_bob1"} {
		if strings.Contains(page, personal) {
			t.Errorf("the page shows %q", personal)
		}
	}

	// One customer: only their flows, and the lookup is recorded first.
	status, _, page = do(t, c, http.MethodGet, e.url+"/app/registry?customer_id=7001", nil, nil)
	svg = svgRe.FindString(page)
	if status != 200 || !strings.Contains(svg, "one customer of shop") || !strings.Contains(svg, "user.contact.email") || strings.Contains(svg, "purchase_history") {
		t.Fatalf("Alice's map: %d\n%s", status, svg)
	}
	if strings.Contains(page, alice) {
		t.Error("the page shows the pseudonym")
	}
	var lookups int
	_ = e.db.Get(&lookups, `SELECT count(*) FROM registry_entries WHERE shop = $1 AND subject = $2 AND action = 'read' AND purpose = 'audit'`, shop, alice)
	if lookups != 1 {
		t.Fatalf("%d lookups of Alice recorded, want 1", lookups)
	}

	// Bad input: a clear 400, nothing recorded.
	for _, v := range []string{"abc", "-5", "0"} {
		if status, _, page := do(t, c, http.MethodGet, e.url+"/app/registry?customer_id="+v, nil, nil); status != http.StatusBadRequest || !strings.Contains(page, "customer ID is the number") {
			t.Errorf("customer_id=%s: %d", v, status)
		}
	}
	var all int
	_ = e.db.Get(&all, `SELECT count(*) FROM registry_entries WHERE purpose = 'audit'`)
	if all != 1 {
		t.Errorf("%d audit entries, want Alice's one lookup", all)
	}
}
