package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// The API and the merchant pages export through one path: for the same shop
// and format they answer with the same download, each pointing at its own
// signature, and each export is recorded in the shop's chain.
func TestRegistryExport_APIAndMerchantPagesAnswerAlike(t *testing.T) {
	e := newAppEnv(t)
	ctx := context.Background()
	if err := e.db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := registry.Append(ctx, tx, time.Now(), registry.Entry{Shop: shop, Subject: e.ring.Subject(shop, 1),
			Datum: registry.DatumEmail, System: registry.SystemSendGrid, Action: registry.ActionTransmitted,
			Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent, ExpiresAt: time.Now().Add(time.Hour), Ref: "rq_alike"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pages, _ := e.login(t, shop)
	token, _, err := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleMerchant, Shop: shop})
	if err != nil {
		t.Fatal(err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	for _, format := range []string{registry.FormatCSV, registry.FormatJSONL, registry.FormatROPA} {
		appStatus, app, appBody := do(t, pages, "GET", e.url+"/app/export?format="+format, nil, nil)
		apiStatus, api, apiBody := do(t, http.DefaultClient, "GET", e.url+"/api/registry/export?format="+format, nil, bearer)
		if appStatus != http.StatusOK || apiStatus != http.StatusOK {
			t.Fatalf("%s: pages %d, API %d", format, appStatus, apiStatus)
		}
		// The export IDs differ; everything else about the download is the same.
		appID, apiID := app.Get("Candor-Export-Id"), api.Get("Candor-Export-Id")
		if appID == "" || apiID == "" || appID == apiID {
			t.Errorf("%s: export IDs %q and %q", format, appID, apiID)
		}
		for _, h := range []string{"Content-Type", "Content-Disposition"} {
			a, b := app.Get(h), api.Get(h)
			if appID != "" && apiID != "" {
				a, b = strings.ReplaceAll(a, appID, "ID"), strings.ReplaceAll(b, apiID, "ID")
			}
			if a == "" || a != b || (h == "Content-Disposition" && !strings.HasPrefix(a, "attachment; ")) {
				t.Errorf("%s: %s is %q on the pages, %q from the API", format, h, a, b)
			}
		}
		for _, id := range []string{appID, apiID} {
			var recorded int
			if err := e.db.Get(&recorded, `SELECT count(*) FROM registry_entries WHERE ref = $1 AND purpose = 'audit' AND shop = $2`, id, shop); err != nil || recorded != 1 {
				t.Errorf("%s: export %s recorded %d times (%v), want once", format, id, recorded, err)
			}
		}
		if format == registry.FormatROPA {
			continue
		}
		if !strings.Contains(appBody, "rq_alike") || !strings.Contains(apiBody, "rq_alike") {
			t.Errorf("%s: the shop's entry is missing:\npages: %s\nAPI: %s", format, appBody, apiBody)
		}
		if got, want := app.Get("Link"), `</app/exports/`+appID+`/signature>; rel="signature"`; got != want {
			t.Errorf("%s: pages' Link %q, want %q", format, got, want)
		}
		if got, want := api.Get("Link"), `</api/registry/exports/`+apiID+`/signature>; rel="signature"`; got != want {
			t.Errorf("%s: API's Link %q, want %q", format, got, want)
		}
	}
}
