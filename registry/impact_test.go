package registry_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// A simulated breach of Postgres between t1 and t2: exactly the subjects
// whose data Postgres held at some moment of the window, however it got
// there and whenever it left.
func TestIncidentImpact_ExactlyTheSubjectsTheSystemHeldInTheWindow(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	const shop, other = "breach.myshopify.com", "elsewhere.myshopify.com"
	t1 := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(48 * time.Hour)
	day := 24 * time.Hour
	stored := func(s, sub, ref string, at, expires time.Time) registry.Entry {
		return registry.Entry{Shop: s, Subject: sub, Datum: registry.DatumPurchaseHistory, System: registry.SystemPostgres,
			Action: registry.ActionStored, Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisLegitimateInterest,
			At: at, ExpiresAt: expires, Ref: ref}
	}
	gone := func(sub, ref, action, purpose string, at time.Time) registry.Entry {
		return registry.Entry{Shop: shop, Subject: sub, Datum: registry.DatumPurchaseHistory, System: registry.SystemPostgres,
			Action: action, Purpose: purpose, LegalBasis: registry.BasisLegalObligation, At: at, ExpiresAt: at, Ref: ref}
	}
	far := t2.Add(180 * day)
	sendgrid := stored(shop, "sub_g", "rq_g", t1.Add(time.Hour), far)
	sendgrid.System, sendgrid.Action, sendgrid.Datum = registry.SystemSendGrid, registry.ActionTransmitted, registry.DatumEmail
	audit := registry.Entry{Shop: shop, Subject: "sub_j", Datum: registry.DatumPseudonym, System: registry.SystemPostgres, Action: registry.ActionRead,
		Purpose: registry.PurposeAudit, LegalBasis: registry.BasisLegalObligation, At: t1.Add(time.Hour), ExpiresAt: t1.Add(time.Hour), Ref: "tr_j"}
	linked := registry.Entry{Shop: shop, Subject: "sub_h", Datum: registry.DatumEmail, System: registry.SystemSendGrid, Action: registry.ActionTransmitted,
		Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent, At: t2.Add(day), ExpiresAt: far, Ref: "rq_h"}
	entries := []registry.Entry{
		stored(shop, "sub_a", "rq_a", t1.Add(-30*day), far), // held before t1, still there: in
		stored(shop, "sub_b", "rq_b", t1.Add(-30*day), far), // deleted before t1: out
		gone("sub_b", "rq_b", registry.ActionDeleted, registry.PurposeRetention, t1.Add(-day)),
		stored(shop, "sub_c", "rq_c", t1.Add(-30*day), far), // deleted inside the window: in
		gone("sub_c", "rq_c", registry.ActionDeleted, registry.PurposeRetention, t1.Add(time.Hour)),
		stored(shop, "sub_d", "rq_d", t2.Add(time.Hour), far),              // stored after t2: out
		stored(shop, "sub_e", "rq_e", t1.Add(12*time.Hour), far),           // stored in the window: in
		stored(shop, "sub_f", "rq_f", t1.Add(-60*day), t1.Add(-time.Hour)), // expired before t1: out
		sendgrid, // another system: out
		stored(shop, "", "rq_h", t1.Add(time.Hour), far), // subject known only later, by ref: in as sub_h
		linked,
		stored(shop, "sub_i", "rq_i", t1.Add(-30*day), far), // erased by subject before t1: out
		gone("sub_i", "pr_i", registry.ActionErased, registry.PurposeErasure, t1.Add(-2*day)),
		audit, // the registry's own read: out
		stored(other, "sub_k", "rq_k", t1.Add(time.Hour), far), // another shop: out with --shop, in without
		stored(shop, "sub_t", "rq_t", t2, far),                 // at t2 exactly: the window is [t1, t2): out
		stored(shop, "sub_u", "rq_u", t1.Add(-30*day), t1),     // expires at t1 exactly: held then: in
	}
	for _, e := range entries {
		if err := db.InTx(ctx, func(tx *sqlx.Tx) error { _, err := registry.Append(ctx, tx, e.At, e); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: "x", Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO review_requests (request_id, shop, order_id, order_name, products, subject, status, expires_at)
		VALUES ('rq_a', $1, 1001, '#1001', '[]', 'sub_a', 'sent', now() + interval '1 day')`, shop); err != nil {
		t.Fatal(err)
	}

	im, err := registry.IncidentImpact(ctx, db, registry.SystemPostgres, shop, t1, t2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range im.Subjects {
		got = append(got, s.Subject)
	}
	want := []string{"sub_a", "sub_c", "sub_e", "sub_h", "sub_u"}
	if !slices.Equal(got, want) {
		t.Fatalf("subjects %v, want %v", got, want)
	}
	if a := im.Subjects[0]; !slices.Equal(a.OrderNames, []string{"#1001"}) || !slices.Equal(a.Refs, []string{"rq_a"}) {
		t.Fatalf("sub_a: orders %v refs %v", a.OrderNames, a.Refs)
	}
	if im.Records != 5 || im.Categories[registry.DatumPurchaseHistory] != 5 || len(im.Categories) != 1 {
		t.Fatalf("records %d, categories %v", im.Records, im.Categories)
	}
	all, err := registry.IncidentImpact(ctx, db, registry.SystemPostgres, "", t1, t2)
	if err != nil || len(all.Subjects) != 6 || !slices.Equal(all.Shops(), []string{shop, other}) {
		t.Fatalf("every shop: %+v %v", all.Subjects, err)
	}
	sg, err := registry.IncidentImpact(ctx, db, registry.SystemSendGrid, shop, t1, t2)
	if err != nil || len(sg.Subjects) != 1 || sg.Subjects[0].Subject != "sub_g" {
		t.Fatalf("sendgrid: %+v %v", sg.Subjects, err)
	}
	if _, err := registry.IncidentImpact(ctx, db, "mainframe", shop, t1, t2); err == nil {
		t.Fatal("an unknown system was accepted")
	}
	if _, err := registry.IncidentImpact(ctx, db, registry.SystemPostgres, shop, t2, t1); err == nil {
		t.Fatal("since after until was accepted")
	}
}
