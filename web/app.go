package web

// The merchant pages' frame: the page every template gets, rendering and
// the templates. Each page group has its own file: app_overview.go,
// app_settings.go, app_requests.go, app_testemail.go, app_privacy.go and
// app_registry.go; app_auth.go is their login.

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"

	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/store"
)

// The merchant pages under /app: server-rendered, usable without
// JavaScript. They show settings and review requests, which hold no
// customer data: order names, product titles, statuses and times, never a
// customer's address, name or ID, so viewing them is not a registry touch.

// appPage is what every page template gets. Its texts are in the
// request's language already (tr); the templates look up their own (t).
type appPage struct {
	Title  string
	Shop   string
	CSRF   string
	Nav    string // the current section, for aria-current
	Notice string // a status message after an action
	Error  string // a page-level error
	Data   any
	Lang   string // <html lang>: set by render, from the request
	APIKey string // the app's client ID for App Bridge, on an embedded session's pages: set by render
}

// render writes page name in r's language (requestLang).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p appPage) {
	p.Lang = requestLang(r)
	// App Bridge only inside the admin: at the top level it sends the
	// browser to the admin (Shopify/shopify-app-bridge#482; shopify_app
	// renders its script tag only when embedded, Shopify/shopify_app#1887),
	// and a login-link session is not in the admin.
	if ps, _ := r.Context().Value(sessionKey{}).(pageSession); ps.embedded {
		p.APIKey = s.ShopifyAPIKey
	}
	tmpl, err := templatesIn(p.Lang)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		s.Logger.Error("render app page", "page", name, "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	if err := tmpl.ExecuteTemplate(w, name, p); err != nil {
		s.Logger.Error("render app page", "page", name, "error", err)
	}
}

// langTemplates are the merchant pages' templates once per supported
// language, t and tf bound to it: clones of the base set (appTemplates,
// never executed itself), made on the first page rendered, after every
// file's templates are parsed into the base set. html/template escapes a
// template on its first execution, so a clone per page would escape the
// templates it runs again for every page.
var langTemplates = sync.OnceValues(func() (map[string]*template.Template, error) {
	sets := make(map[string]*template.Template, len(locale.Supported))
	for _, lang := range locale.Supported {
		t, err := appTemplates.Clone()
		if err != nil {
			return nil, err
		}
		sets[lang] = t.Funcs(langFuncs(lang))
	}
	return sets, nil
})

// templatesIn is lang's template set; Default's for a language not
// supported.
func templatesIn(lang string) (*template.Template, error) {
	sets, err := langTemplates()
	if err != nil {
		return nil, err
	}
	if t, ok := sets[lang]; ok {
		return t, nil
	}
	return sets[locale.Default], nil
}

// appError shows a message page: title and msg are merchantText keys, msg
// formatted with args.
func (s *Server) appError(w http.ResponseWriter, r *http.Request, status int, title, msg string, args ...any) {
	s.render(w, r, status, "message", appPage{Title: tr(r, title), Error: tr(r, msg, args...)})
}

// sessionKey holds, in a request's context, what the pages need of the
// merchant session that made it.
type sessionKey struct{}

type pageSession struct {
	lang     string // empty leaves the choice to requestLang's other sources
	embedded bool
}

// withSession returns r carrying m's language and whether it is embedded.
func withSession(r *http.Request, m merchantSession) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, pageSession{lang: m.Lang, embedded: m.Embedded}))
}

// requestLang is the language of the merchant pages for r: the session's
// (the admin user's locale when Shopify loaded the app), else the locale
// parameter of this request (Shopify adds it to an embedded app's URL:
// https://shopify.dev/tutorials/update-your-app-to-support-localization,
// "How Shopify sends the locale to apps"), else the browser's
// Accept-Language, matched to a supported language by locale.Match.
func requestLang(r *http.Request) string {
	if ps, _ := r.Context().Value(sessionKey{}).(pageSession); ps.lang != "" {
		return ps.lang
	}
	prefs := []string{r.URL.Query().Get("locale")}
	if tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		for _, t := range tags {
			prefs = append(prefs, t.String())
		}
	}
	return locale.Match(prefs...)
}

// tr is merchantText's key in r's language, formatted with args if any.
func tr(r *http.Request, key string, args ...any) string { return trLang(requestLang(r), key, args...) }

func trLang(lang, key string, args ...any) string {
	t := merchantText.T(lang, key)
	if len(args) > 0 {
		return fmt.Sprintf(t, args...)
	}
	return t
}

// Date layouts for stampIn: a merchantText key each, a Go time layout whose
// "Jan" becomes the month's name in the language (date.month.1 to 12).
const (
	layoutDay     = "date.day"     // a date
	layoutMinute  = "date.minute"  // a date and time, with its zone
	layoutSeconds = "date.seconds" // the same to the second
)

// stampIn writes t in lang with the layout named by key, in t's location.
func stampIn(lang, key string, t time.Time) string {
	month := trLang(lang, "date.month."+strconv.Itoa(int(t.Month())))
	return strings.Replace(t.Format(trLang(lang, key)), t.Format("Jan"), month, 1)
}

// stampUTC is stampIn in UTC for a time.Time or a *time.Time (nil: "").
func stampUTC(lang, key string, v any) string {
	switch t := v.(type) {
	case time.Time:
		return stampIn(lang, key, t.UTC())
	case *time.Time:
		if t != nil {
			return stampIn(lang, key, t.UTC())
		}
	}
	return ""
}

// langFuncs are the template functions that depend on the language.
func langFuncs(lang string) template.FuncMap {
	return template.FuncMap{
		"t":  func(key string) string { return trLang(lang, key) },
		"tf": func(key string, args ...any) string { return trLang(lang, key, args...) },
		"label": func(field string) string {
			if l, ok := wordingLabel(lang, field); ok {
				return l
			}
			return trLang(lang, "field."+field)
		},
		"senderRefused": func(sender string) string { return senderRefusedText(lang, sender) },
		// utc and utcSeconds write a time in UTC, as the privacy and
		// registry pages show them.
		"utc":        func(t any) string { return stampUTC(lang, layoutMinute, t) },
		"utcSeconds": func(t any) string { return stampUTC(lang, layoutSeconds, t) },
	}
}

var appTemplates = template.Must(template.New("app").Funcs(langFuncs(locale.Default)).Funcs(template.FuncMap{
	"reviewPlatforms": func() string { return strings.Join(store.ReviewPlatforms, ", ") },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}).Parse(appHTML))
