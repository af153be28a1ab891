package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// Merchant authentication for the /app pages. Two ways in, both ending in a
// session scoped to one shop:
//
//   - a login link from `candor shops login` (signed, expiring, single-use),
//     for custom-app installs, and the OAuth callback through startSession;
//   - an App Bridge session token (an HS256 JWT signed with the app secret),
//     as `Authorization: Bearer` or the `id_token` query parameter Shopify
//     adds when it loads an embedded app. Each token is accepted once (its
//     jti is kept in Postgres until it expires).
//
// The session cookie holds a random token; Postgres keeps only its SHA-256.
// Every form carries a CSRF token derived from the session token; the login
// link's form, one derived from a cookie its page sets (loginCookie).

const (
	sessionCookie   = "candor_session"
	sessionLifetime = 12 * time.Hour
	// MaxLoginLinkTTL bounds `candor shops login --ttl`.
	MaxLoginLinkTTL = 24 * time.Hour
	// jwtLeeway tolerates clock skew between Shopify and us.
	jwtLeeway = 10 * time.Second
)

// loadRotatingKeys brings the login-link and signing keys up to date
// with the newest rotation (datakeys.LoadRotatingKeys).
func (s *Server) loadRotatingKeys(ctx context.Context) error {
	return datakeys.LoadRotatingKeys(ctx, s.DB, s.Keys)
}

// LoginLink makes a signed, single-use login link's token for shop.
func LoginLink(ring *keys.Ring, shop string, ttl time.Duration, now time.Time) string {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return ring.SignLink(keys.Link{Kind: keys.LinkLogin, Shop: shop, RequestID: "ll_" + hex.EncodeToString(id),
		Expires: now.Add(ttl).Unix()})
}

// merchantSession is who is looking at /app: one shop.
// principal names the session in the access log: the shop and the
// session's ID (a prefix of the hash of its token, as stored).
func (m merchantSession) principal() string {
	return registry.PrincipalSessionPrefix + m.Shop + "/" + hashToken(m.token)[:12]
}

type merchantSession struct {
	Shop string
	// Lang is the session's language (locale.Supported), from the admin
	// user's locale when Shopify loaded the app; empty when it was not
	// given, and then requestLang decides per request.
	Lang string
	// Embedded is a session that began in the Shopify admin's frame (an
	// id_token load, or an App Bridge bearer token): its pages load App
	// Bridge.
	Embedded bool
	// token is the raw session token (cookie sessions) or the JWT's sid
	// (session-token requests); CSRF tokens derive from it.
	token string
	// bearer is set for requests authenticated by an App Bridge token in
	// the Authorization header, which a cross-site form cannot send.
	bearer bool
}

func (m merchantSession) csrf() string {
	sum := sha256.Sum256([]byte("candor/csrf\x00" + m.token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (m merchantSession) checkCSRF(r *http.Request) bool {
	if m.bearer {
		return true
	}
	got := r.PostFormValue("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(m.csrf()))
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// startSession logs the browser in to shop: a new session row and cookie.
// The OAuth callback calls it after an install.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, shop string) error {
	_, err := s.newSession(w, r, shop, false)
	return err
}

// newSession stores a session and sets its cookie. An embedded session
// lives in the Shopify admin's iframe, where browsers drop a SameSite=Lax
// cookie: over https it is SameSite=None and Partitioned (CHIPS), so it is
// sent only inside the admin's frame, and the forms' CSRF tokens do the
// rest.
func (s *Server) newSession(w http.ResponseWriter, r *http.Request, shop string, embedded bool) (string, error) {
	lang := sessionLang(r)
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	ctx := r.Context()
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM app_sessions WHERE expires_at < $1`, now); err != nil {
		return "", fmt.Errorf("expire sessions: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO app_sessions (token_hash, shop, locale, embedded, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		hashToken(tok), shop, lang, embedded, now, now.Add(sessionLifetime)); err != nil {
		return "", fmt.Errorf("store session: %w", err)
	}
	c := &http.Cookie{Name: sessionCookie, Value: tok, Path: "/app", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(s.PublicURL, "https://"),
		Expires: now.Add(sessionLifetime), MaxAge: int(sessionLifetime / time.Second)}
	if embedded && c.Secure {
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
	http.SetCookie(w, c)
	return tok, nil
}

// sessionLang is the language a session keeps: the locale parameter of the
// request that starts it (Shopify's embedded load carries the admin user's
// locale), matched to a supported language; empty without one.
func sessionLang(r *http.Request) string {
	if l := r.URL.Query().Get("locale"); l != "" {
		return locale.Match(l)
	}
	return ""
}

// errNoSession means the request carries no valid credential.
var errNoSession = errors.New("not logged in")

// session finds who is asking: an App Bridge token, else the cookie.
func (s *Server) session(r *http.Request) (merchantSession, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		c, err := s.acceptSessionToken(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			return merchantSession{}, err
		}
		return merchantSession{Shop: c.Shop, Lang: sessionLang(r), Embedded: true, token: "jwt:" + c.Shop + ":" + c.Sid, bearer: true}, nil
	}
	return s.cookieSession(r)
}

// cookieSession finds the session of the request's cookie.
func (s *Server) cookieSession(r *http.Request) (merchantSession, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return merchantSession{}, errNoSession
	}
	var row struct {
		Shop     string `db:"shop"`
		Locale   string `db:"locale"`
		Embedded bool   `db:"embedded"`
	}
	err = s.DB.GetContext(r.Context(), &row, `SELECT shop, locale, embedded FROM app_sessions WHERE token_hash = $1 AND expires_at > $2`,
		hashToken(c.Value), s.now())
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return merchantSession{}, errNoSession
		}
		return merchantSession{}, err
	}
	return merchantSession{Shop: row.Shop, Lang: row.Locale, Embedded: row.Embedded, token: c.Value}, nil
}

// acceptSessionToken checks an App Bridge session token, that its shop is
// connected, and spends its jti: a token works for one request. Shopify's
// guidance is a fresh token for each request (a token lives one minute):
// https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
// ("Lifetime of a session token"). App Bridge's fetch interceptor gets one
// per request: https://shopify.dev/docs/api/app-home/apis/authentication-and-data/id-token-api
func (s *Server) acceptSessionToken(ctx context.Context, tok string) (sessionClaims, error) {
	c, err := verifySessionToken(tok, s.ShopifyAPIKey, s.ShopifySecret, s.now())
	if err != nil {
		return c, err
	}
	if err := s.shopConnected(ctx, c.Shop); err != nil {
		return c, err
	}
	return c, s.spendSessionToken(ctx, c)
}

// errSessionTokenUsed means a session token was presented before.
var errSessionTokenUsed = errors.New("session token already used")

// spendSessionToken records c's jti until the token expires; a jti seen
// before is errSessionTokenUsed. Postgres, not memory: every serve replica
// must refuse the replay.
func (s *Server) spendSessionToken(ctx context.Context, c sessionClaims) error {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM app_session_tokens_used WHERE expires_at < $1`, s.now()); err != nil {
		return fmt.Errorf("expire used session tokens: %w", err)
	}
	res, err := s.DB.ExecContext(ctx, `INSERT INTO app_session_tokens_used (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		c.Jti, c.Expires.Add(jwtLeeway))
	if err != nil {
		return fmt.Errorf("record session token: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errSessionTokenUsed
	}
	return nil
}

func (s *Server) shopConnected(ctx context.Context, shop string) error {
	if _, err := s.DB.Shop(ctx, shop); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNoSession
		}
		return err
	}
	return nil
}

type merchantHandler func(w http.ResponseWriter, r *http.Request, m merchantSession)

// appCSP is the merchant pages' Content-Security-Policy. Scripts come from
// this server and Shopify's CDN only (App Bridge and Polaris, never a copy:
// https://shopify.dev/docs/api/app-bridge-library, "Getting started");
// styles, fonts and images may come from the CDN too. Only the Shopify admin and the
// shop's own admin domain may frame the page, as Shopify asks of embedded
// apps: https://shopify.dev/docs/apps/build/security/app-server/set-up-iframe-protection
// (frame-ancestors https://{shop} https://admin.shopify.com, per shop, no
// wildcard). Before the shop is known, only admin.shopify.com.
func appCSP(shop string) string {
	frame := "https://admin.shopify.com"
	if shop != "" {
		frame = "https://" + shop + " " + frame
	}
	return appCSPFramedBy(frame)
}

// appCSPFramedBy is appCSP with the frame-ancestors given.
func appCSPFramedBy(frameAncestors string) string {
	return "default-src 'self'; script-src 'self' https://cdn.shopify.com; style-src 'self' 'unsafe-inline' https://cdn.shopify.com; " +
		"font-src 'self' https://cdn.shopify.com; img-src 'self' data: https://cdn.shopify.com; frame-ancestors " + frameAncestors
}

// merchant runs h for a logged-in merchant. An embedded load with id_token
// is served with that token and starts a cookie session for the forms.
func (s *Server) merchant(h merchantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("Content-Security-Policy", appCSP(""))
		if idt := r.URL.Query().Get("id_token"); idt != "" && r.Method == http.MethodGet {
			c, err := s.acceptSessionToken(r.Context(), idt)
			if errors.Is(err, errSessionTokenUsed) {
				// Back or reload in the frame repeats the URL: the browser
				// that spent the token has its session, nobody else does.
				if m, err := s.cookieSession(r); err == nil && m.Shop == c.Shop {
					w.Header().Set("Content-Security-Policy", appCSP(m.Shop))
					h(w, withSession(r, m), m)
					return
				}
			}
			switch {
			case errors.Is(err, errNoSession) || errors.Is(err, errBadSessionToken) || errors.Is(err, errSessionTokenUsed):
				s.appError(w, r, http.StatusUnauthorized, "error.not_logged_in", "error.token_refused")
				return
			case err != nil:
				s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.check_session")
				return
			}
			// Serve this load with the token; the cookie lets the page's
			// plain forms work afterwards where the browser keeps it.
			tok, err := s.newSession(w, r, c.Shop, true)
			if err != nil {
				s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.start_session")
				return
			}
			m := merchantSession{Shop: c.Shop, Lang: sessionLang(r), Embedded: true, token: tok}
			w.Header().Set("Content-Security-Policy", appCSP(m.Shop))
			h(w, withSession(r, m), m)
			return
		}
		m, err := s.session(r)
		if errors.Is(err, errNoSession) || errors.Is(err, errBadSessionToken) || errors.Is(err, errSessionTokenUsed) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="candor-app"`)
			s.appError(w, r, http.StatusUnauthorized, "error.please_log_in", "error.please_log_in.text")
			return
		}
		if err != nil {
			s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.check_session")
			return
		}
		w.Header().Set("Content-Security-Policy", appCSP(m.Shop))
		r = withSession(r, m)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				s.appError(w, r, http.StatusBadRequest, "error.form_not_accepted", "error.form_unreadable")
				return
			}
			if !m.checkCSRF(r) {
				s.appError(w, r, http.StatusForbidden, "error.form_expired", "error.form_expired.text")
				return
			}
		}
		h(w, r, m)
	}
}

// The login page's form is bound to the browser that opened the link: GET
// sets a random cookie (loginCookie) and the form carries a CSRF token
// derived from that cookie and the link. A POST without both is refused, so
// another site cannot log a visitor's browser in to a shop of its choosing
// (login CSRF) by posting a link it holds.
const (
	loginCookie    = "candor_login"
	loginCookieTTL = time.Hour
)

// loginCSRF is the login form's CSRF token for the browser cookie and link.
func loginCSRF(browser, link string) string {
	sum := sha256.Sum256([]byte("candor/login-csrf\x00" + browser + "\x00" + link))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (s *Server) setLoginCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: value, Path: "/app/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(s.PublicURL, "https://"), MaxAge: maxAge})
}

// appLogin is GET /app/login?token=…: it checks the link without using it up
// (mail scanners and link previews fetch links) and asks to continue.
func (s *Server) appLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// The token is in this page's URL: send it nowhere, frame it nowhere.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", appCSPFramedBy("'none'"))
	tok := r.URL.Query().Get("token")
	l, ok := s.checkLoginLink(w, r, tok)
	if !ok {
		return
	}
	browser := ""
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 43 {
		browser = c.Value // another login page in another tab keeps working
	}
	if browser == "" {
		var err error
		if browser, err = randomToken(); err != nil {
			s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.our_side")
			return
		}
	}
	s.setLoginCookie(w, browser, int(loginCookieTTL/time.Second))
	s.render(w, r, http.StatusOK, "login", appPage{Title: tr(r, "login.title"), Shop: l.Shop,
		Data: map[string]string{"Token": tok, "CSRF": loginCSRF(browser, tok)}})
}

// appLoginPost is POST /app/login: it uses the link up and starts a session,
// in the browser that opened the login page only.
func (s *Server) appLoginPost(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	tok := r.PostFormValue("token")
	l, ok := s.checkLoginLink(w, r, tok)
	if !ok {
		return
	}
	c, err := r.Cookie(loginCookie)
	got := r.PostFormValue("csrf")
	if err != nil || c.Value == "" || got == "" || !hmac.Equal([]byte(got), []byte(loginCSRF(c.Value, tok))) {
		// The link is not spent: opening it again in this browser works.
		s.appError(w, r, http.StatusForbidden, "error.form_expired", "error.login_form_expired.text")
		return
	}
	ctx := r.Context()
	now := s.now()
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM app_login_links_used WHERE expires_at < $1`, now.Add(-time.Minute)); err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.check_link")
		return
	}
	res, err := s.DB.ExecContext(ctx, `INSERT INTO app_login_links_used (link_id, shop, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		l.RequestID, l.Shop, time.Unix(l.Expires, 0))
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.check_link")
		return
	}
	if n, _ := res.RowsAffected(); n != 1 {
		s.loginLinkUsed(w, r, l.Shop) // used in between, by a concurrent post
		return
	}
	if err := s.startSession(w, r, l.Shop); err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.start_session")
		return
	}
	s.setLoginCookie(w, "", -1)
	http.Redirect(w, r, "/app", http.StatusSeeOther)
}

func (s *Server) checkLoginLink(w http.ResponseWriter, r *http.Request, tok string) (keys.Link, bool) {
	// A rotation on another replica, or by `candor keys rotate-login`,
	// ends old links here too.
	if err := s.loadRotatingKeys(r.Context()); err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.check_link")
		return keys.Link{}, false
	}
	l, err := s.Keys.ParseLink(tok, keys.LinkLogin, s.now())
	switch {
	case errors.Is(err, keys.ErrLinkExpired):
		s.appError(w, r, http.StatusGone, "error.link_expired", "error.link_expired.text", l.Shop)
		return l, false
	case err != nil || !shopify.ValidShopDomain(l.Shop):
		s.appError(w, r, http.StatusBadRequest, "error.link_invalid", "error.link_invalid.text")
		return l, false
	}
	if err := s.shopConnected(r.Context(), l.Shop); err != nil {
		s.appError(w, r, http.StatusGone, "error.shop_not_connected", "error.shop_not_connected.text")
		return l, false
	}
	var used bool
	if err := s.DB.GetContext(r.Context(), &used, `SELECT EXISTS (SELECT 1 FROM app_login_links_used WHERE link_id = $1)`, l.RequestID); err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.check_link")
		return l, false
	} else if used {
		s.loginLinkUsed(w, r, l.Shop)
		return l, false
	}
	return l, true
}

func (s *Server) loginLinkUsed(w http.ResponseWriter, r *http.Request, shop string) {
	s.appError(w, r, http.StatusGone, "error.link_used", "error.link_used.text", shop)
}

// appLogout is POST /app/logout.
func (s *Server) appLogout(w http.ResponseWriter, r *http.Request, m merchantSession) {
	if !m.bearer {
		if _, err := s.DB.ExecContext(r.Context(), `DELETE FROM app_sessions WHERE token_hash = $1`, hashToken(m.token)); err != nil {
			s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.end_session")
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/app", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	s.render(w, r, http.StatusOK, "message", appPage{Title: tr(r, "logout.title"), Data: tr(r, "logout.text")})
}

var errBadSessionToken = errors.New("session token not valid")

// sessionClaims is what Candor uses of a verified session token.
type sessionClaims struct {
	Shop    string
	Sid     string // the admin session; CSRF tokens of bearer requests derive from it
	Jti     string // the token's own ID, spent on use
	Expires time.Time
}

// maxJTI bounds a jti's length; Shopify's are UUIDs.
const maxJTI = 200

// verifySessionToken checks an App Bridge session token and returns its
// claims. https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
func verifySessionToken(tok, apiKey, secret string, now time.Time) (sessionClaims, error) {
	bad := sessionClaims{}
	// Only the base64url alphabet, and the signature decoded strictly: Go's
	// decoder skips line breaks and, by default, the last character's
	// unused bits, so otherwise one token had many spellings.
	if secret == "" || apiKey == "" || len(tok) > 4096 || !keys.IsTokenText(tok) {
		return bad, errBadSessionToken
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return bad, errBadSessionToken
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return bad, errBadSessionToken
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &header) != nil || header.Alg != "HS256" {
		return bad, errBadSessionToken
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return bad, errBadSessionToken
	}
	var c struct {
		Iss  string          `json:"iss"`
		Dest string          `json:"dest"`
		Aud  json.RawMessage `json:"aud"`
		Exp  *float64        `json:"exp"`
		Nbf  *float64        `json:"nbf"`
		Sid  string          `json:"sid"`
		Jti  string          `json:"jti"`
	}
	if json.Unmarshal(pb, &c) != nil || c.Exp == nil || c.Jti == "" || len(c.Jti) > maxJTI {
		return bad, errBadSessionToken
	}
	if !now.Before(time.Unix(int64(*c.Exp), 0).Add(jwtLeeway)) {
		return bad, errBadSessionToken
	}
	if c.Nbf != nil && now.Add(jwtLeeway).Before(time.Unix(int64(*c.Nbf), 0)) {
		return bad, errBadSessionToken
	}
	if !audienceIs(c.Aud, apiKey) {
		return bad, errBadSessionToken
	}
	dest, err := url.Parse(c.Dest)
	if err != nil || dest.Scheme != "https" || !shopify.ValidShopDomain(dest.Host) || dest.Path != "" {
		return bad, errBadSessionToken
	}
	iss, err := url.Parse(c.Iss)
	if err != nil || iss.Scheme != "https" || iss.Host != dest.Host || iss.Path != "/admin" {
		return bad, errBadSessionToken
	}
	return sessionClaims{Shop: dest.Host, Sid: c.Sid, Jti: c.Jti, Expires: time.Unix(int64(*c.Exp), 0)}, nil
}

// audienceIs accepts aud as a string or a list holding want.
func audienceIs(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return hmac.Equal([]byte(one), []byte(want))
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, a := range many {
			if hmac.Equal([]byte(a), []byte(want)) {
				return true
			}
		}
	}
	return false
}
