package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/web"
)

const uiOrigin = "http://127.0.0.1:8233"

func (e *env) codecServer(t *testing.T) string { return e.codecServerWith(t, false) }

// codecServerWith serves the codec; pathTokens as `candor dev` does.
func (e *env) codecServerWith(t *testing.T, pathTokens bool) string {
	t.Helper()
	srv := &web.Server{DB: e.db, Temporal: e.tc, Keys: e.ring, DataKeys: e.keys, ShopifySecret: secret,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)), CodecOrigins: []string{uiOrigin}, CodecPathTokens: pathTokens}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func codecCall(t *testing.T, url, auth string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	return codecCallAs(t, url, auth, nil, uiOrigin, body)
}

// codecCallAs is a codec call as a browser makes it: with cookie (nil:
// none) from origin ("" sends no Origin).
func codecCallAs(t *testing.T, url, auth string, cookie *http.Cookie, origin string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func payloadsJSON(t *testing.T, ps ...*commonpb.Payload) []byte {
	t.Helper()
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parsePayloads(t *testing.T, b []byte) []*commonpb.Payload {
	t.Helper()
	var ps commonpb.Payloads
	if err := protojson.Unmarshal(b, &ps); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return ps.Payloads
}

func TestCodec_OperatorsDecodeThroughTheEndpointAndEachReadIsRecorded(t *testing.T) {
	e := newEnv(t)
	base := e.codecServer(t)
	ctx := context.Background()
	operator, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleOperator})
	auditor, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleAuditor})
	merchant, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleMerchant, Shop: shop})

	rq := e.ring.RequestID(shop, 5005)
	plain, _ := converter.GetDefaultDataConverter().ToPayload(map[string]string{"order_name": "#5005", "title": "Copper kettle"})
	enc, err := e.keys.Codec(shop, rq).Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	body := payloadsJSON(t, enc...)

	for _, c := range []struct {
		name, url, token string
		body             []byte
		want             int
	}{
		{"no token", base + "/codec/decode", "", body, 401},
		{"unknown token", base + "/codec/decode", "cnd_nope", body, 401},
		{"auditor", base + "/codec/decode", auditor, body, 403},
		{"merchant", base + "/codec/decode", merchant, body, 403},
		{"unknown operation", base + "/codec/transmogrify", operator, body, 404},
		{"malformed JSON", base + "/codec/decode", operator, []byte(`{"payloads":[`), 400},
		{"not payloads", base + "/codec/decode", operator, []byte(`{"payloads":[{"data":"not base64!"}]}`), 400},
		{"too large", base + "/codec/decode", operator, bytes.Repeat([]byte(" "), 5<<20), 413},
	} {
		if status, _, msg := codecCall(t, c.url, c.token, c.body); status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, status, msg, c.want)
		}
	}
	var reads int
	_ = e.db.Get(&reads, `SELECT count(*) FROM registry_entries WHERE ref = $1`, rq)
	if reads != 0 {
		t.Fatalf("%d reads recorded by rejected calls", reads)
	}

	// The operator decodes: with the header (Temporal CLI), and with the
	// sign-in cookie (the browser UI).
	cookie := codecSignIn(t, base, operator, "")
	for _, via := range []string{"header", "cookie"} {
		auth, c := operator, (*http.Cookie)(nil)
		if via == "cookie" {
			auth, c = "", cookie
		}
		status, h, b := codecCallAs(t, base+"/codec/decode", auth, c, uiOrigin, body)
		if status != 200 || h.Get("Access-Control-Allow-Origin") != uiOrigin {
			t.Fatalf("%s: %d %s (CORS %q)", via, status, b, h.Get("Access-Control-Allow-Origin"))
		}
		out := parsePayloads(t, b)
		if len(out) != 1 || !strings.Contains(string(out[0].Data), "Copper kettle") || string(out[0].Metadata["encoding"]) != "json/plain" {
			t.Fatalf("decoded %v", out)
		}
	}
	if strings.Contains(e.logs.String(), operator) {
		t.Fatal("the operator token was logged")
	}
	es, _ := registry.Entries(ctx, e.db, shop)
	reads = 0
	for _, en := range es {
		if en.Ref == rq && en.System == registry.SystemTemporal && en.Action == registry.ActionRead && en.Datum == registry.DatumPurchaseHistory {
			reads++
		}
	}
	if reads != 2 || registry.VerifyChain(es) != -1 {
		t.Fatalf("%d codec reads recorded, want 2", reads)
	}

	// Encode (what the UI sends, e.g. a signal's input): the service key.
	status, _, b := codecCall(t, base+"/codec/encode", operator, payloadsJSON(t, plain))
	if status != 200 {
		t.Fatalf("encode: %d %s", status, b)
	}
	sealed := parsePayloads(t, b)
	if string(sealed[0].Metadata["encoding"]) != datakeys.EncodingEncrypted || strings.Contains(string(sealed[0].Data), "Copper") {
		t.Fatalf("encode returned %v", sealed[0].Metadata)
	}
	if _, _, b = codecCall(t, base+"/codec/decode", operator, payloadsJSON(t, sealed...)); !strings.Contains(string(parsePayloads(t, b)[0].Data), "Copper") {
		t.Fatalf("round trip: %s", b)
	}

	// After the request's key is shredded the endpoint hands the payload
	// back still encrypted, and records no read.
	err = e.db.InTx(ctx, func(tx *sqlx.Tx) error {
		ids, err := datakeys.Shred(ctx, tx, shop, []string{rq})
		e.keys.Forget(ids...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	status, _, b = codecCall(t, base+"/codec/decode", operator, body)
	out := parsePayloads(t, b)
	if status != 200 || string(out[0].Metadata["encoding"]) != datakeys.EncodingEncrypted || strings.Contains(string(out[0].Data), "Copper") {
		t.Fatalf("after shredding: %d %s", status, b)
	}
	es, _ = registry.Entries(ctx, e.db, shop)
	if n := len(es); n != 2 {
		t.Fatalf("%d registry entries, want still the 2 reads", n)
	}
}

func TestCodec_PreflightAllowsOnlyTheConfiguredUIOrigin(t *testing.T) {
	e := newEnv(t)
	base := e.codecServer(t)
	for origin, want := range map[string]string{uiOrigin: uiOrigin, "http://evil.example": ""} {
		req, _ := http.NewRequest(http.MethodOptions, base+"/codec/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace,authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != want {
			t.Errorf("preflight from %s: %d, allow-origin %q", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if want != "" && !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("allow-headers %q", resp.Header.Get("Access-Control-Allow-Headers"))
		}
	}
}

// codecSignIn posts the sign-in form with tok from origin ("": none) and
// returns the codec cookie it set, or nil.
func codecSignIn(t *testing.T, base, tok, origin string) *http.Cookie {
	t.Helper()
	c, _ := codecSignInStatus(t, base, tok, origin)
	return c
}

func codecSignInStatus(t *testing.T, base, tok, origin string) (*http.Cookie, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/codec/login", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "candor_codec" && c.MaxAge >= 0 && c.Value != "" {
			return c, resp.StatusCode
		}
	}
	return nil, resp.StatusCode
}

// The Temporal UI serves its codec endpoint to every browser, so no token
// may be in it: the browser signs in once and the UI sends the cookie
// (TEMPORAL_CODEC_INCLUDE_CREDENTIALS). The cookie counts only from the
// UI's origin, and only an operator's token makes one.
func TestCodec_BrowserSignsInWithACookieNotATokenInTheURL(t *testing.T) {
	e := newEnv(t)
	base := e.codecServer(t)
	ctx := context.Background()
	operator, rec, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleOperator})
	auditor, _, _ := e.db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleAuditor})
	plain, _ := converter.GetDefaultDataConverter().ToPayload("hello")
	body := payloadsJSON(t, plain)

	// serve has no route with a token in its path.
	if status, _, b := codecCallAs(t, base+"/codec/"+operator+"/decode", "", nil, uiOrigin, body); status != 404 {
		t.Fatalf("token in the path: %d %s, want 404", status, b)
	}

	for _, c := range []struct {
		name, tok, origin string
		want              int
	}{
		{"empty", "", "", 400},
		{"unknown", "cnd_nope", "", 401},
		{"auditor", auditor, "", 403},
		{"posted from another site", operator, "http://evil.example", 403},
	} {
		if cookie, status := codecSignInStatus(t, base, c.tok, c.origin); status != c.want || cookie != nil {
			t.Errorf("sign-in %s: %d (cookie %v), want %d and no cookie", c.name, status, cookie != nil, c.want)
		}
	}
	u, _ := url.Parse(base)
	cookie, status := codecSignInStatus(t, base, operator, "http://"+u.Host)
	if status != 200 || cookie == nil {
		t.Fatalf("operator sign-in: %d, cookie %v", status, cookie)
	}
	if !cookie.HttpOnly || cookie.Path != "/codec" || cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie HttpOnly=%v Path=%q SameSite=%v, want HttpOnly, /codec, Strict", cookie.HttpOnly, cookie.Path, cookie.SameSite)
	}

	for _, c := range []struct {
		name, origin string
		want         int
	}{
		{"from the UI", uiOrigin, 200},
		{"from another site", "http://evil.example", 403},
		{"with no origin", "", 403},
	} {
		if status, _, b := codecCallAs(t, base+"/codec/decode", "", cookie, c.origin, body); status != c.want {
			t.Errorf("decode with the cookie %s: %d %s, want %d", c.name, status, b, c.want)
		}
	}

	// Signing out clears the cookie.
	req, _ := http.NewRequest(http.MethodPost, base+"/codec/logout", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || (c.Name == "candor_codec" && c.MaxAge < 0 && c.Value == "")
	}
	if resp.StatusCode != 200 || !cleared {
		t.Errorf("sign-out: %d, cookie cleared %v", resp.StatusCode, cleared)
	}

	// Revoking the token ends the cookie too.
	if err := e.db.RevokeToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if status, _, b := codecCallAs(t, base+"/codec/decode", "", cookie, uiOrigin, body); status != 401 {
		t.Fatalf("cookie of a revoked token: %d %s, want 401", status, b)
	}
}

// candor dev's embedded UI cannot send the cookie, so dev alone keeps the
// token in the path.
func TestCodec_PathTokenOnlyWhenAskedFor(t *testing.T) {
	e := newEnv(t)
	base := e.codecServerWith(t, true)
	operator, _, _ := e.db.CreateToken(context.Background(), store.TokenSpec{Name: "test", Role: store.RoleOperator})
	plain, _ := converter.GetDefaultDataConverter().ToPayload("hello")
	body := payloadsJSON(t, plain)
	if status, _, b := codecCallAs(t, base+"/codec/"+operator+"/decode", "", nil, uiOrigin, body); status != 200 {
		t.Fatalf("dev path token: %d %s", status, b)
	}
	if status, _, _ := codecCallAs(t, base+"/codec/cnd_nope/decode", "", nil, uiOrigin, body); status != 401 {
		t.Fatalf("dev bad path token: %d, want 401", status)
	}
	if strings.Contains(e.logs.String(), operator) {
		t.Fatal("the path token was logged")
	}
}
