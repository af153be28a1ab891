package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

func TestIncidentImpactCLI_SubjectsOrderNamesDraftAndTheReadIsLogged(t *testing.T) {
	db, ring := cliEnv(t)
	ctx := context.Background()
	const shop = "cli.myshopify.com"
	if err := db.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: "x", Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	held, later := ring.Subject(shop, 1), ring.Subject(shop, 2)
	for _, c := range []struct {
		sub, ref string
		at       time.Time
	}{{held, "rq_held", t1.Add(-24 * time.Hour)}, {later, "rq_later", t1.Add(72 * time.Hour)}} {
		e := registry.Entry{Shop: shop, Subject: c.sub, Datum: registry.DatumPurchaseHistory, System: registry.SystemPostgres,
			Action: registry.ActionStored, Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisLegitimateInterest,
			At: c.at, ExpiresAt: c.at.Add(180 * 24 * time.Hour), Ref: c.ref}
		if err := db.InTx(ctx, func(tx *sqlx.Tx) error { _, err := registry.Append(ctx, tx, c.at, e); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO review_requests (request_id, shop, order_id, order_name, products, subject, status, expires_at)
		VALUES ('rq_held', $1, 1001, '#1001', '[]', $2, 'sent', now() + interval '1 day')`, shop, held); err != nil {
		t.Fatal(err)
	}
	out, err := capture(t, "incident", "impact", "--system", "postgres", "--since", "2026-11-10", "--until", "2026-11-12",
		"--shop", shop, "--json", "--drafts", "drafts")
	if err != nil {
		t.Fatal(err)
	}
	var im registry.Impact
	if err := json.Unmarshal([]byte(out), &im); err != nil || len(im.Subjects) != 1 || im.Subjects[0].Subject != held ||
		strings.Join(im.Subjects[0].OrderNames, ",") != "#1001" {
		t.Fatalf("impact: %v %s", err, out)
	}
	draft, err := os.ReadFile(filepath.Join("drafts", "breach-notification-"+shop+".md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GDPR 33(3)(a)", "GDPR 33(3)(b)", "GDPR 33(3)(c)", "GDPR 33(3)(d)", "LGPD 48 §1 I", "LGPD 48 §1 III",
		"LGPD 48 §1 V", "Data subjects concerned: 1", "#1001", "user.behavior.purchase_history: 1 records", "[TO FILL", "HMAC-SHA256"} {
		if !strings.Contains(string(draft), want) {
			t.Errorf("draft lacks %q", want)
		}
	}
	log, _ := registry.AccessLog(ctx, db, time.Now().Add(-time.Hour), time.Time{}, cliPrincipal())
	if len(log) != 1 || log[0].What != registry.AccessImpact || log[0].Shop != shop {
		t.Fatalf("access log %+v", log)
	}
	for _, args := range [][]string{
		{"incident"},
		{"incident", "impact", "--since", "2026-11-10"},
		{"incident", "impact", "--system", "mainframe", "--since", "2026-11-10"},
		{"incident", "impact", "--system", "postgres"},
		{"incident", "impact", "--system", "postgres", "--since", "last week"},
		{"incident", "impact", "--system", "postgres", "--since", "2026-11-12", "--until", "2026-11-10"},
		{"incident", "impact", "--system", "postgres", "--since", "2026-11-10", "--shop", "evil.com"},
	} {
		if _, err := capture(t, args...); !isUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
