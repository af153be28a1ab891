package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
)

const (
	oauthAppKey = "candor-test-client-id"
	oauthShop   = "fjord-outfitters.myshopify.com"
	apiVersion  = "2026-10"
)

type oauthEnv struct {
	db    *store.DB
	ring  *keys.Ring
	store *shopifytest.Store
	url   string // Candor
	logs  *devenv.SyncBuffer
}

// newOAuthEnv runs Candor's HTTP server and a stand-in Shopify that knows
// Candor as a public app and is the store oauthShop. No shop is connected.
func newOAuthEnv(t *testing.T, configure func(*web.Server)) *oauthEnv {
	t.Helper()
	db, _ := storetest.New(t)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	st := shopifytest.New("", apiVersion) // no custom-app token: only OAuth tokens work
	t.Cleanup(st.Close)
	st.Shop = oauthShop
	var h http.Handler
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	st.EnableOAuth(shopifytest.App{APIKey: oauthAppKey, APISecret: secret, RedirectURI: hs.URL + "/shopify/callback"})
	logs := &devenv.SyncBuffer{}
	srv := &web.Server{DB: db, Keys: ring, ShopifySecret: secret, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		OAuth:     shopify.OAuth{APIKey: oauthAppKey, APISecret: secret, BaseURL: st.URL},
		Shopify:   shopify.AdminConfig{APIVersion: apiVersion, BaseURL: st.URL},
		PublicURL: hs.URL}
	if configure != nil {
		configure(srv)
	}
	h = srv.Handler()
	return &oauthEnv{db: db, ring: ring, store: st, url: hs.URL, logs: logs}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// authorize runs the install and Shopify's approval in browser c, and
// returns the signed callback URL Shopify sends the merchant back to.
func (e *oauthEnv) authorize(t *testing.T, c *http.Client, shop string) string {
	t.Helper()
	resp, body := get(t, c, e.url+"/shopify/install?shop="+url.QueryEscape(shop))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("install: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, e.store.URL+"/admin/oauth/authorize?") {
		t.Fatalf("install redirects to %s", loc)
	}
	resp, body = get(t, c, loc)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

func (e *oauthEnv) shopRow(t *testing.T) (store.Shop, bool) {
	t.Helper()
	sh, err := e.db.Shop(context.Background(), oauthShop)
	if errors.Is(err, store.ErrNotFound) {
		return sh, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return sh, true
}

func TestOAuth_InstallConnectsTheShopWithSealedExpiringTokensAndSubscriptions(t *testing.T) {
	e := newOAuthEnv(t, nil)
	c := browser(t)
	before := time.Now()
	cb := e.authorize(t, c, oauthShop)
	if !strings.HasPrefix(cb, e.url+"/shopify/callback?") {
		t.Fatalf("Shopify sends the merchant to %s", cb)
	}
	resp, body := get(t, c, cb)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/app" {
		t.Fatalf("callback: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	// The merchant who installed is logged in to their shop's pages.
	if resp, body := get(t, c, e.url+"/app"); resp.StatusCode != http.StatusOK || !strings.Contains(body, oauthShop) {
		t.Fatalf("/app after install: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := get(t, browser(t), e.url+"/app"); resp.StatusCode == http.StatusOK {
		t.Fatal("another browser sees /app without logging in")
	}

	sh, ok := e.shopRow(t)
	if !ok {
		t.Fatal("no shop row after install")
	}
	tok, err := e.ring.Open(sh.TokenSealed, oauthShop)
	if err != nil || !strings.HasPrefix(string(tok), "shpua_") || !e.store.TokenValid(string(tok)) {
		t.Fatalf("stored token %q (%v) is not the granted one", tok, err)
	}
	if strings.Contains(sh.TokenSealed, string(tok)) || strings.Contains(sh.RefreshTokenSealed, "shprt_") {
		t.Fatal("a token is stored in the clear")
	}
	if _, err := e.ring.Open(sh.RefreshTokenSealed, oauthShop); err == nil {
		t.Fatal("the refresh token opens as an access token")
	}
	if rt, err := e.ring.Open(sh.RefreshTokenSealed, oauthShop+"/refresh"); err != nil || !strings.HasPrefix(string(rt), "shprt_") {
		t.Fatalf("refresh token: %q %v", rt, err)
	}
	if d := sh.TokenExpiresAt.Sub(before); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("token expires in %s, want about an hour", d)
	}
	if d := sh.RefreshExpiresAt.Sub(before); d < 89*24*time.Hour {
		t.Fatalf("refresh token expires in %s", d)
	}
	if sh.Scopes != "read_orders,read_fulfillments,read_customers,read_products" || sh.InstalledAt.IsZero() {
		t.Fatalf("grant %+v", sh.Grant)
	}
	if !reflect.DeepEqual(sh.Settings, store.DefaultSettings(oauthShop)) {
		t.Fatalf("a new shop gets %+v", sh.Settings)
	}

	subs := e.store.Subscriptions()
	if len(subs) != len(shopify.SubscriptionFields) {
		t.Fatalf("%d subscriptions: %+v", len(subs), subs)
	}
	for _, s := range subs {
		var want []string
		for topic, fields := range shopify.SubscriptionFields {
			if shopify.GraphQLTopic(topic) == s.Topic {
				want = fields
			}
		}
		if s.URI != e.url+"/webhooks/shopify" || !slices.Equal(s.IncludeFields, want) {
			t.Errorf("subscription %+v, want fields %v", s, want)
		}
	}
	for _, secretish := range []string{string(tok), "shprt_", "code="} {
		if strings.Contains(e.logs.String(), secretish) {
			t.Errorf("logs contain %q", secretish)
		}
	}

	// Replaying the callback (state and code both spent) is refused and
	// changes nothing.
	resp, _ = get(t, c, cb)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("replayed callback: %d", resp.StatusCode)
	}
	if again, _ := e.shopRow(t); again.TokenSealed != sh.TokenSealed {
		t.Fatal("a replay changed the token")
	}
}

// appLoad is the URL the Shopify admin opens when a merchant opens the app:
// the App URL with shop, host and timestamp, signed.
func (e *oauthEnv) appLoad() string {
	q := url.Values{"shop": {oauthShop}, "host": {"YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZmpvcmQ"}, "timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}}
	return strings.Replace(signed(e.url, q, secret), "/shopify/callback?", "/shopify/install?", 1)
}

func (e *oauthEnv) sessions(t *testing.T) (n int) {
	t.Helper()
	if err := e.db.Get(&n, `SELECT count(*) FROM app_sessions`); err != nil {
		t.Fatal(err)
	}
	return n
}

// A signed app load proves that Shopify sent the request, not who holds the
// URL: it is no login. It starts Shopify's online (per-user) grant, bound
// to the browser by the state cookie, and only the browser whose staff
// member Shopify approves gets a session, once.
func TestOAuth_SignedAppLoadSignsInOnlyThroughShopifyInTheSameBrowser(t *testing.T) {
	e := newOAuthEnv(t, nil)
	installer := browser(t)
	get(t, installer, e.authorize(t, installer, oauthShop))
	if _, ok := e.shopRow(t); !ok || e.sessions(t) != 1 {
		t.Fatal("install did not connect the shop and log the installer in")
	}
	before, _ := e.shopRow(t)

	load := e.appLoad()
	merchant, leaked := browser(t), browser(t)
	var grants []string
	for name, c := range map[string]*http.Client{"the merchant's browser": merchant, "another browser with the same URL": leaked} {
		for i := 0; i < 2; i++ {
			resp, _ := get(t, c, load)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), e.store.URL+"/admin/oauth/authorize?") ||
				loc.Query().Get("grant_options[]") != "per-user" {
				t.Errorf("app load, %s: %d to %s; want Shopify's per-user grant", name, resp.StatusCode, loc)
			}
			if sessionSetCookie(resp.Header) != "" {
				t.Errorf("app load, %s: sets a session cookie", name)
			}
			if c == merchant && i == 0 {
				grants = append(grants, loc.String())
			}
		}
		if resp, _ := get(t, c, e.url+"/app"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/app after the app load alone, %s: %d, want 401", name, resp.StatusCode)
		}
	}
	if n := e.sessions(t); n != 1 {
		t.Fatalf("app loads made %d sessions", n-1)
	}
	if len(grants) != 1 {
		t.Fatal("no grant redirect for the merchant")
	}

	// Shopify approves the grant for the staff member logged in to the admin
	// in the merchant's browser, and sends that browser back.
	resp, _ := get(t, merchant, grants[0])
	cb := resp.Header.Get("Location")
	resp, _ = get(t, merchant, cb)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/app" || sessionSetCookie(resp.Header) == "" {
		t.Fatalf("sign-in callback: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := get(t, merchant, e.url+"/app"); resp.StatusCode != http.StatusOK || !strings.Contains(body, oauthShop) {
		t.Fatalf("/app after signing in: %d", resp.StatusCode)
	}
	for name, c := range map[string]*http.Client{"the merchant's browser": merchant, "another browser": leaked} {
		if resp, _ := get(t, c, cb); resp.StatusCode != http.StatusForbidden || sessionSetCookie(resp.Header) != "" {
			t.Errorf("the sign-in callback replayed in %s: %d", name, resp.StatusCode)
		}
	}
	if n := e.sessions(t); n != 2 {
		t.Errorf("%d sessions, want the installer's and the merchant's", n)
	}
	// A sign-in is no install: the shop's tokens and subscriptions stay.
	if after, _ := e.shopRow(t); after.TokenSealed != before.TokenSealed || after.RefreshTokenSealed != before.RefreshTokenSealed {
		t.Error("signing in replaced the shop's tokens")
	}
	if n := e.store.Calls("oauth/online"); n != 1 {
		t.Errorf("%d online grants exchanged, want 1", n)
	}
	// Shopify's answer names the staff member; Candor keeps none of it.
	dump := dumpTables(t, e.db) + e.logs.String()
	for _, personal := range []string{shopifytest.Staff.Email, shopifytest.Staff.FirstName, shopifytest.Staff.LastName, strconv.FormatInt(shopifytest.Staff.ID, 10)} {
		if strings.Contains(dump, personal) {
			t.Errorf("the staff member's %q is stored or logged", personal)
		}
	}

	// A shop uninstalled while the merchant was at Shopify gets no session.
	resp, _ = get(t, merchant, load)
	resp, _ = get(t, merchant, resp.Header.Get("Location"))
	cb = resp.Header.Get("Location")
	if _, err := e.db.Exec(`UPDATE shops SET access_token_sealed = '' WHERE domain = $1`, oauthShop); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, merchant, cb); resp.StatusCode != http.StatusConflict || sessionSetCookie(resp.Header) != "" {
		t.Errorf("sign-in for an uninstalled shop: %d", resp.StatusCode)
	}
	if n := e.sessions(t); n != 2 {
		t.Errorf("%d sessions after a refused sign-in", n)
	}
}

// An embedded app load carries an App Bridge session token besides the
// HMAC: that token, not the signed URL, signs the merchant in, once. The
// admin user's locale comes along: the pages are in their language.
func TestOAuth_EmbeddedAppLoadSignsInWithItsSessionTokenOnce(t *testing.T) {
	e := newOAuthEnv(t, func(s *web.Server) { s.ShopifyAPIKey = oauthAppKey })
	installer := browser(t)
	get(t, installer, e.authorize(t, installer, oauthShop))
	claims := claimsFor(oauthShop, time.Now())
	claims["aud"] = oauthAppKey
	q := url.Values{"embedded": {"1"}, "host": {"YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZmpvcmQ"}, "id_token": {sessionToken(t, "HS256", secret, claims)},
		"shop": {oauthShop}, "timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "locale": {"fr"}}
	load := strings.Replace(signed(e.url, q, secret), "/shopify/callback?", "/shopify/install?", 1)

	merchant, leaked := browser(t), browser(t)
	for i, c := range []*http.Client{merchant, leaked} {
		resp, _ := get(t, c, load)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/app?") || sessionSetCookie(resp.Header) != "" {
			t.Fatalf("embedded app load %d: %d to %q, Set-Cookie %q", i, resp.StatusCode, loc, sessionSetCookie(resp.Header))
		}
		resp, body := get(t, c, e.url+loc)
		switch {
		case c == merchant && (resp.StatusCode != http.StatusOK || !strings.Contains(body, oauthShop) || sessionSetCookie(resp.Header) == "" ||
			!strings.Contains(body, `<html lang="fr">`)):
			t.Errorf("the merchant's embedded load: %d", resp.StatusCode)
		case c == leaked && (resp.StatusCode != http.StatusUnauthorized || sessionSetCookie(resp.Header) != ""):
			t.Errorf("the same load in another browser: %d", resp.StatusCode)
		}
	}
	if n := e.sessions(t); n != 2 {
		t.Errorf("%d sessions, want the installer's and the merchant's", n)
	}
}

func TestOAuth_ReinstallKeepsSettingsAndReconnectsAnUninstalledShop(t *testing.T) {
	e := newOAuthEnv(t, nil)
	ctx := context.Background()
	c := browser(t)
	get(t, c, e.authorize(t, c, oauthShop))
	first, _ := e.shopRow(t)
	s := first.Settings
	s.Delay = 3 * 24 * time.Hour
	if err := e.db.UpdateSettings(ctx, oauthShop, s); err != nil {
		t.Fatal(err)
	}
	// app/uninstalled revokes the token (activities.RevokeToken).
	if _, err := e.db.ExecContext(ctx, `UPDATE shops SET access_token_sealed = '' WHERE domain = $1`, oauthShop); err != nil {
		t.Fatal(err)
	}
	resp, _ := get(t, c, e.authorize(t, c, oauthShop))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("reinstall: %d", resp.StatusCode)
	}
	second, _ := e.shopRow(t)
	if second.TokenSealed == "" || second.TokenSealed == first.TokenSealed || second.Delay != 3*24*time.Hour {
		t.Fatalf("after reinstall: token set %v, delay %s", second.TokenSealed != "", second.Delay)
	}
	if n := len(e.store.Subscriptions()); n != len(shopify.SubscriptionFields) {
		t.Fatalf("reinstall left %d subscriptions", n)
	}
}

// signed returns the callback URL with q signed by secret.
func signed(base string, q url.Values, key string) string {
	q.Del("hmac")
	sig, _ := shopify.SignQuery(key, q)
	q.Set("hmac", sig)
	return base + "/shopify/callback?" + q.Encode()
}

func TestOAuth_RefusesBadInputAndStoresNothing(t *testing.T) {
	e := newOAuthEnv(t, nil)
	now := strconv.FormatInt(time.Now().Unix(), 10)

	t.Run("install with a bad shop is 400", func(t *testing.T) {
		for _, s := range []string{"evil.com", "a.myshopify.com.evil.com", "", "-a.myshopify.com", "a.myshopify.com/admin", "https://a.myshopify.com"} {
			resp, body := get(t, browser(t), e.url+"/shopify/install?shop="+url.QueryEscape(s))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "myshopify.com address") {
				t.Errorf("shop %q: %d", s, resp.StatusCode)
			}
		}
		resp, _ := get(t, browser(t), e.url+"/shopify/install?shop="+strings.Repeat("a", 5000)+".myshopify.com")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("oversized query: %d", resp.StatusCode)
		}
	})

	t.Run("install from the admin checks the HMAC", func(t *testing.T) {
		q := url.Values{"shop": {oauthShop}, "timestamp": {now}, "host": {"YWRtaW4"}}
		good := signed(e.url, q, secret)
		good = strings.Replace(good, "/shopify/callback?", "/shopify/install?", 1)
		if resp, _ := get(t, browser(t), good); resp.StatusCode != http.StatusFound {
			t.Errorf("signed app load: %d", resp.StatusCode)
		}
		bad := strings.Replace(good, "shop=", "shop=x", 1)
		if resp, _ := get(t, browser(t), bad); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("tampered app load: %d", resp.StatusCode)
		}
		old := url.Values{"shop": {oauthShop}, "timestamp": {strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)}}
		stale := strings.Replace(signed(e.url, old, secret), "/shopify/callback?", "/shopify/install?", 1)
		if resp, _ := get(t, browser(t), stale); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("stale app load: %d", resp.StatusCode)
		}
	})

	t.Run("callback HMAC, shop and timestamp", func(t *testing.T) {
		c := browser(t)
		cb := e.authorize(t, c, oauthShop)
		u, _ := url.Parse(cb)
		q := u.Query()
		tampered := strings.Replace(cb, "code="+q.Get("code"), "code="+q.Get("code")+"0", 1)
		noHMAC := strings.Replace(cb, "hmac="+q.Get("hmac"), "", 1)
		otherKey := signed(e.url, u.Query(), "shpss_other_app")
		evil, evil2, stale := u.Query(), u.Query(), u.Query()
		evil.Set("shop", "evil.com")
		evil2.Set("shop", "a.myshopify.com.evil.com")
		stale.Set("timestamp", strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10))
		for name, c2 := range map[string]struct {
			url  string
			want int
		}{
			"tampered HMAC":             {tampered, http.StatusUnauthorized},
			"missing HMAC":              {noHMAC, http.StatusUnauthorized},
			"signed by another app":     {otherKey, http.StatusUnauthorized},
			"stale timestamp":           {signed(e.url, stale, secret), http.StatusUnauthorized},
			"evil.com":                  {signed(e.url, evil, secret), http.StatusBadRequest},
			"a.myshopify.com.evil.com":  {signed(e.url, evil2, secret), http.StatusBadRequest},
			"unknown state":             {signed(e.url, url.Values{"code": {"x"}, "shop": {oauthShop}, "state": {"forged"}, "timestamp": {now}}, secret), http.StatusForbidden},
			"no state":                  {signed(e.url, url.Values{"code": {"x"}, "shop": {oauthShop}, "timestamp": {now}}, secret), http.StatusForbidden},
			"repeated shop, valid HMAC": {signed(e.url, url.Values{"shop": {oauthShop, oauthShop}, "state": {q.Get("state")}, "timestamp": {now}}, secret), http.StatusUnauthorized},
		} {
			resp, _ := get(t, c, c2.url)
			if resp.StatusCode != c2.want {
				t.Errorf("%s: %d, want %d", name, resp.StatusCode, c2.want)
			}
		}
		if _, ok := e.shopRow(t); ok {
			t.Fatal("a rejected callback stored the shop")
		}
		// None of the rejections spent the state: the genuine callback,
		// in the browser that started the install, still works.
		if resp, body := get(t, c, cb); resp.StatusCode != http.StatusFound {
			t.Fatalf("genuine callback after rejections: %d %s", resp.StatusCode, body)
		}
		if _, ok := e.shopRow(t); !ok {
			t.Fatal("genuine callback stored nothing")
		}
	})
}

func TestOAuth_StateIsBoundToTheBrowserAndTheShop(t *testing.T) {
	e := newOAuthEnv(t, nil)
	// An attacker's browser completes Shopify's approval and hands the
	// callback to the merchant's browser (login CSRF).
	cb := e.authorize(t, browser(t), oauthShop)
	resp, body := get(t, browser(t), cb)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "another browser") {
		t.Fatalf("callback in another browser: %d %s", resp.StatusCode, body)
	}
	// The stand-in is oauthShop; an install started for another shop comes
	// back as oauthShop and is refused.
	c := browser(t)
	cb = e.authorize(t, c, "someone-else.myshopify.com")
	resp, body = get(t, c, cb)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "another store") {
		t.Fatalf("callback for another shop: %d %s", resp.StatusCode, body)
	}
	if _, ok := e.shopRow(t); ok {
		t.Fatal("shop stored")
	}
	if n := len(e.store.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions made for a refused install", n)
	}
}

func TestOAuth_MissingScopesOrFailedExchangeStoreNothing(t *testing.T) {
	e := newOAuthEnv(t, nil)
	c := browser(t)

	e.store.SetGrantScopes([]string{"read_orders"})
	resp, body := get(t, c, e.authorize(t, c, oauthShop))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "read_fulfillments, read_customers, read_products") {
		t.Fatalf("missing scopes: %d %s", resp.StatusCode, body)
	}
	e.store.SetGrantScopes(nil)

	e.store.FailTokenEndpoint(1, http.StatusInternalServerError)
	cb := e.authorize(t, c, oauthShop)
	resp, body = get(t, c, cb)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "Nothing was saved") {
		t.Fatalf("failed exchange: %d %s", resp.StatusCode, body)
	}
	if _, ok := e.shopRow(t); ok {
		t.Fatal("shop stored after a refused install")
	}
	if n := len(e.store.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions made for a refused install", n)
	}
	var states int
	if err := e.db.GetContext(context.Background(), &states, `SELECT count(*) FROM oauth_states`); err != nil || states != 0 {
		t.Fatalf("%d states left (%v): each callback spends its state", states, err)
	}
	// The spent state cannot be retried; a fresh install works.
	if resp, _ := get(t, c, cb); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("retried callback: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, e.authorize(t, c, oauthShop)); resp.StatusCode != http.StatusFound {
		t.Fatalf("fresh install: %d", resp.StatusCode)
	}
}

func TestOAuth_RefusesClearlyWhenNotConfigured(t *testing.T) {
	for name, cfg := range map[string]func(*web.Server){
		"SHOPIFY_API_KEY":    func(s *web.Server) { s.OAuth.APIKey = "" },
		"SHOPIFY_API_SECRET": func(s *web.Server) { s.OAuth.APISecret = "" },
		"CANDOR_PUBLIC_URL":  func(s *web.Server) { s.PublicURL = "" },
	} {
		e := newOAuthEnv(t, cfg)
		for _, path := range []string{"/shopify/install?shop=" + oauthShop, "/shopify/callback"} {
			resp, body := get(t, browser(t), e.url+path)
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, name) {
				t.Errorf("%s unset, %s: %d %s", name, path, resp.StatusCode, body)
			}
		}
	}
}

func TestOAuth_WebhooksForAJustInstalledShopAreHandedOff(t *testing.T) {
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	e := newOAuthEnv(t, func(s *web.Server) { s.Temporal, s.TemporalRetention = tc, time.Hour })
	o := shopifytest.DemoOrder(660101)
	post := func(id string) string {
		t.Helper()
		req, _ := shopifytest.WebhookRequest(e.url+"/webhooks/shopify", shopify.TopicFulfillmentCreate, oauthShop, secret, id,
			shopifytest.FulfillmentPayload(o, ""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	if got := post("wh-before-install"); !strings.Contains(got, "not connected") {
		t.Fatalf("before install: %s", got)
	}
	c := browser(t)
	get(t, c, e.authorize(t, c, oauthShop))
	// The "not connected" answer above is cached; the install must clear it.
	if got := post("wh-after-install"); got != "started" {
		t.Fatalf("right after install: %s", got)
	}
}

// An app load from the Shopify admin signed over the form-encoded query (as
// Shopify's JavaScript library signs it) is Shopify's as much as one signed
// over the decoded values; a host ending in "=" tells the two apart.
func TestOAuth_AppLoadSignedOverTheEncodedQueryIsAccepted(t *testing.T) {
	e := newOAuthEnv(t, nil)
	q := url.Values{"shop": {oauthShop}, "timestamp": {strconv.FormatInt(time.Now().Unix(), 10)},
		"host": {"YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYQ=="}}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(q.Encode())) // url.Values.Encode and URLSearchParams agree on these values
	encoded := e.url + "/shopify/install?" + q.Encode() + "&hmac=" + hex.EncodeToString(m.Sum(nil))
	if resp, _ := get(t, browser(t), encoded); resp.StatusCode != http.StatusFound {
		t.Fatalf("app load signed over the encoded query: %d", resp.StatusCode)
	}
	tampered := strings.Replace(encoded, "YQ%3D%3D", "Yg%3D%3D", 1)
	if resp, _ := get(t, browser(t), tampered); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered app load: %d", resp.StatusCode)
	}
}

// The install's pages are in the language of the request: Shopify's locale
// parameter, else the browser's Accept-Language; English otherwise.
func TestApp_InstallPagesInTheRequestsLanguage(t *testing.T) {
	e := newOAuthEnv(t, nil)
	resp, body := get(t, browser(t), e.url+"/shopify/install?locale=pt-BR&shop=evil.com")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `<html lang="pt-BR">`) ||
		!strings.Contains(body, "<h1>Esse não é um endereço de loja da Shopify</h1>") ||
		!strings.Contains(body, "Digite o endereço myshopify.com da loja") {
		t.Errorf("bad shop with locale=pt-BR: %d %s", resp.StatusCode, body)
	}

	cb := e.authorize(t, browser(t), oauthShop)
	req, _ := http.NewRequest(http.MethodGet, cb, nil)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	r, err := browser(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if want := "Die Installation wurde in einem anderen Browser gestartet. Starte die Installation erneut im selben Browser."; r.StatusCode != http.StatusForbidden ||
		!strings.Contains(string(b), `<html lang="de">`) || !strings.Contains(string(b), "<h1>Dieser Installationslink ist ungültig</h1>") ||
		!strings.Contains(string(b), want) {
		t.Errorf("callback in another browser, in German: %d %s", r.StatusCode, b)
	}

	resp, body = get(t, browser(t), e.url+"/shopify/install?shop=evil.com")
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "That is not a Shopify store address") {
		t.Errorf("bad shop without a language: %s", body)
	}
}
