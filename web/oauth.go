package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/shoptoken"
	"github.com/candorhq/candor/store"
)

// The public-app install: GET /shopify/install sends the merchant to
// Shopify with a single-use state nonce bound to this browser by a cookie;
// GET /shopify/callback checks Shopify's HMAC, the shop, the timestamp and
// the state, exchanges the code for an expiring offline token, checks the
// granted scopes, registers the webhook subscriptions and only then stores
// the shop, its tokens sealed. Any failure before that stores nothing.
//
// Opening the app from the Shopify admin (a signed app load of a connected
// shop) is a sign-in, not an install: the same redirect and state, in online
// (per-user) access mode, and the callback starts a session in the browser
// that began it, for the staff member Shopify names. The signed app-load URL
// itself logs nobody in: it proves Shopify sent it, not who holds it.

const (
	oauthCookie   = "candor_oauth"
	oauthStateTTL = 10 * time.Minute
	maxOAuthQuery = 4096 // bytes; Shopify's signed queries are a few hundred
)

// oauthMissing names the configuration a public-app install needs and
// lacks, or "" when it has it all.
func (s *Server) oauthMissing() string {
	var missing []string
	if s.OAuth.APIKey == "" {
		missing = append(missing, "SHOPIFY_API_KEY")
	}
	if s.OAuth.APISecret == "" {
		missing = append(missing, "SHOPIFY_API_SECRET")
	}
	if s.PublicURL == "" {
		missing = append(missing, "CANDOR_PUBLIC_URL")
	}
	return strings.Join(missing, ", ")
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashOf(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// oauthQuery parses the query of an install or callback request, refusing
// oversized ones.
func oauthQuery(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if len(r.URL.RawQuery) > maxOAuthQuery {
		installPage(w, r, http.StatusBadRequest, "install.invalid", tr(r, "install.too_long"))
		return nil, false
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		installPage(w, r, http.StatusBadRequest, "install.invalid", tr(r, "install.unreadable"))
		return nil, false
	}
	return q, true
}

// verifySigned checks a query Shopify signed: the HMAC, then the
// timestamp. It answers 401 itself when either fails.
func (s *Server) verifySigned(w http.ResponseWriter, r *http.Request, q url.Values) bool {
	if !shopify.VerifyRawQuery(s.OAuth.APISecret, r.URL.RawQuery) {
		s.Metrics.OAuth("hmac", "rejected")
		installPage(w, r, http.StatusUnauthorized, "install.unsigned", tr(r, "install.unsigned.text"))
		return false
	}
	if !shopify.FreshTimestamp(q.Get("timestamp"), s.now()) {
		s.Metrics.OAuth("timestamp", "rejected")
		installPage(w, r, http.StatusUnauthorized, "install.expired", tr(r, "install.expired.text"))
		return false
	}
	return true
}

func badShop(w http.ResponseWriter, r *http.Request) {
	installPage(w, r, http.StatusBadRequest, "install.bad_shop", tr(r, "install.bad_shop.text"))
}

// installPage answers with a page of the install in r's language: the
// title's key, and the body already in it.
func installPage(w http.ResponseWriter, r *http.Request, status int, titleKey, body string) {
	showPageLang(w, requestLang(r), status, tr(r, titleKey), body)
}

// shopifyInstall is GET /shopify/install?shop=X: from Candor's own install
// form (no signature), or from the Shopify admin (hmac, timestamp: then
// they are checked).
func (s *Server) shopifyInstall(w http.ResponseWriter, r *http.Request) {
	if missing := s.oauthMissing(); missing != "" {
		installPage(w, r, http.StatusServiceUnavailable, "install.not_set_up", tr(r, "install.not_set_up.text", missing))
		return
	}
	q, ok := oauthQuery(w, r)
	if !ok {
		return
	}
	signed := q.Has("hmac")
	if signed && !s.verifySigned(w, r, q) {
		return
	}
	shop := q.Get("shop")
	if !shopify.ValidShopDomain(shop) {
		s.Metrics.OAuth("install", "bad_shop")
		badShop(w, r)
		return
	}
	// An app load from the Shopify admin for a shop that is already
	// connected with the scopes Candor needs signs the merchant in: an
	// embedded load with its session token (id_token, spent once at /app),
	// any other in online mode. Anything else is an install.
	online := signed && s.installed(r.Context(), shop)
	if idt := q.Get("id_token"); online && idt != "" {
		w.Header().Set("Cache-Control", "no-store")
		to := url.Values{"embedded": {"1"}, "id_token": {idt}}
		if l := q.Get("locale"); l != "" { // the admin user's language, for the session
			to.Set("locale", l)
		}
		http.Redirect(w, r, "/app?"+to.Encode(), http.StatusFound)
		return
	}
	s.authorize(w, r, shop, online)
}

// installed reports whether shop is connected through OAuth with every
// scope Candor needs.
func (s *Server) installed(ctx context.Context, shop string) bool {
	sh, err := s.DB.Shop(ctx, shop)
	return err == nil && sh.TokenSealed != "" && !sh.InstalledAt.IsZero() &&
		len(shopify.MissingScopes(shopify.SplitScopes(sh.Scopes))) == 0
}

// authorize sends the browser to Shopify's grant page with a new state
// nonce bound to it by a cookie: an install, or with online a sign-in.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, shop string, online bool) {
	ctx := r.Context()
	browser := ""
	if c, err := r.Cookie(oauthCookie); err == nil && len(c.Value) == 43 {
		browser = c.Value // another install in another tab keeps working
	}
	nonce, err := randomToken()
	if err == nil && browser == "" {
		browser, err = randomToken()
	}
	if err != nil {
		installPage(w, r, http.StatusServiceUnavailable, "error.try_again", tr(r, "error.our_side"))
		return
	}
	err = s.DB.SaveOAuthState(ctx, hashOf(nonce), store.OAuthState{Shop: shop, BrowserHash: hashOf(browser), ExpiresAt: s.now().Add(oauthStateTTL), Online: online})
	if err != nil {
		if !errors.Is(err, store.ErrTooManyInstalls) {
			s.Logger.LogAttrs(ctx, slog.LevelError, "save oauth state", slog.String("error", err.Error()))
		}
		installPage(w, r, http.StatusServiceUnavailable, "error.try_again", tr(r, "install.our_side_later"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: browser, Path: "/shopify/", MaxAge: int(oauthStateTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(s.PublicURL, "https://")})
	w.Header().Set("Cache-Control", "no-store")
	callback := s.PublicURL + "/shopify/callback"
	if online {
		s.Metrics.OAuth("login", "redirected")
		http.Redirect(w, r, s.OAuth.LoginURL(shop, nonce, callback), http.StatusFound)
		return
	}
	s.Metrics.OAuth("install", "redirected")
	http.Redirect(w, r, s.OAuth.AuthorizeURL(shop, nonce, callback), http.StatusFound)
}

// shopifyCallback is GET /shopify/callback, where Shopify sends the
// merchant back with code, hmac, host, shop, state and timestamp.
func (s *Server) shopifyCallback(w http.ResponseWriter, r *http.Request) {
	if missing := s.oauthMissing(); missing != "" {
		installPage(w, r, http.StatusServiceUnavailable, "install.not_set_up", tr(r, "install.not_set_up.callback", missing))
		return
	}
	q, ok := oauthQuery(w, r)
	if !ok || !s.verifySigned(w, r, q) {
		return
	}
	shop := q.Get("shop")
	if !shopify.ValidShopDomain(shop) {
		s.Metrics.OAuth("callback", "bad_shop")
		badShop(w, r)
		return
	}
	ctx := r.Context()
	st, ok := s.consumeState(w, r, q.Get("state"), shop)
	if !ok {
		return
	}
	code := q.Get("code")
	if code == "" {
		installPage(w, r, http.StatusBadRequest, "install.no_code", tr(r, "install.again"))
		return
	}
	if st.Online {
		s.signIn(w, r, shop, code)
		return
	}
	now := s.now()
	tok, err := s.OAuth.Exchange(ctx, shop, code, now)
	if err != nil {
		s.exchangeFailed(w, r, "exchange", shop, err, "install.again", "install.not_saved_later")
		return
	}
	if missing := shopify.MissingScopes(tok.Scopes); len(missing) > 0 {
		s.Metrics.OAuth("scopes", "missing")
		installPage(w, r, http.StatusForbidden, "install.scopes", tr(r, "install.scopes.text", strings.Join(missing, ", ")))
		return
	}
	in, err := shoptoken.Seal(s.Keys, shop, tok)
	if err != nil {
		installPage(w, r, http.StatusServiceUnavailable, "error.try_again", tr(r, "error.our_side"))
		return
	}
	// Subscriptions first: a shop row means webhooks are on their way. If
	// this fails, nothing is stored; subscriptions made so far are repaired
	// by the next install or reconciliation.
	admin, err := shopify.NewAdmin(s.Shopify, shop, tok.AccessToken)
	if err == nil {
		_, err = admin.EnsureSubscriptions(ctx, s.PublicURL+"/webhooks/shopify")
	}
	if err != nil {
		s.Logger.LogAttrs(ctx, slog.LevelWarn, "webhook subscriptions failed", slog.String("shop", shop), slog.String("error", err.Error()))
		s.Metrics.OAuth("subscriptions", "failed")
		installPage(w, r, http.StatusBadGateway, "install.webhooks", tr(r, "install.not_saved_later"))
		return
	}
	created, err := s.DB.InstallShop(ctx, in)
	if err != nil {
		s.Logger.LogAttrs(ctx, slog.LevelError, "store installed shop", slog.String("shop", shop), slog.String("error", err.Error()))
		installPage(w, r, http.StatusServiceUnavailable, "error.try_again", tr(r, "install.store_not_saved"))
		return
	}
	s.shops.forget(shop)
	s.Logger.LogAttrs(ctx, slog.LevelInfo, "shop installed", slog.String("shop", shop), slog.Bool("new", created))
	s.Metrics.OAuth("callback", "installed")
	s.afterInstall(w, r, shop)
}

// signIn finishes an app load's online grant: Shopify names the staff
// member who approved it in this browser, and the browser gets a session.
// Nothing of the person is kept or logged, and the online token is not used.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, shop, code string) {
	ctx := r.Context()
	if !s.installed(ctx, shop) {
		installPage(w, r, http.StatusConflict, "install.not_connected", tr(r, "install.not_connected.text", shop))
		return
	}
	if _, err := s.OAuth.ExchangeOnline(ctx, shop, code); err != nil {
		s.exchangeFailed(w, r, "login", shop, err, "install.open_again", "install.open_again_later")
		return
	}
	s.Metrics.OAuth("login", "signed_in")
	s.afterInstall(w, r, shop)
}

// exchangeFailed answers a code exchange that failed at step: 400 when
// Shopify refused the code, then the text keyed again says what to do; 502
// when Shopify could not be reached, then the text keyed later says it.
func (s *Server) exchangeFailed(w http.ResponseWriter, r *http.Request, step, shop string, err error, again, later string) {
	s.Logger.LogAttrs(r.Context(), slog.LevelWarn, "oauth code exchange failed", slog.String("step", step), slog.String("shop", shop), slog.String("error", err.Error()))
	s.Metrics.OAuth(step, "failed")
	if errors.Is(err, shopify.ErrGrantRejected) {
		installPage(w, r, http.StatusBadRequest, "install.refused", tr(r, "install.refused.text", tr(r, again)))
		return
	}
	installPage(w, r, http.StatusBadGateway, "install.unreachable", tr(r, later))
}

// consumeState spends the state nonce and checks it belongs to this shop
// and this browser. It answers 403 itself when anything is off: unknown,
// used, expired, another shop, or another browser.
func (s *Server) consumeState(w http.ResponseWriter, r *http.Request, state, shop string) (store.OAuthState, bool) {
	deny := func(why string) (store.OAuthState, bool) { // why: a key
		s.Metrics.OAuth("state", "rejected")
		installPage(w, r, http.StatusForbidden, "install.invalid", tr(r, "install.state", tr(r, why)))
		return store.OAuthState{}, false
	}
	if state == "" || len(state) > 200 {
		return deny("install.state.none")
	}
	st, err := s.DB.ConsumeOAuthState(r.Context(), hashOf(state))
	if errors.Is(err, store.ErrNotFound) {
		return deny("install.state.used")
	}
	if err != nil {
		installPage(w, r, http.StatusServiceUnavailable, "error.try_again", tr(r, "error.our_side"))
		return store.OAuthState{}, false
	}
	// The cookie has done its job either way.
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: "", Path: "/shopify/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(s.PublicURL, "https://")})
	c, err := r.Cookie(oauthCookie)
	switch {
	case !s.now().Before(st.ExpiresAt):
		return deny("install.state.late")
	case err != nil || subtle.ConstantTimeCompare(hashOf(c.Value), st.BrowserHash) != 1:
		return deny("install.state.browser")
	case st.Shop != shop:
		return deny("install.state.shop")
	}
	return st, true
}

// afterInstall is where a merchant lands once the shop is connected, or
// once Shopify has signed them in: logged in to the merchant pages. Both
// callers have proved the request by the callback's HMAC, the state bound
// to this browser, and a code Shopify accepted.
func (s *Server) afterInstall(w http.ResponseWriter, r *http.Request, shop string) {
	if err := s.startSession(w, r, shop); err != nil {
		s.Logger.LogAttrs(r.Context(), slog.LevelError, "merchant session not started", slog.String("shop", shop), slog.String("error", err.Error()))
		installPage(w, r, http.StatusServiceUnavailable, "install.connected", tr(r, "install.connected.text"))
		return
	}
	http.Redirect(w, r, "/app", http.StatusFound)
}
