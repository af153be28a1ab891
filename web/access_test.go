package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

func TestAPI_ExpiredOrRevokedTokenGets401AndTheAttemptIsRecorded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	auditor, auditorRec, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "ana", Role: store.RoleAuditor})
	merchant, merchantRec, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "owner", Role: store.RoleMerchant, Shop: shop})
	if status, _, body := e.api(t, "/api/registry/pubkey", auditor); status != 200 {
		t.Fatalf("live token: %d %s", status, body)
	}
	if _, err := e.db.Exec(`UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, auditorRec.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RevokeToken(ctx, merchantRec.ID); err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]string{auditor: "token expired", merchant: "token revoked"} {
		status, h, body := e.api(t, "/api/registry/export", tok)
		if status != 401 || !strings.Contains(string(body), want) || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%s: %d %s %q", want, status, body, h.Get("WWW-Authenticate"))
		}
	}
	var refused []string
	if err := e.db.Select(&refused, `SELECT shop || '/' || ref FROM registry_entries WHERE action = $1 ORDER BY shop`, registry.ActionRefused); err != nil {
		t.Fatal(err)
	}
	if len(refused) != 2 || refused[0] != shop+"/"+merchantRec.ID || refused[1] != registry.StaffShop+"/"+auditorRec.ID {
		t.Fatalf("refused attempts recorded: %v", refused)
	}
	if strings.Contains(e.logs.String(), auditor) || strings.Contains(e.logs.String(), merchant) {
		t.Fatal("a token reached the logs")
	}
}

func TestStaffAccess_ListsEveryPrincipalFlaggedForOperatorsAndAuditorsOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	operator, opRec, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "ops on call", Role: store.RoleOperator})
	auditor, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "ana <b>auditor</b>", Role: store.RoleAuditor})
	merchant, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "owner", Role: store.RoleMerchant, Shop: shop})
	_, idle, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "idle", Role: store.RoleAuditor})
	if _, err := e.db.Exec(`UPDATE api_tokens SET created_at = now() - interval '40 days', expires_at = now() + interval '3 days' WHERE id = $1`, idle.ID); err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]int{"": 401, "cnd_nope": 401, merchant: 403} {
		if status, _, _ := e.api(t, "/staff/access", tok); status != want {
			t.Errorf("token %q: %d, want %d", tok, status, want)
		}
	}
	if _, err := e.db.Exec(`INSERT INTO app_sessions (token_hash, shop, expires_at) VALUES ('h1', $1, now() + interval '1 hour'),
		('h2', $1, now() - interval '1 hour')`, shop); err != nil {
		t.Fatal(err)
	}
	status, h, body := e.api(t, "/staff/access", operator)
	page := string(body)
	if !strings.Contains(page, "<td>"+shop+"</td><td>1</td>") {
		t.Error("the page does not show the shop's one live merchant session")
	}
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("operator: %d %s", status, h.Get("Content-Type"))
	}
	for _, want := range []string{opRec.ID, "ops on call", idle.ID, "never-used, stale, expiring", shop, "ana &lt;b&gt;auditor&lt;/b&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, operator) || strings.Contains(page, "<b>auditor</b>") {
		t.Error("page holds a token or unescaped HTML")
	}
	req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(e.url, "/webhooks/shopify")+"/staff/access", nil)
	req.Header.Set("Authorization", "Bearer "+auditor)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Principals []store.Review `json:"principals"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &got); err != nil || len(got.Principals) != 4 {
		t.Fatalf("JSON review: %v %s", err, b)
	}
}

func TestUninstall_EndsTheShopsMerchantSessions(t *testing.T) {
	e := newEnv(t)
	const other = "other.myshopify.com"
	if err := e.db.AddShop(context.Background(), store.Shop{Domain: other, TokenSealed: "x", Settings: store.DefaultSettings(other)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ cookie, shop string }{{"mine", shop}, {"theirs", other}} {
		sum := sha256.Sum256([]byte(c.cookie))
		if _, err := e.db.Exec(`INSERT INTO app_sessions (token_hash, shop, expires_at) VALUES ($1, $2, now() + interval '1 hour')`,
			hex.EncodeToString(sum[:]), c.shop); err != nil {
			t.Fatal(err)
		}
	}
	appGet := func(cookie string) int {
		req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(e.url, "/webhooks/shopify")+"/app/registry", nil)
		req.AddCookie(&http.Cookie{Name: "candor_session", Value: cookie})
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := appGet("mine"); s != 200 {
		t.Fatalf("signed in before the uninstall: %d", s)
	}
	b, err := os.ReadFile(filepath.Join("..", "integrations", "shopify", "testdata", "webhooks", "app_uninstalled.json"))
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.ReplaceAll(string(b), "{shop}.myshopify.com", shop))
	if status, msg := e.post(t, e.url, delivery{topic: shopify.TopicAppUninstalled, body: b}); status != 200 {
		t.Fatalf("app/uninstalled: %d %s", status, msg)
	}
	if s := appGet("mine"); s == 200 {
		t.Fatal("the uninstalled shop's session still opens the merchant pages")
	}
	if s := appGet("theirs"); s != 200 {
		t.Fatalf("another shop's session ended too: %d", s)
	}
}

// Every decode names its operator in the access log, a subject's own key
// included; a decode whose record cannot be written returns nothing.
func TestCodec_DecodeIsLoggedWithTheOperatorAndRefusedWhenTheLogCannotBeWritten(t *testing.T) {
	e := newEnv(t)
	base := e.codecServer(t)
	ctx := context.Background()
	operator, opRec, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "ops on call", Role: store.RoleOperator})
	rq := e.ring.RequestID(shop, 7007)
	sub := e.ring.Subject(shop, 7007)
	plain, _ := converter.GetDefaultDataConverter().ToPayload("Copper kettle")
	byRequest, err := e.keys.Codec(shop, rq).Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	bySubject, err := e.keys.Codec(shop, sub).Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	body := payloadsJSON(t, append(byRequest, bySubject...)...)
	if status, _, b := codecCall(t, base+"/codec/decode", operator, body); status != 200 || !strings.Contains(string(b), base64Of("Copper kettle")) {
		t.Fatalf("decode: %d %s", status, b)
	}
	log, err := registry.AccessLog(ctx, e.db, time.Now().Add(-time.Hour), time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range log {
		got[l.Subject+"|"+l.Ref[:3]] = l.Principal + "/" + l.What
	}
	want := map[string]string{"|rq_": opRec.ID + "/codec", sub + "|cd_": opRec.ID + "/codec"}
	if len(got) != 2 || got["|rq_"] != want["|rq_"] || got[sub+"|cd_"] != want[sub+"|cd_"] {
		t.Fatalf("access log %v, want %v", got, want)
	}
	var entries int
	_ = e.db.Get(&entries, `SELECT count(*) FROM registry_entries WHERE system = 'temporal' AND action = 'read'`)
	if entries != 2 {
		t.Fatalf("%d registry reads, want 2", entries)
	}

	for _, broken := range []string{"access_log", "registry_heads"} {
		if _, err := e.db.Exec(`ALTER TABLE ` + broken + ` RENAME TO broken_table`); err != nil {
			t.Fatal(err)
		}
		status, _, b := codecCall(t, base+"/codec/decode", operator, body)
		if status != 503 || strings.Contains(string(b), base64Of("Copper kettle")) {
			t.Errorf("%s cannot be written: %d %s, want 503 and nothing decoded", broken, status, b)
		}
		if _, err := e.db.Exec(`ALTER TABLE broken_table RENAME TO ` + broken); err != nil {
			t.Fatal(err)
		}
	}
	_ = e.db.Get(&entries, `SELECT count(*) FROM registry_entries WHERE system = 'temporal' AND action = 'read'`)
	if entries != 2 {
		t.Fatalf("%d registry reads after refused decodes, want still 2", entries)
	}
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(`"` + s + `"`)) }

// The API's trail, report, receipt and export each name their token in the
// access log before answering; if the log cannot be written they answer
// 503 and nothing else.
func TestAPI_ReadsAreLoggedWithTheirPrincipalOrRefused(t *testing.T) {
	e := newEnv(t)
	e.seedRegistry(t)
	ctx := context.Background()
	auditor, rec, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "ana", Role: store.RoleAuditor})
	trail := "/api/registry/trail?shop=" + shop + "&customer_id=100"
	export := "/api/registry/export?shop=" + shop
	for _, p := range []string{trail, export} {
		if status, _, b := e.api(t, p, auditor); status != 200 {
			t.Fatalf("%s: %d %s", p, status, b)
		}
	}
	log, err := registry.AccessLog(ctx, e.db, time.Now().Add(-time.Hour), time.Time{}, rec.ID)
	if err != nil || len(log) != 2 || log[0].What != registry.AccessTrail || log[1].What != registry.AccessExport ||
		log[0].Subject != e.ring.Subject(shop, 100) || log[1].Shop != shop {
		t.Fatalf("access log %+v, %v", log, err)
	}
	if other, _ := registry.AccessLog(ctx, e.db, time.Now().Add(-time.Hour), time.Time{}, "tok_someoneelse"); len(other) != 0 {
		t.Fatalf("another principal's log: %+v", other)
	}
	if _, err := e.db.Exec(`ALTER TABLE access_log RENAME TO broken_table`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{trail, export, "/api/subjects/receipt?shop=" + shop + "&customer_id=100"} {
		status, _, b := e.api(t, p, auditor)
		if status != 503 || strings.Contains(string(b), "sub_") {
			t.Errorf("%s with the access log broken: %d %s", p, status, b)
		}
	}
}

func TestAPI_CheckpointsAreServedToAuditorsSigned(t *testing.T) {
	e := newEnv(t)
	e.seedRegistry(t)
	ctx := context.Background()
	if _, err := registry.MakeCheckpoint(ctx, e.db.DB, registry.Signer{KeyID: e.ring.KeyID(), Key: e.ring.SigningKey()}, time.Now()); err != nil {
		t.Fatal(err)
	}
	auditor, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "ana", Role: store.RoleAuditor})
	merchant, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "owner", Role: store.RoleMerchant, Shop: shop})
	for tok, want := range map[string]int{"": 401, merchant: 403} {
		if status, _, _ := e.api(t, "/api/registry/checkpoints", tok); status != want {
			t.Errorf("token %q: %d, want %d", tok, status, want)
		}
	}
	for _, q := range []string{"?since=yesterday", "?shop=" + shop} {
		if status, _, _ := e.api(t, "/api/registry/checkpoints"+q, auditor); status != 400 {
			t.Errorf("%s: %d, want 400", q, status)
		}
	}
	status, _, b := e.api(t, "/api/registry/checkpoints", auditor)
	var got struct {
		PublicKey   string                      `json:"public_key"`
		Checkpoints []registry.SignedCheckpoint `json:"checkpoints"`
	}
	if status != 200 || json.Unmarshal(b, &got) != nil || len(got.Checkpoints) != 1 || len(got.Checkpoints[0].Checkpoint.Heads) != 2 {
		t.Fatalf("checkpoints: %d %s", status, b)
	}
	pub, _ := base64.StdEncoding.DecodeString(got.PublicKey)
	if n, err := registry.VerifyCheckpoints(ctx, e.db.DB, got.Checkpoints, pub); err != nil || n != 2 {
		t.Fatalf("the served checkpoints do not verify: %d %v", n, err)
	}
	if status, _, b := e.api(t, "/api/registry/checkpoints?since=2999-01-01", auditor); status != 200 || strings.Contains(string(b), "heads") {
		t.Fatalf("since after every checkpoint: %d %s", status, b)
	}
}
