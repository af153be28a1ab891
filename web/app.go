package web

// The merchant pages' frame: the page every template gets, rendering and
// the templates. Each page group has its own file: app_overview.go,
// app_settings.go, app_requests.go, app_testemail.go, app_privacy.go and
// app_registry.go; app_auth.go is their login.

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/candorhq/candor/store"
)

// The merchant pages under /app: server-rendered, usable without
// JavaScript. They show settings and review requests, which hold no
// customer data: order names, product titles, statuses and times, never a
// customer's address, name or ID, so viewing them is not a registry touch.

// appPage is what every page template gets.
type appPage struct {
	Title  string
	Shop   string
	CSRF   string
	Nav    string // the current section, for aria-current
	Notice string // a status message after an action
	Error  string // a page-level error
	Data   any
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p appPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := appTemplates.ExecuteTemplate(w, name, p); err != nil {
		s.Logger.Error("render app page", "page", name, "error", err)
	}
}

func (s *Server) appError(w http.ResponseWriter, status int, title, msg string) {
	s.render(w, status, "message", appPage{Title: title, Error: msg})
}

var appTemplates = template.Must(template.New("app").Funcs(template.FuncMap{
	"label":           func(k string) string { return fieldLabels[k] },
	"senderRefused":   senderRefusedText,
	"reviewPlatforms": func() string { return strings.Join(store.ReviewPlatforms, ", ") },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}).Parse(appHTML))
