package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"golang.org/x/oauth2"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/staff"
	"github.com/candorhq/candor/staff/stafftest"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
)

var staffPeople = []stafftest.Person{
	{Username: "ops-mfa", Password: "pw-ops-1", Groups: []string{"candor-ops"}, AMR: []string{"pwd", "otp"}},
	{Username: "ops-pwd", Password: "pw-ops-2", Groups: []string{"candor-ops"}, AMR: []string{"pwd"}},
	{Username: "sales-mfa", Password: "pw-sales", Groups: []string{"sales"}, AMR: []string{"pwd", "otp"}},
	{Username: "audit-mfa", Password: "pw-audit", Groups: []string{"candor-audit"}, AMR: []string{"pwd", "hwk"}},
}

type staffEnv struct {
	db   *store.DB
	idp  *stafftest.Provider
	url  string // a Candor server
	keys *datakeys.Keys
	now  time.Time
	logs *bytes.Buffer
	// replica is a second serve process on the same database.
	replica string
}

func newStaffEnv(t *testing.T) *staffEnv {
	t.Helper()
	db, _ := storetest.New(t)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	e := &staffEnv{db: db, keys: datakeys.New(db, ring), now: time.Now(), logs: &bytes.Buffer{}}
	// Both replicas answer on one public URL, as behind a load balancer:
	// the router sends each request to one of them.
	var servers []http.Handler
	n := 0
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		servers[n%len(servers)].ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	e.idp = stafftest.Start(t, []string{lb.URL + "/staff/callback"}, staffPeople...)
	cfg := config.OIDC{Issuer: e.idp.Issuer, ClientID: stafftest.ClientID, ClientSecret: stafftest.ClientSecret,
		RoleClaim: "groups", Roles: map[string]string{"candor-ops": store.RoleOperator, "candor-audit": store.RoleAuditor},
		RequiredAMR: config.DefaultRequiredAMR, Audiences: []string{stafftest.UIClientID}}
	for range 2 {
		p, err := staff.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := &web.Server{DB: db, Keys: ring, DataKeys: e.keys, Staff: p, PublicURL: lb.URL,
			Logger: slog.New(slog.NewTextHandler(e.logs, nil)), CodecOrigins: []string{uiOrigin},
			Now: func() time.Time { return e.now }}
		servers = append(servers, srv.Handler())
	}
	e.url = lb.URL
	return e
}

// startSignIn opens /staff/login in c and returns the provider's URL.
func (e *staffEnv) startSignIn(t *testing.T, c *http.Client) string {
	t.Helper()
	status, h, body := do(t, c, http.MethodGet, e.url+"/staff/login", nil, nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), e.idp.Issuer) {
		t.Fatalf("/staff/login: %d %s %s", status, h.Get("Location"), body)
	}
	u, _ := url.Parse(h.Get("Location"))
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("sign-in request lacks PKCE, nonce or state: %s", u.RawQuery)
	}
	return u.String()
}

// signIn goes through the provider's login page as user and returns the
// callback's answer, and the callback URL.
func (e *staffEnv) signIn(t *testing.T, c *http.Client, user, pw string) (int, http.Header, string, string) {
	t.Helper()
	back := stafftest.SignIn(t, nil, e.startSignIn(t, c), user, pw)
	status, h, body := do(t, c, http.MethodGet, back.String(), nil, nil)
	return status, h, body, back.String()
}

var staffCSRFRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (e *staffEnv) sessions(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM staff_sessions`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStaffSignIn_WithMFASucceedsOnEveryReplicaAndLogoutEndsIt(t *testing.T) {
	e := newStaffEnv(t)
	c := browser(t)
	status, h, body, _ := e.signIn(t, c, "ops-mfa", "pw-ops-1")
	if status != http.StatusSeeOther || h.Get("Location") != "/staff" {
		t.Fatalf("callback: %d %s %s", status, h.Get("Location"), body)
	}
	var cookie string
	for _, sc := range h.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "candor_staff=") {
			cookie = sc
		}
	}
	for _, flag := range []string{"Path=/staff", "HttpOnly", "SameSite=Lax", "Max-Age="} {
		if !strings.Contains(cookie, flag) {
			t.Errorf("session cookie %q lacks %s", cookie, flag)
		}
	}
	// Each request goes to the other replica in turn: the session is in
	// Postgres.
	var csrf string
	for range 2 {
		status, _, body = do(t, c, http.MethodGet, e.url+"/staff", nil, nil)
		if status != 200 || !strings.Contains(body, "<strong>operator</strong>") || !strings.Contains(body, "otp") {
			t.Fatalf("/staff: %d %s", status, body)
		}
		csrf = staffCSRFRe.FindStringSubmatch(body)[1]
	}
	if strings.Contains(body, "ops-mfa") || strings.Contains(e.logs.String(), "ops-mfa") {
		t.Fatal("the page or the log names the person")
	}
	var principal string
	_ = e.db.Get(&principal, `SELECT principal FROM staff_sessions`)
	if !strings.HasPrefix(principal, "oidc_") {
		t.Fatalf("principal %q", principal)
	}

	// Logout: a form from another site, or without the CSRF token, does
	// nothing.
	if status, _, _ := do(t, c, http.MethodPost, e.url+"/staff/logout", url.Values{"csrf": {csrf}},
		http.Header{"Origin": {"https://evil.example"}}); status != http.StatusForbidden {
		t.Fatalf("cross-site logout: %d", status)
	}
	if status, _, _ := do(t, c, http.MethodPost, e.url+"/staff/logout", url.Values{"csrf": {"x"}}, nil); status != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", status)
	}
	if e.sessions(t) != 1 {
		t.Fatal("a refused logout ended the session")
	}
	stolen := c.Jar.Cookies(mustURL(t, e.url+"/staff"))
	if status, _, body := do(t, c, http.MethodPost, e.url+"/staff/logout", url.Values{"csrf": {csrf}}, nil); status != 200 || !strings.Contains(body, "Signed out") {
		t.Fatalf("logout: %d %s", status, body)
	}
	if e.sessions(t) != 0 {
		t.Fatal("the session row outlived the logout")
	}
	// The old cookie, kept by someone, opens nothing on either replica.
	for range 2 {
		other := browser(t)
		other.Jar.SetCookies(mustURL(t, e.url+"/staff"), stolen)
		if status, h, _ := do(t, other, http.MethodGet, e.url+"/staff", nil, nil); status != http.StatusSeeOther || h.Get("Location") != "/staff/login" {
			t.Fatalf("old cookie after logout: %d %s", status, h.Get("Location"))
		}
	}
}

func TestStaffSignIn_WithoutMFAOrWithoutARoleIsRefused(t *testing.T) {
	e := newStaffEnv(t)
	for _, c := range []struct{ user, pw, want string }{
		{"ops-pwd", "pw-ops-2", "multi-factor"},
		{"sales-mfa", "pw-sales", "no Candor staff role"},
	} {
		b := browser(t)
		status, _, body, _ := e.signIn(t, b, c.user, c.pw)
		if status != http.StatusForbidden || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", c.user, status, body)
		}
		if status, _, _ := do(t, b, http.MethodGet, e.url+"/staff", nil, nil); status != http.StatusSeeOther {
			t.Errorf("%s reached /staff: %d", c.user, status)
		}
	}
	if e.sessions(t) != 0 {
		t.Fatal("a refused sign-in left a session")
	}
}

func TestStaffSignIn_StateIsSpentOnceAndBoundToTheBrowser(t *testing.T) {
	e := newStaffEnv(t)
	c := browser(t)
	status, _, _, back := e.signIn(t, c, "ops-mfa", "pw-ops-1")
	if status != http.StatusSeeOther {
		t.Fatalf("first callback: %d", status)
	}
	// The same callback again (a replayed state and code): refused, on any
	// replica, even with the state cookie put back.
	u := mustURL(t, back)
	c.Jar.SetCookies(mustURL(t, e.url+"/staff/callback"), []*http.Cookie{{Name: "candor_staff_signin", Value: u.Query().Get("state")}})
	if status, _, body := do(t, c, http.MethodGet, back, nil, nil); status != http.StatusBadRequest || !strings.Contains(body, "already used") {
		t.Fatalf("replayed callback: %d %s", status, body)
	}

	// A callback carried to another browser (login CSRF: an attacker's
	// sign-in finished in the victim's browser) lacks the state cookie.
	attacker := browser(t)
	back2 := stafftest.SignIn(t, nil, e.startSignIn(t, attacker), "ops-mfa", "pw-ops-1")
	if status, _, body := do(t, browser(t), http.MethodGet, back2.String(), nil, nil); status != http.StatusBadRequest || !strings.Contains(body, "did not start in this browser") {
		t.Fatalf("callback in another browser: %d %s", status, body)
	}

	// A sign-in left for longer than its lifetime has expired.
	late := browser(t)
	back3 := stafftest.SignIn(t, nil, e.startSignIn(t, late), "ops-mfa", "pw-ops-1")
	e.now = e.now.Add(11 * time.Minute)
	if status, _, body := do(t, late, http.MethodGet, back3.String(), nil, nil); status != http.StatusBadRequest || !strings.Contains(body, "expired") {
		t.Fatalf("late callback: %d %s", status, body)
	}
	// Bad input: no state, no code, an error from the provider.
	for _, q := range []string{"", "?state=x", "?code=x", "?error=access_denied&state=x"} {
		if status, _, _ := do(t, late, http.MethodGet, e.url+"/staff/callback"+q, nil, nil); status != http.StatusBadRequest && status != http.StatusUnauthorized {
			t.Errorf("callback%s: %d", q, status)
		}
	}
	if e.sessions(t) != 1 {
		t.Fatalf("%d sessions, want only the first sign-in's", e.sessions(t))
	}
}

func TestStaffConsole_AuditorSignsInAndNobodyElseGetsIn(t *testing.T) {
	e := newStaffEnv(t)
	c := browser(t)
	if status, _, _, _ := e.signIn(t, c, "audit-mfa", "pw-audit"); status != http.StatusSeeOther {
		t.Fatalf("auditor: %d", status)
	}
	if status, _, body := do(t, c, http.MethodGet, e.url+"/staff", nil, nil); status != 200 || !strings.Contains(body, "<strong>auditor</strong>") {
		t.Fatalf("/staff as auditor: %d %s", status, body)
	}
	// The access review is part of the console: the signed-in auditor
	// reads it without a bearer token; nobody else does.
	if status, _, body := do(t, c, http.MethodGet, e.url+"/staff/access", nil, nil); status != 200 || !strings.Contains(body, "<h1>Access review</h1>") {
		t.Fatalf("/staff/access as the signed-in auditor: %d %s", status, body)
	}
	if status, _, _ := do(t, browser(t), http.MethodGet, e.url+"/staff/access", nil, nil); status != http.StatusSeeOther {
		t.Fatalf("/staff/access signed out: %d, want the redirect to sign in", status)
	}
	// A forged cookie is no session.
	forged := browser(t)
	forged.Jar.SetCookies(mustURL(t, e.url+"/staff"), []*http.Cookie{{Name: "candor_staff", Value: "forged"}})
	if status, _, _ := do(t, forged, http.MethodGet, e.url+"/staff", nil, nil); status != http.StatusSeeOther {
		t.Fatalf("forged cookie: %d", status)
	}
}

// uiToken signs in as the Temporal UI's own OIDC client does and returns
// the JWT access token it would pass to the codec (passAccessToken).
func uiToken(t *testing.T, e *staffEnv, user, pw string) string {
	t.Helper()
	cfg := oauth2.Config{ClientID: stafftest.UIClientID, ClientSecret: stafftest.UIClientSecret, RedirectURL: e.url + "/staff/callback",
		Endpoint: oauth2.Endpoint{AuthURL: e.idp.Issuer + "/auth", TokenURL: e.idp.Issuer + "/oauth/token"}, Scopes: []string{"openid"}}
	v := oauth2.GenerateVerifier()
	back := stafftest.SignIn(t, nil, cfg.AuthCodeURL("ui-state", oauth2.S256ChallengeOption(v)), user, pw)
	tok, err := cfg.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestCodec_TemporalUIPassesTheSignedInOperatorsAccessToken(t *testing.T) {
	e := newStaffEnv(t)
	ring := e.keys.Ring()
	rq := ring.RequestID(shop, 6006)
	plain, _ := converter.GetDefaultDataConverter().ToPayload(map[string]string{"title": "Copper kettle"})
	enc, err := e.keys.Codec(shop, rq).Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	body := payloadsJSON(t, enc...)
	for _, c := range []struct {
		name, token string
		want        int
	}{
		{"operator without MFA", uiToken(t, e, "ops-pwd", "pw-ops-2"), 403},
		{"auditor", uiToken(t, e, "audit-mfa", "pw-audit"), 403},
		{"no role", uiToken(t, e, "sales-mfa", "pw-sales"), 403},
		{"not a token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", 401},
	} {
		if status, _, msg := codecCall(t, e.url+"/codec/decode", c.token, body); status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, status, msg, c.want)
		}
	}
	var reads int
	_ = e.db.Get(&reads, `SELECT count(*) FROM registry_entries WHERE ref = $1`, rq)
	if reads != 0 {
		t.Fatalf("%d reads recorded by refused calls", reads)
	}
	status, _, b := codecCall(t, e.url+"/codec/decode", uiToken(t, e, "ops-mfa", "pw-ops-1"), body)
	if status != 200 || !strings.Contains(string(parsePayloads(t, b)[0].Data), "Copper kettle") {
		t.Fatalf("operator with MFA: %d %s", status, b)
	}
	_ = e.db.Get(&reads, `SELECT count(*) FROM registry_entries WHERE ref = $1 AND action = 'read'`, rq)
	if reads != 1 {
		t.Fatalf("%d reads recorded, want 1", reads)
	}
}
