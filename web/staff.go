package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/candorhq/candor/staff"
	"github.com/candorhq/candor/store"
)

// The staff console under /staff: operators and auditors sign in through
// the OpenID Connect provider (Server.Staff, package staff), which must
// state a second factor. The sign-in's state, nonce and PKCE verifier wait
// in Postgres (staff_sign_ins) and are spent by the callback, so any serve
// replica finishes a sign-in and none finishes it twice; the state is also
// bound to the browser that started it by a short-lived cookie. Sessions
// live in Postgres too (staff_sessions, only the token's SHA-256).
//
// staffOnly is the middleware every staff page uses; StaffFrom gives a
// page its signed-in person.

const (
	staffCookie          = "candor_staff"
	staffSignInCookie    = "candor_staff_signin"
	staffSessionLifetime = 8 * time.Hour
	staffSignInLifetime  = 10 * time.Minute
)

// StaffSession is a signed-in staff member: a pseudonymous principal and a
// role, never a name or email.
type StaffSession struct {
	Principal string
	Role      string
	AMR       []string
	token     string
}

func (m StaffSession) csrf() string {
	sum := sha256.Sum256([]byte("candor/staff-csrf\x00" + m.token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

type staffKey struct{}

// StaffFrom returns the staff member that staffOnly let through.
func StaffFrom(ctx context.Context) (StaffSession, bool) {
	m, ok := ctx.Value(staffKey{}).(StaffSession)
	return m, ok
}

var staffTemplate = template.Must(template.New("staff").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Candor staff: {{.Title}}</title></head><body><main>
<h1>{{.Title}}</h1>
{{if .Message}}<p role="status">{{.Message}}</p>{{end}}
{{with .Session}}<p>Signed in as <strong>{{.Role}}</strong> ({{.Principal}}), with {{range $i, $m := .AMR}}{{if $i}}, {{end}}{{$m}}{{end}}.</p>
<ul>
<li>Operators: the Temporal UI decodes payloads through Candor's codec with your sign-in's access token.</li>
<li>Auditors: registry exports, <code>candor registry export</code> and <code>GET /api/registry/export</code>.</li>
<li><a href="/staff/access">Access review</a>: every token and merchant session, flagged stale, never used or expiring.</li>
</ul>
<form method="post" action="/staff/logout"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button>Sign out</button></form>
{{end}}{{if .SignIn}}<p><a href="/staff/login">Sign in with your organisation's account</a></p>{{end}}
</main></body></html>`))

type staffPage struct {
	Title, Message, CSRF string
	Session              *StaffSession
	SignIn               bool
}

func (s *Server) staffRender(w http.ResponseWriter, status int, p staffPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = staffTemplate.Execute(w, p)
}

func staffHeaders(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer a browser sends
	// "Origin: null" on the console's own form posts.
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
}

func (s *Server) secureCookies() bool { return strings.HasPrefix(s.PublicURL, "https://") }

// staffCallbackURL is the redirect URI registered at the provider.
func (s *Server) staffCallbackURL(r *http.Request) string {
	if s.PublicURL != "" {
		return s.PublicURL + "/staff/callback"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/staff/callback"
}

// staffLogin is GET /staff/login: it starts a sign-in at the provider.
func (s *Server) staffLogin(w http.ResponseWriter, r *http.Request) {
	staffHeaders(w)
	if s.Staff == nil {
		s.staffRender(w, http.StatusNotFound, staffPage{Title: "Staff sign-in is not configured",
			Message: "Set CANDOR_OIDC_ISSUER, CANDOR_OIDC_CLIENT_ID and CANDOR_OIDC_ROLES."})
		return
	}
	ctx := r.Context()
	a := staff.NewAttempt()
	u, err := s.Staff.AuthURL(ctx, a, s.staffCallbackURL(r))
	if err != nil {
		s.Logger.WarnContext(ctx, "staff sign-in: provider unreachable", "error", err)
		s.staffRender(w, http.StatusServiceUnavailable, staffPage{Title: "Please try again", Message: "The sign-in provider cannot be reached."})
		return
	}
	now := s.now()
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM staff_sign_ins WHERE expires_at < $1`, now); err == nil {
		_, err = s.DB.ExecContext(ctx, `INSERT INTO staff_sign_ins (state_sha256, nonce, verifier, expires_at) VALUES ($1, $2, $3, $4)`,
			hashToken(a.State), a.Nonce, a.Verifier, now.Add(staffSignInLifetime))
	}
	if err != nil {
		s.staffRender(w, http.StatusServiceUnavailable, staffPage{Title: "Please try again", Message: "Could not start the sign-in."})
		return
	}
	// Lax: the provider's redirect back is a top-level cross-site GET.
	http.SetCookie(w, &http.Cookie{Name: staffSignInCookie, Value: a.State, Path: "/staff/callback", HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode, MaxAge: int(staffSignInLifetime / time.Second)})
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// staffCallback is GET /staff/callback: the provider's answer.
func (s *Server) staffCallback(w http.ResponseWriter, r *http.Request) {
	staffHeaders(w)
	if s.Staff == nil {
		s.staffRender(w, http.StatusNotFound, staffPage{Title: "Staff sign-in is not configured"})
		return
	}
	ctx, q := r.Context(), r.URL.Query()
	restart := staffPage{Title: "Sign-in not accepted", SignIn: true}
	if q.Get("error") != "" {
		restart.Message = "The sign-in provider refused the sign-in."
		s.staffRender(w, http.StatusUnauthorized, restart)
		return
	}
	state, code := q.Get("state"), q.Get("code")
	c, err := r.Cookie(staffSignInCookie)
	if state == "" || code == "" || len(state) > 200 || err != nil || !hmac.Equal([]byte(c.Value), []byte(state)) {
		restart.Message = "This sign-in did not start in this browser. Start again."
		s.staffRender(w, http.StatusBadRequest, restart)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: staffSignInCookie, Path: "/staff/callback", HttpOnly: true, Secure: s.secureCookies(),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	var a staff.Attempt
	var fresh bool
	err = s.DB.QueryRowContext(ctx, `DELETE FROM staff_sign_ins WHERE state_sha256 = $1 RETURNING nonce, verifier, expires_at > $2`,
		hashToken(state), s.now()).Scan(&a.Nonce, &a.Verifier, &fresh)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !fresh) {
		restart.Message = "This sign-in was already used or has expired. Start again."
		s.staffRender(w, http.StatusBadRequest, restart)
		return
	}
	if err != nil {
		s.staffRender(w, http.StatusServiceUnavailable, staffPage{Title: "Please try again", Message: "Could not check the sign-in."})
		return
	}
	a.State = state
	id, err := s.Staff.Exchange(ctx, a, code, s.staffCallbackURL(r))
	switch {
	case errors.Is(err, staff.ErrNoMFA):
		restart.Message = "Candor's staff console needs multi-factor authentication. Sign in again with your second factor."
		s.staffRender(w, http.StatusForbidden, restart)
		return
	case errors.Is(err, staff.ErrNoRole):
		restart.Message = "Your account has no Candor staff role. Ask an administrator to add you to an operator or auditor group."
		s.staffRender(w, http.StatusForbidden, restart)
		return
	case errors.Is(err, staff.ErrBadToken) || errors.Is(err, staff.ErrNonce):
		restart.Message = "The provider's answer could not be verified. Start again."
		s.staffRender(w, http.StatusBadRequest, restart)
		return
	case err != nil:
		s.Logger.WarnContext(ctx, "staff sign-in: provider unreachable", "error", err)
		s.staffRender(w, http.StatusServiceUnavailable, staffPage{Title: "Please try again", Message: "The sign-in provider cannot be reached."})
		return
	}
	if err := s.newStaffSession(ctx, w, id); err != nil {
		s.staffRender(w, http.StatusServiceUnavailable, staffPage{Title: "Please try again", Message: "Could not start your session."})
		return
	}
	s.Logger.InfoContext(ctx, "staff signed in", "principal", id.Principal, "role", id.Role)
	http.Redirect(w, r, "/staff", http.StatusSeeOther)
}

func (s *Server) newStaffSession(ctx context.Context, w http.ResponseWriter, id staff.Identity) error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM staff_sessions WHERE expires_at < $1`, now); err != nil {
		return fmt.Errorf("expire staff sessions: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO staff_sessions (token_sha256, principal, role, amr, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, hashToken(tok), id.Principal, id.Role, pq.StringArray(id.AMR), now, now.Add(staffSessionLifetime)); err != nil {
		return fmt.Errorf("store staff session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: staffCookie, Value: tok, Path: "/staff", HttpOnly: true, Secure: s.secureCookies(),
		SameSite: http.SameSiteLaxMode, MaxAge: int(staffSessionLifetime / time.Second)})
	return nil
}

// staffSession finds the session of the request's cookie; errNoSession if
// there is none or it has ended.
func (s *Server) staffSession(r *http.Request) (StaffSession, error) {
	c, err := r.Cookie(staffCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return StaffSession{}, errNoSession
	}
	var row struct {
		Principal string         `db:"principal"`
		Role      string         `db:"role"`
		AMR       pq.StringArray `db:"amr"`
	}
	err = s.DB.GetContext(r.Context(), &row, `SELECT principal, role, amr FROM staff_sessions WHERE token_sha256 = $1 AND expires_at > $2`,
		hashToken(c.Value), s.now())
	if errors.Is(err, sql.ErrNoRows) {
		return StaffSession{}, errNoSession
	}
	if err != nil {
		return StaffSession{}, err
	}
	return StaffSession{Principal: row.Principal, Role: row.Role, AMR: row.AMR, token: c.Value}, nil
}

// staffOnly runs h for a signed-in staff member with one of roles; a
// form post must carry the session's CSRF token and come from this site.
func (s *Server) staffOnly(roles []string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		staffHeaders(w)
		if s.Staff == nil {
			s.staffRender(w, http.StatusNotFound, staffPage{Title: "Staff sign-in is not configured",
				Message: "Set CANDOR_OIDC_ISSUER, CANDOR_OIDC_CLIENT_ID and CANDOR_OIDC_ROLES."})
			return
		}
		m, err := s.staffSession(r)
		if errors.Is(err, errNoSession) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/staff/login", http.StatusSeeOther)
				return
			}
			s.staffRender(w, http.StatusUnauthorized, staffPage{Title: "Please sign in", SignIn: true})
			return
		}
		if err != nil {
			s.staffRender(w, http.StatusServiceUnavailable, staffPage{Title: "Please try again", Message: "Could not check your session."})
			return
		}
		if !slices.Contains(roles, m.Role) {
			s.staffRender(w, http.StatusForbidden, staffPage{Title: "Not allowed", Message: "This page is not open to the " + m.Role + " role."})
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			got := r.PostFormValue("csrf")
			if !s.sameOrigin(r) || got == "" || !hmac.Equal([]byte(got), []byte(m.csrf())) {
				s.staffRender(w, http.StatusForbidden, staffPage{Title: "Form expired", Message: "This form is out of date or came from another site."})
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), staffKey{}, m)))
	}
}

// staffRoles are the roles that may use the console.
var staffRoles = []string{store.RoleOperator, store.RoleAuditor}

// staffHome is GET /staff.
func (s *Server) staffHome(w http.ResponseWriter, r *http.Request) {
	m, _ := StaffFrom(r.Context())
	s.staffRender(w, http.StatusOK, staffPage{Title: "Staff console", Session: &m, CSRF: m.csrf()})
}

// staffLogout is POST /staff/logout: the session ends on every replica.
func (s *Server) staffLogout(w http.ResponseWriter, r *http.Request) {
	m, _ := StaffFrom(r.Context())
	if _, err := s.DB.ExecContext(r.Context(), `DELETE FROM staff_sessions WHERE token_sha256 = $1`, hashToken(m.token)); err != nil {
		s.staffRender(w, http.StatusServiceUnavailable, staffPage{Title: "Please try again", Message: "Could not end your session."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: staffCookie, Path: "/staff", HttpOnly: true, Secure: s.secureCookies(),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	s.staffRender(w, http.StatusOK, staffPage{Title: "Signed out", Message: "Your staff session has ended.", SignIn: true})
}

// codecStaffBearer accepts the Temporal UI's passAccessToken calls: a
// bearer token that is not a Candor API token is checked against the OIDC
// issuer (signature, audience, expiry, MFA) and must map to the operator
// role. Candor API tokens (cnd_…) go on to authed.
func (s *Server) codecStaffBearer(next, codec http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok = strings.TrimSpace(tok)
		if !ok || s.Staff == nil || tok == "" || strings.HasPrefix(tok, "cnd_") {
			next(w, r)
			return
		}
		if len(tok) > 16<<10 {
			apiError(w, http.StatusUnauthorized, "token too long")
			return
		}
		id, err := s.Staff.VerifyBearer(r.Context(), tok)
		switch {
		case errors.Is(err, staff.ErrNoMFA) || errors.Is(err, staff.ErrNoRole):
			apiError(w, http.StatusForbidden, err.Error())
			return
		case errors.Is(err, staff.ErrBadToken):
			w.Header().Set("WWW-Authenticate", `Bearer realm="candor", error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, err.Error())
			return
		case err != nil:
			apiError(w, http.StatusServiceUnavailable, "could not reach the sign-in provider, try again")
			return
		case id.Role != store.RoleOperator:
			apiError(w, http.StatusForbidden, "decoding payloads needs the operator role, not "+id.Role)
			return
		}
		codec(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, store.Token{ID: id.Principal, Role: id.Role})))
	}
}
