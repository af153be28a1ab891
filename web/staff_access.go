package web

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/store"
)

// The access review, for operators and auditors: in the staff console
// behind its OIDC sign-in, or with an operator or auditor bearer token
// (scripts, and deployments with no OIDC issuer).

// staffOrBearer serves h to a request with a bearer token of one of roles
// (as the API does), and otherwise, where the staff console is set up, to
// a staff member signed in with one of roles.
func (s *Server) staffOrBearer(roles []string, h http.HandlerFunc) http.HandlerFunc {
	console, api := s.staffOnly(roles, h), s.authed(roles, h)
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Staff == nil || r.Header.Get("Authorization") != "" {
			api(w, r)
			return
		}
		console(w, r)
	}
}

var staffAccessPage = template.Must(template.New("staff-access").Funcs(template.FuncMap{"join": strings.Join}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Candor: access review</title></head><body>
<main>
<h1>Access review</h1>
<p>Every API token on record, at {{.At.Format "2006-01-02 15:04 MST"}}. Flagged: <strong>stale</strong> (not used for {{.Stale}}),
<strong>never-used</strong>, <strong>expiring</strong> (within {{.Expiring}}), expired, revoked.
{{.NeedLook}} not revoked need a look. Revoke with <code>candor tokens revoke ID</code>; replace with <code>candor tokens rotate ID</code>.</p>
<table>
<caption>Principals</caption>
<thead><tr><th scope="col">ID</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Scope</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Flags</th></tr></thead>
<tbody>
{{range .Principals}}<tr><td><code>{{.ID}}</code></td><td>{{.Name}}</td><td>{{.Role}}</td><td>{{.Scope}}</td><td>{{.CreatedAt.Format "2006-01-02"}}</td>
<td>{{if .LastUsedAt}}{{.LastUsedAt.Format "2006-01-02"}}{{else}}never{{end}}</td><td>{{.ExpiresAt.Format "2006-01-02"}}</td><td>{{join .Flags ", "}}</td></tr>
{{else}}<tr><td colspan="8">No tokens.</td></tr>{{end}}
</tbody></table>
<h2>Merchant sessions</h2>
<p>Signed in to the merchant pages; each ends on logout, after 12 hours, or when its shop uninstalls.</p>
<table>
<caption>Live sessions per shop</caption>
<thead><tr><th scope="col">Shop</th><th scope="col">Live</th><th scope="col">Newest</th></tr></thead>
<tbody>
{{range .Sessions}}<tr><td>{{.Shop}}</td><td>{{.Live}}</td><td>{{.Newest.Format "2006-01-02 15:04"}}</td></tr>
{{else}}<tr><td colspan="3">None.</td></tr>{{end}}
</tbody></table>
</main></body></html>`))

// staffAccess is GET /staff/access: the access review as `candor access
// review` prints it; JSON when the client asks for application/json.
func (s *Server) staffAccess(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	rs, err := s.DB.AccessReview(r.Context(), now)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not read the tokens, try again")
		return
	}
	sessions, err := s.DB.LiveSessions(r.Context(), now)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not read the sessions, try again")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"at": now.UTC(), "principals": rs, "merchant_sessions": sessions})
		return
	}
	needLook := 0
	for _, p := range rs {
		if len(p.Flags) > 0 && p.RevokedAt == nil {
			needLook++
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	_ = staffAccessPage.Execute(w, map[string]any{"At": now.UTC(), "Principals": rs, "Sessions": sessions, "NeedLook": needLook,
		"Stale": config.FormatDuration(store.StaleAfter), "Expiring": config.FormatDuration(store.ExpiringWithin)})
}
