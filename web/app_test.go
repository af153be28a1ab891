package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
)

const (
	appKey    = "app-api-key-1234"
	appSecret = "app-api-secret-5678"
	otherShop = "rival.myshopify.com"
)

type appEnv struct {
	db      *store.DB
	ring    *keys.Ring
	url     string
	mail    *sendgridtest.Server
	shopify *shopifytest.Store
	logs    *bytes.Buffer
	// replica serves the same pages from another process's memory (a
	// second `candor serve`) on the same database, and returns its URL.
	replica func() string
}

// appSender is Candor's sender, on the domain the SendGrid stand-in's
// account authenticated.
const appSender = "reviews@mail.candor.test"

func newAppEnv(t *testing.T) *appEnv { return newAppEnvAt(t, "http://candor.test") }

// newAppEnvAt serves the pages as if from publicURL (which decides the
// cookies' Secure and SameSite).
func newAppEnvAt(t *testing.T, publicURL string) *appEnv {
	t.Helper()
	return newAppEnvFrom(t, publicURL, appSender)
}

// newAppEnvFrom is newAppEnvAt with the Mailer's sender.
func newAppEnvFrom(t *testing.T, publicURL, sender string) *appEnv {
	t.Helper()
	db, _ := storetest.New(t)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	for _, s := range []string{shop, otherShop} {
		sealed, _ := ring.Seal([]byte("shpat_x"), s)
		if err := db.AddShop(context.Background(), store.Shop{Domain: s, TokenSealed: sealed, Settings: store.DefaultSettings(s)}); err != nil {
			t.Fatal(err)
		}
	}
	mail := sendgridtest.New("SG.app-test")
	t.Cleanup(mail.Close)
	mail.AuthenticateDomain("mail.candor.test")
	sh := shopifytest.New("shpat_x", config.ShopifyAPIVersion)
	t.Cleanup(sh.Close)
	sh.Shop, sh.PrimaryDomain = shop, "linenandwool.example"
	sh.ShopEmail, sh.ContactEmail = "owner.qx@linenandwool.example", "hello.qx@linenandwool.example"
	e := &appEnv{db: db, ring: ring, mail: mail, shopify: sh, logs: &bytes.Buffer{}}
	e.replica = func() string {
		srv := &web.Server{DB: db, Keys: ring, ShopifySecret: appSecret, ShopifyAPIKey: appKey,
			Logger: slog.New(slog.NewTextHandler(e.logs, nil)), TemporalRetention: 24 * time.Hour,
			Mailer: sendgrid.New(mail.Key, mail.URL, sendgrid.From(sender)), PublicURL: publicURL,
			Shopify: shopify.AdminConfig{APIVersion: config.ShopifyAPIVersion, BaseURL: sh.URL}}
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		return hs.URL
	}
	e.url = e.replica()
	return e
}

// browser is a client with a cookie jar that does not follow redirects, so
// tests see each step.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values, header http.Header) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login uses a fresh login link for s and returns the logged-in client and
// the CSRF token of its session.
func (e *appEnv) login(t *testing.T, s string) (*http.Client, string) {
	t.Helper()
	c := browser(t)
	tok := web.LoginLink(e.ring, s, 15*time.Minute, time.Now())
	status, h, _ := e.useLoginLink(t, c, tok)
	if status != http.StatusSeeOther || h.Get("Location") != "/app" {
		t.Fatalf("login: %d, Location %q", status, h.Get("Location"))
	}
	status, _, body := do(t, c, "GET", e.url+"/app", nil, nil)
	m := csrfRe.FindStringSubmatch(body)
	if status != 200 || m == nil {
		t.Fatalf("overview after login: %d\n%s", status, body)
	}
	return c, m[1]
}

// useLoginLink opens the login link's page in browser c and presses its
// button, as a merchant does.
func (e *appEnv) useLoginLink(t *testing.T, c *http.Client, tok string) (int, http.Header, string) {
	t.Helper()
	status, _, body := do(t, c, "GET", e.url+"/app/login?token="+tok, nil, nil)
	m := csrfRe.FindStringSubmatch(body)
	if status != 200 || m == nil || !strings.Contains(body, "Log in to ") {
		t.Fatalf("login page: %d\n%s", status, body)
	}
	return do(t, c, "POST", e.url+"/app/login", url.Values{"token": {tok}, "csrf": {m[1]}}, nil)
}

func TestApp_LoginLinkIsSingleUseAndSetsAStrictCookie(t *testing.T) {
	e := newAppEnv(t)
	c := browser(t)
	tok := web.LoginLink(e.ring, shop, 15*time.Minute, time.Now())
	// Looking at the link (a mail scanner, a chat preview) does not use it.
	for i := 0; i < 2; i++ {
		if status, _, _ := do(t, c, "GET", e.url+"/app/login?token="+tok, nil, nil); status != 200 {
			t.Fatalf("GET login link: %d", status)
		}
	}
	status, h, _ := e.useLoginLink(t, c, tok)
	if status != http.StatusSeeOther {
		t.Fatalf("POST login: %d", status)
	}
	cookie := sessionSetCookie(h)
	for _, want := range []string{"candor_session=", "Path=/app", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	// Only a hash of the cookie's token is stored.
	raw := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "candor_session=")
	var stored []string
	if err := e.db.Select(&stored, `SELECT token_hash FROM app_sessions`); err != nil || len(stored) != 1 {
		t.Fatalf("sessions %v, %v", stored, err)
	}
	if strings.Contains(stored[0], raw) || raw == "" {
		t.Errorf("session stored as %q, the cookie token is %q", stored[0], raw)
	}

	// Used up, whichever browser tries again.
	for _, again := range []*http.Client{c, browser(t)} {
		if status, _, body := do(t, again, "POST", e.url+"/app/login", url.Values{"token": {tok}}, nil); status != http.StatusGone || !strings.Contains(body, "already used") {
			t.Errorf("second use: %d\n%s", status, body)
		}
	}
	expired := web.LoginLink(e.ring, shop, -time.Minute, time.Now())
	if status, _, _ := do(t, browser(t), "GET", e.url+"/app/login?token="+expired, nil, nil); status != http.StatusGone {
		t.Errorf("expired link: %d, want 410", status)
	}
	if status, _, _ := do(t, browser(t), "POST", e.url+"/app/login", url.Values{"token": {expired}}, nil); status != http.StatusGone {
		t.Errorf("expired link POST: %d, want 410", status)
	}
	for _, bad := range []string{"", "x.y", tok[:len(tok)-2] + "AA",
		// A review link is signed with the same key but is not a login link.
		e.ring.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: "rq_1", Expires: time.Now().Add(time.Hour).Unix()})} {
		if status, _, _ := do(t, browser(t), "POST", e.url+"/app/login", url.Values{"token": {bad}}, nil); status != http.StatusBadRequest {
			t.Errorf("token %q: %d, want 400", bad, status)
		}
	}
	var sessions int
	_ = e.db.Get(&sessions, `SELECT count(*) FROM app_sessions`)
	if sessions != 1 {
		t.Errorf("%d sessions after one good login and many bad ones", sessions)
	}
}

// sessionSetCookie is the Set-Cookie header that sets the session cookie.
func sessionSetCookie(h http.Header) string {
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, "candor_session=") {
			return c
		}
	}
	return ""
}

// A login link's form posts only from the browser that opened the link: a
// page elsewhere that holds a link cannot log a visitor in to its shop
// (login CSRF), and a refused post does not use the link up.
func TestApp_LoginPostNeedsTheLoginPagesCSRFToken(t *testing.T) {
	e := newAppEnv(t)
	tok := web.LoginLink(e.ring, shop, 15*time.Minute, time.Now())
	opened := browser(t)
	status, h, body := do(t, opened, "GET", e.url+"/app/login?token="+tok, nil, nil)
	m := csrfRe.FindStringSubmatch(body)
	if status != 200 || m == nil {
		t.Errorf("login page: %d, no CSRF field", status)
		m = []string{"", ""}
	}
	if ck := h.Get("Set-Cookie"); !strings.Contains(ck, "candor_login=") || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
		t.Errorf("login page cookie %q", ck)
	}
	other := web.LoginLink(e.ring, shop, 15*time.Minute, time.Now())
	_, _, otherBody := do(t, opened, "GET", e.url+"/app/login?token="+other, nil, nil)
	otherCSRF := append(csrfRe.FindStringSubmatch(otherBody), "", "")[1]
	for _, tc := range []struct {
		name string
		c    *http.Client
		form url.Values
	}{
		{"no CSRF token, another browser", browser(t), url.Values{"token": {tok}}},
		{"no CSRF token, the same browser", opened, url.Values{"token": {tok}}},
		{"the page's token, another browser", browser(t), url.Values{"token": {tok}, "csrf": {m[1]}}},
		{"forged token", opened, url.Values{"token": {tok}, "csrf": {"forged"}}},
		{"another link's token", opened, url.Values{"token": {tok}, "csrf": {otherCSRF}}},
	} {
		status, h, _ := do(t, tc.c, "POST", e.url+"/app/login", tc.form, nil)
		if status != http.StatusForbidden || sessionSetCookie(h) != "" {
			t.Errorf("%s: %d, Set-Cookie %q; want 403 and no session", tc.name, status, h.Values("Set-Cookie"))
		}
	}
	var sessions, used int
	_ = e.db.Get(&sessions, `SELECT count(*) FROM app_sessions`)
	_ = e.db.Get(&used, `SELECT count(*) FROM app_login_links_used`)
	if sessions != 0 || used != 0 {
		t.Fatalf("refused posts left %d sessions and %d used links", sessions, used)
	}
	// The merchant's own browser still logs in with the unspent link.
	status, h, _ = do(t, opened, "POST", e.url+"/app/login", url.Values{"token": {tok}, "csrf": {m[1]}}, nil)
	if status != http.StatusSeeOther || sessionSetCookie(h) == "" {
		t.Fatalf("login from the page's own form: %d", status)
	}
}

func TestApp_PagesNeedALogin(t *testing.T) {
	e := newAppEnv(t)
	c := browser(t)
	for _, p := range []string{"/app", "/app/settings", "/app/requests", "/app/registry", "/app/export?format=csv", "/app/privacy"} {
		if status, _, _ := do(t, c, "GET", e.url+p, nil, nil); status != http.StatusUnauthorized {
			t.Errorf("GET %s without login: %d, want 401", p, status)
		}
	}
	c.Jar.SetCookies(mustURL(t, e.url+"/app"), []*http.Cookie{{Name: "candor_session", Value: "forged"}})
	if status, _, _ := do(t, c, "GET", e.url+"/app", nil, nil); status != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d, want 401", status)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func settingsForm(csrf string, change map[string]string) url.Values {
	f := url.Values{"csrf": {csrf}, "delay": {"7d"}, "fallback_delay": {"21d"}, "reminder": {"0"}, "email_per": {"order"},
		"max_emails": {"3"}, "product_once": {"true"}, "max_products": {"5"}, "consent_mode": {"explicit"},
		"review_url": {"https://{shop}/products/{handle}#reviews"},
		"subject":    {"How was your order {order}?"}, "window_start": {"00:00"}, "window_end": {"00:00"}, "time_zone": {""},
		"excluded_products": {""}, "excluded_tags": {""}}
	for k, v := range change {
		f.Set(k, v)
	}
	return f
}

func TestApp_SettingsFormSavesGoodValuesAndRejectsBadOnesWhole(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	ctx := context.Background()
	before, _ := e.db.Shop(ctx, shop)

	for _, tc := range []struct {
		name, field, value, msg string
	}{
		{"negative delay", "delay", "-2d", "Delays must not be negative"},
		{"not a duration", "delay", "soon", "is not a duration"},
		{"unknown time zone", "time_zone", "Mars/Olympus_Mons", "is not an IANA time zone"},
		{"invalid template", "review_url", "https://{shop}/r/{customer_email}", "unknown placeholder {customer_email}"},
		{"insecure template", "review_url", "http://{shop}/products/{handle}", "must be an https:// URL"},
		{"off-domain review URL", "review_url", "https://evil.example/products/{handle}", "must stay on your shop&#39;s own domains"},
		{"placeholder in the host", "review_url", "https://{handle}.evil.example/", "must name its host plainly"},
		{"user info in the host", "review_url", "https://judge.me@evil.example/{handle}", "must name its host plainly"},
		{"bad window", "window_start", "25:00", "is not a time of day"},
		{"bad product ID", "excluded_products", "123, abc", "is not a product ID"},
		{"subject placeholder", "subject", "Hi {first_name}", "only the placeholder {order}"},
		{"too many products per email", "max_products", "11", "1 to 10 products"},
		{"no products per email", "max_products", "0", "1 to 10 products"},
		{"products not a number", "max_products", "five", "is not a whole number"},
		{"negative email cap", "max_emails", "-1", "0 to 50 emails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Good values elsewhere in the same form must not be saved either.
			form := settingsForm(csrf, map[string]string{tc.field: tc.value, "reminder": "3d", "excluded_tags": "sample"})
			status, _, body := do(t, c, "POST", e.url+"/app/settings", form, nil)
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", status)
			}
			errID := tc.field + "-error"
			if !strings.Contains(body, `id="`+errID+`"`) || !strings.Contains(body, tc.msg) {
				t.Errorf("no error %q next to %s:\n%s", tc.msg, tc.field, body)
			}
			input := regexp.MustCompile(`<input type="text" id="f-` + tc.field + `"[^>]*>`).FindString(body)
			if !strings.Contains(input, errID) || !strings.Contains(input, `aria-invalid="true"`) {
				t.Errorf("the field is not tied to its error: %s", input)
			}
			if !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "Nothing was saved") {
				t.Error("no alert saying nothing was saved")
			}
			if !strings.Contains(body, `value="`+htmlEscape(tc.value)+`"`) {
				t.Errorf("the typed value %q is not kept in the form", tc.value)
			}
			after, _ := e.db.Shop(ctx, shop)
			if !reflect.DeepEqual(after.Settings, before.Settings) {
				t.Errorf("settings changed by a rejected form: %+v", after.Settings)
			}
		})
	}

	form := settingsForm(csrf, map[string]string{"delay": "2d", "window_start": "09:00", "window_end": "17:30",
		"time_zone": "Europe/Berlin", "excluded_products": "8801, 8803", "excluded_tags": "gift card, sample", "consent_mode": "none",
		"email_per": "shipment", "max_emails": "0", "product_once": "false", "max_products": "10"})
	status, h, _ := do(t, c, "POST", e.url+"/app/settings", form, nil)
	if status != http.StatusSeeOther || h.Get("Location") != "/app/settings?notice=saved" {
		t.Fatalf("good form: %d %s", status, h.Get("Location"))
	}
	got, _ := e.db.Shop(ctx, shop)
	want := before.Settings
	want.Delay, want.WindowStart, want.WindowEnd, want.TimeZone = 48*time.Hour, 9*60, 17*60+30, "Europe/Berlin"
	want.ExcludedProducts, want.ExcludedTags, want.ConsentMode = []int64{8801, 8803}, []string{"gift card", "sample"}, store.ConsentNone
	want.EmailPer = store.EmailPerShipment
	want.MaxEmails, want.ProductOnce, want.MaxProducts = 0, false, 10
	if !reflect.DeepEqual(got.Settings, want) {
		t.Errorf("saved %+v\nwant  %+v", got.Settings, want)
	}
	_, _, body := do(t, c, "GET", e.url+"/app/settings?notice=saved", nil, nil)
	for _, want := range []string{`value="2d"`, `value="09:00"`, `value="17:30"`, `value="Europe/Berlin"`, `value="8801, 8803"`, `role="status"`} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %s", want)
		}
	}
	other, _ := e.db.Shop(ctx, otherShop)
	if !reflect.DeepEqual(other.Settings, store.DefaultSettings(otherShop)) {
		t.Error("another shop's settings changed")
	}
}

// The consent mode is one of three; anything else is shown next to the
// choice and nothing is saved.
func TestApp_SettingsConsentModeAcceptsOnlyTheThreeModes(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	ctx := context.Background()
	before, _ := e.db.Shop(ctx, shop)
	for _, v := range []string{"", "true", "implied"} {
		status, _, body := do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, map[string]string{"consent_mode": v, "delay": "2d"}), nil)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="consent_mode-error"`) {
			t.Errorf("consent_mode %q: %d, no error next to the choice", v, status)
		}
		if after, _ := e.db.Shop(ctx, shop); !reflect.DeepEqual(after.Settings, before.Settings) {
			t.Errorf("consent_mode %q: settings changed", v)
		}
	}
	status, _, _ := do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, map[string]string{"consent_mode": "soft_opt_in"}), nil)
	if after, _ := e.db.Shop(ctx, shop); status != http.StatusSeeOther || after.ConsentMode != store.ConsentSoftOptIn {
		t.Errorf("soft opt-in: %d, saved %q", status, after.ConsentMode)
	}
}

// The multi-parcel choice is one of two; anything else is shown next to
// the choice and nothing is saved.
func TestApp_SettingsEmailPerAcceptsOnlyOrderOrShipment(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	ctx := context.Background()
	before, _ := e.db.Shop(ctx, shop)
	for _, v := range []string{"", "parcel", "order,shipment"} {
		status, _, body := do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, map[string]string{"email_per": v, "delay": "2d"}), nil)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="email_per-error"`) ||
			!strings.Contains(body, "Choose one email per order or one per shipment") {
			t.Errorf("email_per %q: %d, no error next to the choice", v, status)
		}
		if after, _ := e.db.Shop(ctx, shop); !reflect.DeepEqual(after.Settings, before.Settings) {
			t.Errorf("email_per %q: settings changed: %+v", v, after.Settings)
		}
	}
	_, _, body := do(t, c, "GET", e.url+"/app/settings", nil, nil)
	if !regexp.MustCompile(`<input type="radio" id="f-email_per" name="email_per" value="order" checked>`).MatchString(body) {
		t.Error("the default, one email per order, is not the checked choice")
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

func TestApp_FormsNeedTheSessionsCSRFToken(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	_, otherCSRF := e.login(t, shop) // a second session of the same shop
	if otherCSRF == csrf {
		t.Fatal("two sessions share a CSRF token")
	}
	for _, tok := range []string{"", "forged", otherCSRF} {
		status, _, _ := do(t, c, "POST", e.url+"/app/settings", settingsForm(tok, map[string]string{"delay": "1d"}), nil)
		if status != http.StatusForbidden {
			t.Errorf("CSRF %q: %d, want 403", tok, status)
		}
	}
	if s, _ := e.db.Shop(context.Background(), shop); s.Delay != store.DefaultSettings(shop).Delay {
		t.Error("a form without the session's CSRF token was saved")
	}
	status, _, _ := do(t, c, "POST", e.url+"/app/test-email", url.Values{"to": {"me@example.com"}}, nil)
	if status != http.StatusForbidden || len(e.mail.Outbox()) != 0 {
		t.Errorf("test email without CSRF: %d, %d emails", status, len(e.mail.Outbox()))
	}
}

// sessionToken makes an App Bridge session token as Shopify signs it.
func sessionToken(t *testing.T, alg, secret string, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// claimsFor are the claims of a new session token for shop s: each has its
// own jti, as Shopify's do.
func claimsFor(s string, now time.Time) map[string]any {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	return map[string]any{"iss": "https://" + s + "/admin", "dest": "https://" + s, "aud": appKey, "sub": "42",
		"exp": now.Add(time.Minute).Unix(), "nbf": now.Add(-time.Second).Unix(), "iat": now.Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti), "sid": "s1"}
}

func TestApp_AppBridgeSessionTokens(t *testing.T) {
	e := newAppEnv(t)
	now := time.Now()
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	good := sessionToken(t, "HS256", appSecret, claimsFor(shop, now))
	status, _, body := do(t, browser(t), "GET", e.url+"/app", nil, bearer(good))
	if status != 200 || !strings.Contains(body, shop) {
		t.Fatalf("good token: %d", status)
	}
	with := func(k string, v any) map[string]any {
		c := claimsFor(shop, now)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name string
		tok  string
	}{
		{"alg none", sessionToken(t, "none", appSecret, claimsFor(shop, now))},
		{"HS512 label", sessionToken(t, "HS512", appSecret, claimsFor(shop, now))},
		{"wrong secret", sessionToken(t, "HS256", "another-secret", claimsFor(shop, now))},
		{"expired", sessionToken(t, "HS256", appSecret, with("exp", now.Add(-time.Minute).Unix()))},
		{"no exp", sessionToken(t, "HS256", appSecret, with("exp", nil))},
		{"not yet valid", sessionToken(t, "HS256", appSecret, with("nbf", now.Add(time.Minute).Unix()))},
		{"other app", sessionToken(t, "HS256", appSecret, with("aud", "someone-else"))},
		{"iss and dest differ", sessionToken(t, "HS256", appSecret, with("iss", "https://"+otherShop+"/admin"))},
		{"dest not a shop", sessionToken(t, "HS256", appSecret, with("dest", "https://evil.com"))},
		{"dest lookalike", sessionToken(t, "HS256", appSecret, with("dest", "https://acme.myshopify.com.evil.com"))},
		{"unknown shop", sessionToken(t, "HS256", appSecret, claimsFor("stranger.myshopify.com", now))},
		{"no jti", sessionToken(t, "HS256", appSecret, with("jti", nil))},
		{"oversized jti", sessionToken(t, "HS256", appSecret, with("jti", strings.Repeat("j", 201)))},
		{"garbage", "a.b.c"},
		{"tampered", good[:strings.LastIndexByte(good, '.')] + ".AAAA"},
	} {
		if status, _, _ := do(t, browser(t), "GET", e.url+"/app", nil, bearer(tc.tok)); status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tc.name, status)
		}
		if status, _, _ := do(t, browser(t), "GET", e.url+"/app?id_token="+url.QueryEscape(tc.tok), nil, nil); status != http.StatusUnauthorized {
			t.Errorf("%s as id_token: %d, want 401", tc.name, status)
		}
	}
	// Shopify's embedded load: id_token in the query serves the page and
	// starts a cookie session for the page's forms.
	c := browser(t)
	load := sessionToken(t, "HS256", appSecret, claimsFor(shop, now))
	status, h, body := do(t, c, "GET", e.url+"/app?embedded=1&id_token="+load, nil, nil)
	if status != 200 || !strings.Contains(h.Get("Set-Cookie"), "candor_session=") || !strings.Contains(body, shop) {
		t.Fatalf("embedded load: %d, Set-Cookie %q", status, h.Get("Set-Cookie"))
	}
	csrf := csrfRe.FindStringSubmatch(body)[1]
	if status, _, _ := do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, map[string]string{"delay": "1d"}), nil); status != http.StatusSeeOther {
		t.Errorf("form after an embedded load: %d", status)
	}
	// A bearer token for one shop reads only that shop.
	otherTok := sessionToken(t, "HS256", appSecret, claimsFor(otherShop, now))
	_, _, body = do(t, browser(t), "GET", e.url+"/app", nil, bearer(otherTok))
	if !strings.Contains(body, otherShop) || strings.Contains(body, shop+"<") {
		t.Errorf("other shop's token shows the wrong shop")
	}
}

// A session token works once, on any replica: a leaked embedded-load URL
// or a captured Authorization header gives nobody a session or a page.
func TestApp_SessionTokenIsAcceptedOnce(t *testing.T) {
	e := newAppEnv(t)
	other := e.replica() // a second serve process on the same database
	sessions := func() (n int) {
		t.Helper()
		if err := e.db.Get(&n, `SELECT count(*) FROM app_sessions`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The embedded app load, as Shopify makes it.
	idt := sessionToken(t, "HS256", appSecret, claimsFor(shop, time.Now()))
	load := "/app?embedded=1&shop=" + shop + "&id_token=" + idt
	merchant := browser(t)
	if status, h, _ := do(t, merchant, "GET", e.url+load, nil, nil); status != 200 || sessionSetCookie(h) == "" {
		t.Fatalf("embedded load: %d", status)
	}
	for name, base := range map[string]string{"same server": e.url, "another replica": other} {
		status, h, body := do(t, browser(t), "GET", base+load, nil, nil)
		if status != http.StatusUnauthorized || sessionSetCookie(h) != "" || strings.Contains(body, "Send me a test email") {
			t.Errorf("the load URL replayed in another browser, %s: %d, Set-Cookie %q", name, status, sessionSetCookie(h))
		}
	}
	if n := sessions(); n != 1 {
		t.Errorf("%d sessions from one session token", n)
	}
	// The merchant's own browser, going back in the frame, keeps its session.
	if status, h, _ := do(t, merchant, "GET", e.url+load, nil, nil); status != 200 || sessionSetCookie(h) != "" {
		t.Errorf("the merchant's browser repeating its load: %d, Set-Cookie %q", status, sessionSetCookie(h))
	}

	// As a bearer token, likewise once.
	bearer := http.Header{"Authorization": {"Bearer " + sessionToken(t, "HS256", appSecret, claimsFor(shop, time.Now()))}}
	if status, _, _ := do(t, browser(t), "GET", e.url+"/app", nil, bearer); status != 200 {
		t.Fatalf("bearer token: %d", status)
	}
	for name, base := range map[string]string{"same server": e.url, "another replica": other} {
		if status, _, body := do(t, browser(t), "GET", base+"/app", nil, bearer); status != http.StatusUnauthorized || strings.Contains(body, "Send me a test email") {
			t.Errorf("bearer token replayed, %s: %d", name, status)
		}
		if status, _, _ := do(t, browser(t), "POST", base+"/app/settings", settingsForm("", map[string]string{"delay": "1d"}), bearer); status != http.StatusUnauthorized {
			t.Errorf("bearer token replayed on a form, %s: %d", name, status)
		}
	}
	if s, _ := e.db.Shop(context.Background(), shop); s.Delay != store.DefaultSettings(shop).Delay {
		t.Error("a replayed bearer token changed the settings")
	}
	// A spent jti is kept no longer than its token could be used.
	var kept []time.Time
	if err := e.db.Select(&kept, `SELECT expires_at FROM app_session_tokens_used`); err != nil || len(kept) != 2 {
		t.Fatalf("used tokens %v, %v", kept, err)
	}
	for _, exp := range kept {
		if exp.After(time.Now().Add(2 * time.Minute)) {
			t.Errorf("a used token's jti is kept until %s", exp)
		}
	}
}

func (e *appEnv) addRequest(t *testing.T, s string, orderID int64, name, status, reason string, products ...store.Product) {
	t.Helper()
	ctx := context.Background()
	rid := e.ring.RequestID(s, orderID)
	if err := e.db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := store.CreateRequest(ctx, tx, store.Request{RequestID: rid, Shop: s, OrderID: orderID, OrderName: name, ExpiresAt: time.Now().Add(time.Hour)}, products)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if status == store.StatusScheduled {
		if err := store.SetSendAt(ctx, e.db, rid, time.Date(2030, 6, 1, 7, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := e.db.Exec(`UPDATE review_requests SET status = $2, reason = $3, subject = $4 WHERE request_id = $1`,
		rid, status, reason, e.ring.Subject(s, 7_000_001)); err != nil {
		t.Fatal(err)
	}
}

func TestApp_RecentRequestsShowOwnShopOnlyAndNoCustomerData(t *testing.T) {
	e := newAppEnv(t)
	e.addRequest(t, shop, 1001, "#1001", store.StatusScheduled, "", store.Product{ID: 8801, Title: "Linen Shirt"})
	e.addRequest(t, shop, 1002, "#1002", store.StatusSkipped, "unsubscribed", store.Product{ID: 8802, Title: "Wool Socks"})
	e.addRequest(t, shop, 1003, "#1003", store.StatusSkipped, "excluded", store.Product{ID: 8803, Title: "Canvas Tote"})
	e.addRequest(t, shop, 1004, "#1004", store.StatusSentUnconfirmed, string(review.ReasonOutcomeUnknown), store.Product{ID: 8804, Title: "Felt Slippers"})
	e.addRequest(t, otherShop, 2001, "#R-2001", store.StatusSent, "", store.Product{ID: 1, Title: "Rival Thing"})
	if err := e.db.UpdateSettings(context.Background(), shop, func() store.Settings {
		s := store.DefaultSettings(shop)
		s.TimeZone = "Europe/Berlin"
		return s
	}()); err != nil {
		t.Fatal(err)
	}
	c, _ := e.login(t, shop)
	var before int
	_ = e.db.Get(&before, `SELECT count(*) FROM registry_entries`)
	status, _, body := do(t, c, "GET", e.url+"/app/requests", nil, nil)
	if status != 200 {
		t.Fatalf("requests page: %d", status)
	}
	for _, want := range []string{"#1001", "Linen Shirt", "scheduled", "planned for 1 Jun 2030 09:00 CEST",
		"#1002", "skipped: customer unsubscribed", "#1003", "skipped: all products excluded",
		"#1004", "sent, unconfirmed: SendGrid may have accepted it but never confirmed; it is not sent again"} {
		if !strings.Contains(body, want) {
			t.Errorf("requests page lacks %q", want)
		}
	}
	for _, never := range []string{"#R-2001", "Rival Thing", e.ring.Subject(shop, 7_000_001), "7000001", "1001</td>", e.ring.RequestID(shop, 1001)} {
		if strings.Contains(body, never) {
			t.Errorf("requests page shows %q", never)
		}
	}
	var after int
	_ = e.db.Get(&after, `SELECT count(*) FROM registry_entries`)
	if after != before {
		t.Errorf("viewing requests wrote %d registry entries; it shows no personal data and must write none", after-before)
	}
}

// The test email goes only to the shop's own owner or contact address, as
// Shopify has it now: no address typed into the form is ever mailed.
func TestApp_TestEmailGoesOnlyToTheShopsOwnAddressesAndIsRecordedNotLogged(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	for _, bad := range []string{"", "stranger.qx@example.org", "Me <me@example.com>", "owner,contact", "OWNER"} {
		status, _, body := do(t, c, "POST", e.url+"/app/test-email", url.Values{"csrf": {csrf}, "to": {bad}}, nil)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "owner or contact address") {
			t.Errorf("to %q: %d", bad, status)
		}
	}
	if n := e.mail.Sent(); n != 0 {
		t.Fatalf("%d emails after choices that are not the shop's addresses", n)
	}
	for _, tc := range []struct{ which, to string }{{web.TestToOwner, e.shopify.ShopEmail}, {web.TestToContact, e.shopify.ContactEmail}} {
		before := len(e.mail.Outbox())
		status, h, _ := do(t, c, "POST", e.url+"/app/test-email", url.Values{"csrf": {csrf}, "to": {tc.which}}, nil)
		if status != http.StatusSeeOther || h.Get("Location") != "/app?notice=test-sent" {
			t.Fatalf("test email to %s: %d %s", tc.which, status, h.Get("Location"))
		}
		out := e.mail.Outbox()
		if len(out) != before+1 || !reflect.DeepEqual(out[before].To, []string{tc.to}) {
			t.Fatalf("test email to %s went to %v, want the shop's %s", tc.which, out[len(out)-1].To, tc.to)
		}
	}
	m := e.mail.Outbox()[0]
	if m.From != appSender || m.FromName != e.shopify.ShopName || m.ReplyTo != e.shopify.ContactEmail ||
		m.Subject != "[Test] How was your order #TEST-1001?" || !strings.Contains(m.Text, "https://"+shop+"/products/sample-product#reviews") {
		t.Errorf("test email does not show the shop's settings: from %q <%s>, reply-to %s, subject %q\n%s", m.FromName, m.From, m.ReplyTo, m.Subject, m.Text)
	}
	var entries []registry.Entry
	if err := e.db.Select(&entries, `SELECT * FROM registry_entries WHERE shop = $1 AND ref = $2 ORDER BY seq`, shop, m.CustomArgs[sendgrid.CustomArgRequestID]); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].System != registry.SystemShopify || entries[0].Action != registry.ActionRead ||
		entries[1].System != registry.SystemSendGrid || entries[1].Action != registry.ActionTransmitted || entries[1].Subject != "" ||
		!strings.HasPrefix(entries[1].Ref, "test_") {
		t.Errorf("registry entries for the test email: %+v", entries)
	}
	for _, addr := range []string{e.shopify.ShopEmail, e.shopify.ContactEmail} {
		if strings.Contains(e.logs.String(), addr) {
			t.Errorf("%s was logged", addr)
		}
	}
	// A shop with no contact address in Shopify gets a clear answer and no email.
	e.shopify.EditShop(func(s *shopifytest.Store) { s.ContactEmail = "" })
	sent := e.mail.Sent()
	if status, _, body := do(t, c, "POST", e.url+"/app/test-email", url.Values{"csrf": {csrf}, "to": {web.TestToContact}}, nil); status != http.StatusUnprocessableEntity || !strings.Contains(body, "no such address") {
		t.Errorf("no contact address: %d", status)
	}
	// A few an hour, then a clear refusal and nothing sent.
	for i := 2; i < web.TestEmailsPerHour; i++ {
		if status, _, _ := do(t, c, "POST", e.url+"/app/test-email", url.Values{"csrf": {csrf}, "to": {web.TestToOwner}}, nil); status != http.StatusSeeOther {
			t.Fatalf("test email %d: %d", i+1, status)
		}
	}
	status, _, body := do(t, c, "POST", e.url+"/app/test-email", url.Values{"csrf": {csrf}, "to": {web.TestToOwner}}, nil)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "try again later") {
		t.Errorf("test email over the limit: %d", status)
	}
	if n := e.mail.Sent(); n != web.TestEmailsPerHour || sent != 2 {
		t.Errorf("%d test emails sent, want %d", n, web.TestEmailsPerHour)
	}
	var dump string
	_ = e.db.Get(&dump, `SELECT string_agg(t::text, ' ') FROM (SELECT * FROM registry_entries) t`)
	if strings.Contains(dump, e.shopify.ShopEmail) {
		t.Error("the address is in the registry")
	}
}

// A shop cannot choose its From address: a "sender" in the settings form is
// ignored, and the test email still comes from Candor's sender.
func TestApp_ASenderInTheSettingsFormIsIgnored(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	form := settingsForm(csrf, map[string]string{"sender": "ceo@bank.example"})
	if status, _, _ := do(t, c, "POST", e.url+"/app/settings", form, nil); status != http.StatusSeeOther {
		t.Fatalf("settings: %d", status)
	}
	_, _, page := do(t, c, "GET", e.url+"/app/settings", nil, nil)
	if strings.Contains(page, `name="sender"`) || strings.Contains(page, "ceo@bank.example") {
		t.Error("the settings page still offers a sender address")
	}
	if status, _, _ := do(t, c, "POST", e.url+"/app/test-email", url.Values{"csrf": {csrf}, "to": {web.TestToOwner}}, nil); status != http.StatusSeeOther {
		t.Fatalf("test email: %d", status)
	}
	if out := e.mail.Outbox(); len(out) != 1 || out[0].From != appSender {
		t.Fatalf("test email from %+v, want %s", out, appSender)
	}
}

// A review destination on the shop's primary domain is checked against the
// domains Shopify reports now; any other site is refused and nothing saved.
func TestApp_ReviewDestinationOnTheShopsOwnDomainIsCheckedWithShopify(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	ctx := context.Background()
	calls := e.shopify.Calls("CandorShopProfile")
	form := settingsForm(csrf, map[string]string{"review_url": "https://linenandwool.example/products/{handle}#reviews"})
	if status, _, body := do(t, c, "POST", e.url+"/app/settings", form, nil); status != http.StatusSeeOther {
		t.Fatalf("primary domain: %d\n%s", status, body)
	}
	if got, _ := e.db.Shop(ctx, shop); got.ReviewURL != "https://linenandwool.example/products/{handle}#reviews" {
		t.Fatalf("review URL = %q", got.ReviewURL)
	}
	if e.shopify.Calls("CandorShopProfile") != calls+1 {
		t.Error("the shop's domains were not read from Shopify")
	}
	// The merchant moves the store to another domain in Shopify: the old
	// one no longer passes.
	e.shopify.EditShop(func(s *shopifytest.Store) { s.PrimaryDomain = "newname.example" })
	form = settingsForm(csrf, map[string]string{"review_url": "https://linenandwool.example/products/{handle}#reviews", "delay": "3d"})
	if status, _, body := do(t, c, "POST", e.url+"/app/settings", form, nil); status != http.StatusUnprocessableEntity || !strings.Contains(body, "linenandwool.example is neither") {
		t.Errorf("a domain Shopify no longer reports: %d", status)
	}
	if got, _ := e.db.Shop(ctx, shop); got.Delay == 3*24*time.Hour {
		t.Error("a refused form was saved")
	}
	// Shopify unreachable: nothing is saved, and the page says why.
	e.shopify.FailNext(1, http.StatusServiceUnavailable, "")
	form = settingsForm(csrf, map[string]string{"review_url": "https://newname.example/products/{handle}", "delay": "3d"})
	if status, _, body := do(t, c, "POST", e.url+"/app/settings", form, nil); status != http.StatusServiceUnavailable || !strings.Contains(body, "Nothing was saved") {
		t.Errorf("Shopify down: %d", status)
	}
	if got, _ := e.db.Shop(ctx, shop); got.Delay == 3*24*time.Hour {
		t.Error("saved without Shopify's word")
	}
}

// SendGrid's refusal of the sender shows on /app once, however many requests
// it failed, until an email goes out again; a test email refused the same way
// says so too.
func TestApp_OverviewShowsTheSenderRefusalOnce(t *testing.T) {
	unverified := "reviews@" + shop // not a Sender Identity of the stand-in's account
	e := newAppEnvFrom(t, "http://candor.test", unverified)
	c, csrf := e.login(t, shop)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if _, err := e.db.ExecContext(ctx, `INSERT INTO review_requests (request_id, shop, order_id, order_name, products, status, reason, expires_at)
			VALUES ($1, $2, $3, $4, '[]', 'failed', $5, now() + interval '1 day')`, fmt.Sprintf("rq_refused%d", i), shop, i, fmt.Sprintf("#%d", 1000+i), review.ReasonSenderUnverified); err != nil {
			t.Fatal(err)
		}
	}
	_, _, body := do(t, c, "GET", e.url+"/app", nil, nil)
	if n := strings.Count(body, "SendGrid refused to send as "+unverified); n != 1 {
		t.Errorf("the refusal is shown %d times, want once:\n%s", n, body)
	}
	if !strings.Contains(body, "3 review requests") || !strings.Contains(body, "not retried") {
		t.Errorf("the refusal does not say how many and that they are not retried:\n%s", body)
	}
	oc, _ := e.login(t, otherShop)
	if _, _, other := do(t, oc, "GET", e.url+"/app", nil, nil); strings.Contains(other, "SendGrid refused") {
		t.Error("another shop sees the refusal")
	}
	// An email that goes out afterwards clears it.
	if _, err := e.db.ExecContext(ctx, `INSERT INTO review_requests (request_id, shop, order_id, order_name, products, status, sent_at, expires_at)
		VALUES ('rq_sentlater', $1, 99, '#1099', '[]', 'sent', now() + interval '1 second', now() + interval '1 day')`, shop); err != nil {
		t.Fatal(err)
	}
	if _, _, body = do(t, c, "GET", e.url+"/app", nil, nil); strings.Contains(body, "SendGrid refused") {
		t.Error("the refusal is still shown after an email went out")
	}
	// The test email, refused for the sender, says what happened.
	status, _, body := do(t, c, "POST", e.url+"/app/test-email", url.Values{"csrf": {csrf}, "to": {web.TestToOwner}}, nil)
	if status != http.StatusBadGateway || !strings.Contains(body, "SendGrid refused to send as "+unverified) {
		t.Errorf("refused test email: %d\n%s", status, body)
	}
	if n := e.mail.Sent(); n != 0 {
		t.Errorf("%d emails accepted from an unverified sender", n)
	}
}
func TestApp_RegistryExportIsTheOwnShopsSignedAndRecorded(t *testing.T) {
	e := newAppEnv(t)
	ctx := context.Background()
	for _, s := range []string{shop, otherShop} {
		if err := e.db.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := registry.Append(ctx, tx, time.Now(), registry.Entry{Shop: s, Subject: e.ring.Subject(s, 1),
				Datum: registry.DatumEmail, System: registry.SystemSendGrid, Action: registry.ActionTransmitted,
				Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent, ExpiresAt: time.Now().Add(time.Hour), Ref: "rq_" + s[:4]})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := e.login(t, shop)
	status, h, body := do(t, c, "GET", e.url+"/app/export?format=csv", nil, nil)
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %s", status, h.Get("Content-Type"))
	}
	if strings.Contains(body, otherShop) || !strings.Contains(body, shop) {
		t.Errorf("export is not scoped to the shop:\n%s", body)
	}
	id := h.Get("Candor-Export-Id")
	status, _, sig := do(t, c, "GET", e.url+"/app/exports/"+id+"/signature", nil, nil)
	if status != 200 || !strings.Contains(sig, id) {
		t.Fatalf("signature: %d %s", status, sig)
	}
	var recorded int
	_ = e.db.Get(&recorded, `SELECT count(*) FROM registry_entries WHERE ref = $1 AND purpose = 'audit' AND shop = $2`, id, shop)
	if recorded != 1 {
		t.Errorf("the export was recorded %d times, want once", recorded)
	}
	if _, _, page := do(t, c, "GET", e.url+"/app/registry", nil, nil); !strings.Contains(page, id+".sig") {
		t.Error("the registry page does not list the download's signature")
	}
	// Another shop's merchant cannot fetch this shop's signature.
	rival, _ := e.login(t, otherShop)
	if status, _, _ := do(t, rival, "GET", e.url+"/app/exports/"+id+"/signature", nil, nil); status != http.StatusNotFound {
		t.Errorf("other shop fetched the signature: %d", status)
	}
	if status, _, _ := do(t, c, "GET", e.url+"/app/export?format=xml", nil, nil); status != http.StatusBadRequest {
		t.Errorf("unknown format: %d", status)
	}
}

// Inside the Shopify admin's iframe a SameSite=Lax cookie is a third-party
// cookie and is dropped; an embedded session's cookie is SameSite=None and
// Partitioned (sent only within the admin's frame), a login link's stays Lax.
func TestApp_EmbeddedSessionCookieWorksInTheAdminFrame(t *testing.T) {
	e := newAppEnvAt(t, "https://candor.example.com")
	good := sessionToken(t, "HS256", appSecret, claimsFor(shop, time.Now()))
	status, h, _ := do(t, browser(t), "GET", e.url+"/app?embedded=1&id_token="+good, nil, nil)
	ck := h.Get("Set-Cookie")
	if status != 200 {
		t.Fatalf("embedded load: %d", status)
	}
	for _, want := range []string{"Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/app"} {
		if !strings.Contains(ck, want) {
			t.Errorf("embedded session cookie %q lacks %s", ck, want)
		}
	}
	c := browser(t)
	tok := web.LoginLink(e.ring, shop, 15*time.Minute, time.Now())
	_, h, _ = e.useLoginLink(t, c, tok)
	if ck := sessionSetCookie(h); !strings.Contains(ck, "SameSite=Lax") || !strings.Contains(ck, "Secure") || strings.Contains(ck, "Partitioned") {
		t.Errorf("login-link session cookie %q: want Secure, SameSite=Lax, not partitioned", ck)
	}
}

func TestApp_PrivacyPageShowsOneCustomersEvidenceOfItsOwnShop(t *testing.T) {
	e := newAppEnv(t)
	ctx := context.Background()
	subject := e.ring.Subject(shop, 4242)
	redact := store.PrivacyRequest{ID: "pr_app_redact"}
	addPrivacyRequest(t, e.db, redact.ID, store.KindCustomerRedact, shop, subject,
		store.Receipt{System: "sendgrid", Asked: "erase the address", Verified: "suppression lists read back"})
	rival := store.PrivacyRequest{ID: "pr_rival"}
	addPrivacyRequest(t, e.db, rival.ID, store.KindCustomerRedact, otherShop, e.ring.Subject(otherShop, 4242),
		store.Receipt{System: "sendgrid", Asked: "rival asked", Verified: "rival verified"})
	c, _ := e.login(t, shop)

	status, _, body := do(t, c, "GET", e.url+"/app/privacy", nil, nil)
	if status != 200 || !strings.Contains(body, redact.ID) || strings.Contains(body, rival.ID) || strings.Contains(body, "suppression lists read back") {
		t.Fatalf("privacy page without a lookup: %d\n%s", status, body)
	}
	status, _, body = do(t, c, "GET", e.url+"/app/privacy?customer_id=4242", nil, nil)
	for _, want := range []string{"Erasure " + redact.ID, "erase the address", "suppression lists read back", subject} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("lookup: %d, page lacks %q", status, want)
		}
	}
	for _, never := range []string{"rival verified", "sealed-address", "987654321"} {
		if strings.Contains(body, never) {
			t.Errorf("lookup shows %q", never)
		}
	}
	var reads int
	if err := e.db.GetContext(ctx, &reads, `SELECT count(*) FROM registry_entries WHERE shop = $1 AND subject = $2 AND action = 'read' AND purpose = 'audit'`,
		shop, subject); err != nil || reads != 1 {
		t.Errorf("%d lookups recorded, want 1 (%v)", reads, err)
	}
	status, _, body = do(t, c, "GET", e.url+"/app/privacy?customer_id=42x", nil, nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "customer ID is the number") {
		t.Errorf("bad customer ID: %d", status)
	}
	status, _, body = do(t, c, "GET", e.url+"/app/privacy?customer_id=5555", nil, nil)
	if status != 200 || !strings.Contains(body, "No erasure or data request for this customer") {
		t.Errorf("unknown customer: %d", status)
	}
}

// TestApp_SettingsRefuseATimingLongerThanTheRequestsPeriod: a 45-day
// fallback does not fit in a 30-day review_requests period (a waiting
// request would pass its expiry). Whichever changes second is refused next
// to its field, and nothing in the form is saved; changing both together is
// checked as one.
func TestApp_SettingsRefuseATimingLongerThanTheRequestsPeriod(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	ctx := context.Background()
	period := func() time.Duration {
		t.Helper()
		ov, err := e.db.Overrides(ctx, shop)
		if err != nil {
			t.Fatal(err)
		}
		return ov.Keep(retention.ReviewRequests)
	}
	save := func(change map[string]string) {
		t.Helper()
		if status, h, body := do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, change), nil); status != http.StatusSeeOther {
			t.Fatalf("%v: status %d %s\n%s", change, status, h.Get("Location"), body)
		}
	}
	refused := func(change map[string]string, field string) {
		t.Helper()
		before, _ := e.db.Shop(ctx, shop)
		keep := period()
		status, _, body := do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, change), nil)
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("%v: status %d, want 422", change, status)
		}
		const msg = "review requests kept 30d would expire before their last email: this shop's timing needs at least 54d (fallback 45d + delay 7d + margin 2d)"
		errP := regexp.MustCompile(`<p class="error" id="` + field + `-error">[^<]*</p>`).FindString(body)
		if !strings.Contains(errP, htmlEscape(msg)) {
			t.Errorf("%v: no error next to %s saying %q:\n%s", change, field, msg, body)
		}
		if !strings.Contains(body, "Nothing was saved") || !strings.Contains(body, `href="#f-`+field+`"`) {
			t.Errorf("%v: no alert linking to %s", change, field)
		}
		if !strings.Contains(body, `value="`+change[field]+`"`) {
			t.Errorf("%v: the typed %s is not kept in the form", change, field)
		}
		after, _ := e.db.Shop(ctx, shop)
		if !reflect.DeepEqual(after.Settings, before.Settings) || period() != keep {
			t.Errorf("%v: a refused form changed settings %+v → %+v, period %s → %s", change, before.Settings, after.Settings, keep, period())
		}
	}

	// The period first, then the timing.
	save(map[string]string{"keep_requests": "30d"})
	if period() != 30*24*time.Hour {
		t.Fatalf("period %s after saving 30d", period())
	}
	_, _, body := do(t, c, "GET", e.url+"/app/settings", nil, nil)
	if !strings.Contains(body, `id="f-keep_requests" name="keep_requests" value="30d"`) {
		t.Errorf("the settings page does not show the 30d period:\n%s", body)
	}
	refused(map[string]string{"keep_requests": "30d", "fallback_delay": "45d", "excluded_tags": "sample"}, "fallback_delay")
	refused(map[string]string{"fallback_delay": "45d"}, "fallback_delay") // a form without the field keeps the period

	// Both at once are checked together.
	save(map[string]string{"keep_requests": "54d", "fallback_delay": "45d"})

	// The timing first, then the period.
	refused(map[string]string{"keep_requests": "30d", "fallback_delay": "45d"}, "keep_requests")
	if s, _ := e.db.Shop(ctx, shop); s.FallbackDelay != 45*24*time.Hour || period() != 54*24*time.Hour {
		t.Errorf("fallback %s, period %s; want 45d and 54d", s.FallbackDelay, period())
	}
	if ov, _ := e.db.Overrides(ctx, otherShop); len(ov) != 0 {
		t.Errorf("another shop got overrides: %v", ov)
	}
}
