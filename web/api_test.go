package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

func (e *env) api(t *testing.T, path, token string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(e.url, "/webhooks/shopify")+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) seedRegistry(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for i, s := range []string{shop, "other.myshopify.com", shop} {
		err := e.db.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := registry.Append(ctx, tx, time.Now(), registry.Entry{Shop: s, Subject: e.ring.Subject(s, int64(100+i)),
				Datum: registry.DatumEmail, System: registry.SystemSendGrid, Action: registry.ActionTransmitted,
				Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent, ExpiresAt: time.Now().Add(time.Hour), Ref: "rq_x"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAPI_RegistryExportAccessControl(t *testing.T) {
	e := newEnv(t)
	e.seedRegistry(t)
	ctx := context.Background()
	auditor, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleAuditor})
	merchant, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleMerchant, Shop: shop})
	operator, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleOperator})

	for _, c := range []struct {
		name, path, token string
		status            int
	}{
		{"no token", "/api/registry/export", "", 401},
		{"unknown token", "/api/registry/export", "cnd_nope", 401},
		{"not a candor token", "/api/registry/export", "abc", 401},
		{"operator", "/api/registry/export", operator, 403},
		{"merchant, other shop", "/api/registry/export?shop=other.myshopify.com", merchant, 403},
		{"unknown format", "/api/registry/export?format=xml", auditor, 400},
		{"unknown filter", "/api/registry/export?colour=red", auditor, 400},
		{"bad time", "/api/registry/export?since=yesterday", auditor, 400},
		{"subject without shop", "/api/registry/export?subject=sub_x", auditor, 400},
		{"customer id not a number", "/api/registry/export?shop=" + shop + "&customer_id=abc", auditor, 400},
		{"since after until", "/api/registry/export?since=2026-02-01&until=2026-01-01", auditor, 400},
	} {
		status, _, body := e.api(t, c.path, c.token)
		if status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.status)
		}
		if status >= 400 && !bytes.Contains(body, []byte(`"error"`)) {
			t.Errorf("%s: no error message: %s", c.name, body)
		}
	}

	// A merchant sees only their shop, and the export verifies.
	status, h, body := e.api(t, "/api/registry/export?format=csv", merchant)
	// Header, the shop's two entries, and the record of this very export.
	if status != 200 || strings.Contains(string(body), "other.myshopify.com") || strings.Count(string(body), "\n") != 4 ||
		!strings.Contains(string(body), ",audit,legal_obligation,") || !strings.Contains(string(body), h.Get("Candor-Export-Id")) {
		t.Fatalf("merchant export: %d\n%s", status, body)
	}
	link := h.Get("Link")
	sigPath := strings.TrimSuffix(strings.TrimPrefix(strings.Split(link, ";")[0], "<"), ">")
	status, _, sigBody := e.api(t, sigPath, merchant)
	if status != 200 {
		t.Fatalf("signature: %d %s", status, sigBody)
	}
	var signed registry.Signed
	if err := json.Unmarshal(sigBody, &signed); err != nil {
		t.Fatal(err)
	}
	pub := e.ring.SigningKey().Public().(ed25519.PublicKey)
	if rep, err := registry.Verify(bytes.NewReader(body), &signed, pub); err != nil || rep.Entries != 3 {
		t.Fatalf("verify the API export: %+v, %v", rep, err)
	}
	if signed.Manifest.PublicKey != base64.StdEncoding.EncodeToString(pub) {
		t.Fatal("manifest names another key")
	}
	// The key is published to token holders, for verify --pubkey.
	status, _, pk := e.api(t, "/api/registry/pubkey", merchant)
	if status != 200 || !strings.Contains(string(pk), base64.StdEncoding.EncodeToString(pub)) {
		t.Fatalf("pubkey: %d %s", status, pk)
	}
	if status, _, _ := e.api(t, "/api/registry/pubkey", ""); status != 401 {
		t.Fatalf("pubkey without a token: %d", status)
	}
	// Another token cannot fetch this export's signature; an auditor can.
	other, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleMerchant, Shop: shop})
	if status, _, _ := e.api(t, sigPath, other); status != 404 {
		t.Fatalf("another merchant token got the signature: %d", status)
	}
	if status, _, _ := e.api(t, sigPath, auditor); status != 200 {
		t.Fatalf("auditor could not fetch the signature: %d", status)
	}

	// An auditor sees every shop; the record of processing answers Art. 30.
	if status, _, body = e.api(t, "/api/registry/export?format=jsonl", auditor); status != 200 || !strings.Contains(string(body), "other.myshopify.com") {
		t.Fatalf("auditor export: %d %s", status, body)
	}
	status, _, body = e.api(t, "/api/registry/export?format=ropa&shop="+shop, auditor)
	for _, section := range []string{"(a) Controller", "(b) Purposes", "(c) Categories", "(d) Recipients", "(e) Transfers", "(f) Time limits", "(g) Technical and organisational", "Twilio SendGrid", "user.contact.email"} {
		if status != 200 || !strings.Contains(string(body), section) {
			t.Errorf("ropa lacks %q (status %d)", section, status)
		}
	}

	// Every export was itself recorded.
	var audits int
	if err := e.db.Get(&audits, `SELECT count(*) FROM registry_entries WHERE purpose = 'audit' AND datum = $1`, registry.DatumPseudonym); err != nil {
		t.Fatal(err)
	}
	if audits < 4 {
		t.Fatalf("%d audit entries for 4 exports", audits)
	}
}

func TestAPI_TrailAnswersWhereACustomersDataWent(t *testing.T) {
	e := newEnv(t)
	e.seedRegistry(t)
	merchant, _, _ := e.db.CreateToken(context.Background(), store.TokenSpec{Name: "test", Role: store.RoleMerchant, Shop: shop})
	status, _, body := e.api(t, "/api/registry/trail?shop="+shop+"&customer_id=100", merchant)
	var tr registry.Trail
	if status != 200 || json.Unmarshal(body, &tr) != nil {
		t.Fatalf("trail: %d %s", status, body)
	}
	// The email sent to SendGrid, and this lookup itself.
	if tr.Entries != 2 || len(tr.Rows) != 2 {
		t.Fatalf("trail %+v", tr)
	}
	sent, lookup := tr.Rows[0], tr.Rows[1] // sorted by datum
	if sent.Datum != registry.DatumEmail || sent.System != registry.SystemSendGrid || !sent.Recipient || sent.Deleted || sent.Role != "sub-processor" {
		t.Fatalf("email row %+v", sent)
	}
	if lookup.Datum != registry.DatumPseudonym || lookup.Purposes[0] != registry.PurposeAudit {
		t.Fatalf("the lookup was not recorded: %+v", lookup)
	}
	if status, _, _ := e.api(t, "/api/registry/trail?shop=other.myshopify.com&customer_id=101", merchant); status != 403 {
		t.Fatalf("merchant read another shop's trail: %d", status)
	}
	if status, _, _ := e.api(t, "/api/registry/trail?shop="+shop, merchant); status != 400 {
		t.Fatalf("trail without a customer: %d", status)
	}
}

// addPrivacyRequest stores a privacy request (as intake would, with a
// sealed address and raw order IDs that must never be shown) and its
// receipts, each asked and verified now.
func addPrivacyRequest(t *testing.T, db *store.DB, id, kind, shop, subject string, receipts ...store.Receipt) {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := store.CreatePrivacyRequest(ctx, tx, store.PrivacyRequest{ID: id, Kind: kind, Shop: shop, Subject: subject,
			OrderIDs: []int64{987654321}, EmailSealed: "v1.k.sealed-address"}); err != nil {
			return err
		}
		for _, rc := range receipts {
			rc.RequestID, rc.AskedAt, rc.VerifiedAt = id, time.Now(), time.Now()
			if err := store.SaveReceipt(ctx, tx, rc); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestAPI_SubjectReceiptAndReportForTheMerchant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	subject := e.ring.Subject(shop, 4242)
	redact := store.PrivacyRequest{ID: "pr_redact01"}
	addPrivacyRequest(t, e.db, redact.ID, store.KindCustomerRedact, shop, subject, store.Receipt{System: "sendgrid", Asked: "erase", Verified: "read back: none"})
	data := store.PrivacyRequest{ID: "pr_data01"}
	addPrivacyRequest(t, e.db, data.ID, store.KindDataRequest, shop, subject)
	if _, err := e.db.ExecContext(ctx, `INSERT INTO subject_reports (request_id, shop, subject, report) VALUES ($1, $2, $3, '{"systems":["postgres"]}')`,
		data.ID, shop, subject); err != nil {
		t.Fatal(err)
	}
	merchant, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleMerchant, Shop: shop})
	auditor, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleAuditor})
	operator, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleOperator})

	type answer struct {
		Subject  string                 `json:"subject"`
		Requests []store.SubjectRequest `json:"requests"`
	}
	status, _, body := e.api(t, "/api/subjects/receipt?shop="+shop+"&customer_id=4242", merchant)
	var got answer
	if status != 200 || json.Unmarshal(body, &got) != nil || got.Subject != subject || len(got.Requests) != 1 ||
		got.Requests[0].ID != redact.ID || len(got.Requests[0].Receipts) != 1 || got.Requests[0].Receipts[0].Verified != "read back: none" {
		t.Fatalf("receipt: %d %s", status, body)
	}
	if strings.Contains(string(body), "sealed-address") || strings.Contains(string(body), "987654321") {
		t.Fatalf("the receipt shows the sealed address or a raw order ID: %s", body)
	}
	status, _, body = e.api(t, "/api/subjects/report?shop="+shop+"&subject="+subject, auditor)
	got = answer{}
	if status != 200 || json.Unmarshal(body, &got) != nil || len(got.Requests) != 1 || string(got.Requests[0].Report) != `{"systems":["postgres"]}` {
		t.Fatalf("report: %d %s", status, body)
	}

	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/api/subjects/receipt?shop=other.myshopify.com&customer_id=4242", merchant, 403},
		{"/api/subjects/receipt?shop=" + shop + "&customer_id=4242", operator, 403},
		{"/api/subjects/receipt?shop=" + shop + "&customer_id=4242", "", 401},
		{"/api/subjects/receipt?shop=" + shop, merchant, 400},
		{"/api/subjects/receipt?shop=" + shop + "&customer_id=4242&since=2026-01-01", merchant, 400},
		{"/api/subjects/receipt?shop=" + shop + "&customer_id=-1", merchant, 400},
		{"/api/subjects/receipt?shop=" + shop + "&customer_id=4242&order=1", merchant, 400},
		{"/api/subjects/receipt?shop=" + shop + "&customer_id=1111", merchant, 404},
		{"/api/subjects/export?shop=" + shop + "&customer_id=4242", merchant, 404},
	} {
		if status, _, body := e.api(t, c.path, c.token); status != c.want {
			t.Errorf("%s: %d %s, want %d", c.path, status, body, c.want)
		}
	}
	// Each lookup that got past the checks is in the registry as an audit
	// read of its subject, the 404 too.
	for sub, want := range map[string]int{subject: 2, e.ring.Subject(shop, 1111): 1} {
		var reads int
		if err := e.db.GetContext(ctx, &reads, `SELECT count(*) FROM registry_entries WHERE shop = $1 AND subject = $2
			AND action = 'read' AND purpose = 'audit' AND ref LIKE 'sr\_%'`, shop, sub); err != nil || reads != want {
			t.Fatalf("%d lookups of %s recorded, want %d (%v)", reads, sub, want, err)
		}
	}
}
