package web_test

import (
	"context"
	"html"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/store"
)

// The admin user's locale, which Shopify passes on the embedded load, is
// the session's language on every page after it, whatever the browser's
// Accept-Language says; the settings form's errors and notice follow it.
// Without a session locale, Accept-Language decides, even before login.
func TestApp_PagesFollowTheAdminUsersLocale(t *testing.T) {
	e := newAppEnv(t)
	c := browser(t)
	de := http.Header{"Accept-Language": {"de-DE,de;q=0.9"}}
	load := sessionToken(t, "HS256", appSecret, claimsFor(shop, time.Now()))
	status, _, body := do(t, c, "GET", e.url+"/app?embedded=1&locale=pt-BR&id_token="+load, nil, de)
	if status != 200 || !strings.Contains(body, `<html lang="pt-BR">`) || !strings.Contains(body, "Visão geral") ||
		!strings.Contains(body, "Enviar um e-mail de teste para mim") {
		t.Fatalf("embedded load with locale=pt-BR: %d\n%s", status, body)
	}
	csrf := csrfRe.FindStringSubmatch(body)[1]

	status, _, body = do(t, c, "GET", e.url+"/app/settings", nil, de)
	if status != 200 || !strings.Contains(body, `<html lang="pt-BR">`) || !strings.Contains(body, "Salvar configurações") ||
		!strings.Contains(body, "Prazo após a entrega") || !strings.Contains(body, "plataforma de avaliações: judge.me, trustpilot.com") ||
		strings.Contains(body, "Save settings") {
		t.Fatalf("settings after the pt-BR load: %d\n%s", status, body)
	}
	status, _, body = do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, map[string]string{"delay": "-5d", "max_emails": "three"}), de)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Nada foi salvo. Corrija os campos abaixo.") ||
		!strings.Contains(body, "Os prazos não podem ser negativos.") || !strings.Contains(body, html.EscapeString(`"three" não é um número inteiro.`)) {
		t.Fatalf("refused form in pt-BR: %d\n%s", status, body)
	}
	status, h, _ := do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, map[string]string{"delay": "2d"}), de)
	if status != http.StatusSeeOther {
		t.Fatalf("good form: %d", status)
	}
	_, _, body = do(t, c, "GET", e.url+h.Get("Location"), nil, de)
	if !strings.Contains(body, "Configurações salvas.") {
		t.Errorf("no pt-BR notice after saving:\n%s", body)
	}
	e.addRequest(t, shop, 1002, "#1002", store.StatusSkipped, "unsubscribed", store.Product{ID: 8802, Title: "Wool Socks"})
	if _, _, body = do(t, c, "GET", e.url+"/app/requests", nil, de); !strings.Contains(body, "ignorado: o cliente cancelou a inscrição") {
		t.Errorf("the skipped request's status and reason are not in pt-BR:\n%s", body)
	}
	for _, page := range []string{"/app/requests", "/app/privacy", "/app/registry"} {
		_, _, body = do(t, c, "GET", e.url+page, nil, de)
		if !strings.Contains(body, `<html lang="pt-BR">`) || !strings.Contains(body, "Pedidos de avaliação") {
			t.Errorf("%s is not in pt-BR:\n%s", page, body)
		}
	}

	// A login-link session has no admin locale: the browser's language.
	lc, _ := e.login(t, shop)
	for accept, want := range map[string]string{"de-CH, en;q=0.5": "Einstellungen speichern", "fr-CA": "Enregistrer les paramètres",
		"it": "Salva impostazioni", "es-419": "Guardar configuración", "ja": "Save settings"} {
		_, _, body = do(t, lc, "GET", e.url+"/app/settings", nil, http.Header{"Accept-Language": {accept}})
		if !strings.Contains(body, want) {
			t.Errorf("Accept-Language %q: no %q", accept, want)
		}
	}
	status, _, body = do(t, browser(t), "GET", e.url+"/app", nil, http.Header{"Accept-Language": {"es-ES"}})
	if status != http.StatusUnauthorized || !strings.Contains(body, `<html lang="es">`) || !strings.Contains(body, "Inicia sesión") {
		t.Errorf("not logged in, in Spanish: %d\n%s", status, body)
	}
}

// Every merchant page carries what Shopify prescribes for an embedded app:
// the shopify-api-key meta and App Bridge as the first script in <head>,
// Polaris from Shopify's CDN (never a copy of ours), <s-page> with the
// title, <s-section>, the admin nav menu with its home link, and a save bar
// on the settings form. The CSP lets the shop's own admin and
// admin.shopify.com frame it, nobody else, and lets the CDN's scripts run.
// A login-link session is not in the admin: no App Bridge, which would send
// the browser there.
func TestApp_PagesUseAppBridgeAndPolarisMarkup(t *testing.T) {
	e := newAppEnv(t)
	c := browser(t)
	load := sessionToken(t, "HS256", appSecret, claimsFor(shop, time.Now()))
	if status, _, _ := do(t, c, "GET", e.url+"/app?embedded=1&id_token="+load, nil, nil); status != 200 {
		t.Fatalf("embedded load: %d", status)
	}
	head := regexp.MustCompile(`(?s)<head>(.*?)</head>`)
	scripts := regexp.MustCompile(`<script[^>]*>`)
	for page, title := range map[string]string{"/app": "Overview", "/app/settings": "Settings", "/app/requests": "Recent review requests",
		"/app/privacy": "Privacy requests", "/app/registry": "Data-flow registry"} {
		status, h, body := do(t, c, "GET", e.url+page, nil, nil)
		if status != 200 {
			t.Fatalf("%s: %d", page, status)
		}
		hd := head.FindStringSubmatch(body)[1]
		ss := scripts.FindAllString(hd, -1)
		if len(ss) != 3 || ss[0] != `<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js">` ||
			ss[1] != `<script src="/app/embedded.js">` || ss[2] != `<script src="https://cdn.shopify.com/shopifycloud/polaris.js">` {
			t.Errorf("%s: scripts in <head> %q, want App Bridge, ours for the admin, then Polaris from cdn.shopify.com", page, ss)
		}
		meta := strings.Index(hd, `<meta name="shopify-api-key" content="`+appKey+`">`)
		if meta < 0 || meta > strings.Index(hd, "<script") {
			t.Errorf("%s: no shopify-api-key meta before App Bridge:\n%s", page, hd)
		}
		// The settings page adds its live preview (/app/preview.js).
		want := 3
		if page == "/app/settings" {
			want = 4
			if !strings.Contains(body, `<script src="/app/preview.js" defer>`) {
				t.Errorf("%s: no live preview script", page)
			}
		}
		if n := len(scripts.FindAllString(body, -1)); n != want {
			t.Errorf("%s: %d scripts on the page, want %d: Shopify's two and ours", page, n, want)
		}
		for _, want := range []string{`<s-page heading="` + title + `">`, `<h1 class="page-title">` + title + `</h1>`, "<s-section>", "</s-page>",
			`<ui-nav-menu>`, `<a href="/app" rel="home"`, `<a href="/app/settings"`, `</ui-nav-menu>`, `<html lang="en">`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s", page, want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors https://"+shop+" https://admin.shopify.com") || strings.Contains(csp, "*") ||
			!strings.Contains(csp, "script-src 'self' https://cdn.shopify.com") {
			t.Errorf("%s: CSP %q", page, csp)
		}
	}
	_, _, body := do(t, c, "GET", e.url+"/app/settings", nil, nil)
	if !regexp.MustCompile(`<form method="post" action="/app/settings" novalidate data-save-bar>`).MatchString(body) {
		t.Error("the settings form has no data-save-bar")
	}
	// A notice is also an admin toast, by App Bridge's shopify.toast.show.
	_, _, body = do(t, c, "GET", e.url+"/app/settings?notice=saved", nil, nil)
	if !strings.Contains(body, `<p class="notice" role="status" data-toast>Settings saved.`) {
		t.Errorf("the notice is not marked for a toast:\n%s", body)
	}
	status, h, js := do(t, browser(t), "GET", e.url+"/app/embedded.js", nil, nil)
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") || !strings.Contains(js, "shopify.toast.show(n.textContent)") {
		t.Errorf("embedded.js: %d %q\n%s", status, h.Get("Content-Type"), js)
	}
	lc, _ := e.login(t, shop)
	_, _, body = do(t, lc, "GET", e.url+"/app/settings", nil, nil)
	if hd := head.FindStringSubmatch(body)[1]; strings.Contains(hd, "app-bridge.js") || strings.Contains(hd, "shopify-api-key") || strings.Contains(hd, "embedded.js") ||
		!strings.Contains(hd, `<script src="https://cdn.shopify.com/shopifycloud/polaris.js">`) || !strings.Contains(body, "<s-page") {
		t.Errorf("a login-link session's page: want Polaris and no App Bridge:\n%s", hd)
	}
	// Before the shop is known, only the admin may frame the answer.
	_, h, _ = do(t, browser(t), "GET", e.url+"/app", nil, nil)
	if csp := h.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors https://admin.shopify.com") {
		t.Errorf("CSP without a session: %q", csp)
	}
}

// Every page renders whole in every language: no text key shows instead of
// its text, and no fmt argument is missing or left over.
func TestApp_EveryPageRendersInEveryLanguage(t *testing.T) {
	e := newAppEnv(t)
	e.addRequest(t, shop, 1002, "#1002", store.StatusSkipped, "cap_emails", store.Product{ID: 8802, Title: "Wool Socks"})
	key := regexp.MustCompile(`\b(?:layout|nav|login|logout|notice|overview|test|status|field|settings|requests|privacy|registry|error|date|reason)\.[a-z_]+(?:\.[a-z_0-9]+)*\b`)
	for _, lang := range []string{"en", "pt-BR", "es", "fr", "it", "de"} {
		c := browser(t)
		load := sessionToken(t, "HS256", appSecret, claimsFor(shop, time.Now()))
		status, _, body := do(t, c, "GET", e.url+"/app?embedded=1&locale="+lang+"&id_token="+load, nil, nil)
		if status != 200 {
			t.Fatalf("%s: embedded load %d", lang, status)
		}
		csrf := csrfRe.FindStringSubmatch(body)[1]
		pages := map[string]string{"overview": body}
		for _, p := range []string{"/app/settings?notice=saved", "/app/requests", "/app/privacy?customer_id=7001", "/app/registry", "/app?notice=test-sent"} {
			_, _, pages[p] = do(t, c, "GET", e.url+p, nil, nil)
		}
		_, _, pages["refused settings"] = do(t, c, "POST", e.url+"/app/settings",
			settingsForm(csrf, map[string]string{"delay": "soon", "max_products": "x", "window_start": "25:00", "excluded_products": "abc", "product_once": "maybe"}), nil)
		for name, page := range pages {
			if !strings.Contains(page, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: not in %s", lang, name, lang)
			}
			if strings.Contains(page, "%!") {
				t.Errorf("%s %s: a fmt argument is wrong: %s", lang, name, page[max(0, strings.Index(page, "%!")-80):strings.Index(page, "%!")+40])
			}
			for _, k := range key.FindAllString(page, -1) {
				t.Errorf("%s %s shows the key %q", lang, name, k)
			}
		}
	}
}

// The problems package store finds in a settings form (store.FieldError)
// are shown in the admin user's language, each next to its field, and
// nothing is saved.
func TestSettings_StoreProblemsInTheAdminUsersLanguage(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	pt := http.Header{"Accept-Language": {"pt-BR"}}
	before, _ := e.db.Shop(context.Background(), shop)
	for _, tc := range []struct {
		change map[string]string
		want   map[string]string // field → its error
	}{
		{map[string]string{"time_zone": "Mars/Olympus_Mons", "review_url": "http://{shop}/p/{handle}", "max_products": "11",
			store.WordingField("de", store.WordingButton): "Jetzt {bewerten}"},
			map[string]string{"time_zone": `"Mars/Olympus_Mons" não é um fuso horário IANA`,
				"review_url":   `o modelo do link de avaliação "http://{shop}/p/{handle}" deve ser um URL https://`,
				"max_products": "um e-mail pergunta sobre 1 a 10 produtos",
				store.WordingField("de", store.WordingButton): "use texto simples: sem marcadores nem { } aqui"}},
		{map[string]string{"review_url": "https://evil.example/{handle}"},
			map[string]string{"review_url": "os links de avaliação devem ficar nos domínios da sua loja ({shop}, ou o domínio principal na Shopify) ou em uma plataforma de avaliações (judge.me, trustpilot.com, search.google.com, g.page); evil.example não é nenhum deles"}},
		{map[string]string{store.KeepRequestsField: "5d"},
			map[string]string{store.KeepRequestsField: "guardar os pedidos de avaliação por 5d é menos que o mínimo de 30d"}},
		{map[string]string{store.KeepRequestsField: "30d", "fallback_delay": "45d"},
			map[string]string{store.KeepRequestsField: "pedidos de avaliação guardados por 30d expirariam antes do último e-mail: os prazos desta loja precisam de pelo menos 54d (alternativo 45d + após a entrega 7d + margem 2d)"}},
	} {
		status, _, body := do(t, c, "POST", e.url+"/app/settings", settingsForm(csrf, tc.change), pt)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Nada foi salvo.") {
			t.Fatalf("%v: %d\n%s", tc.change, status, body)
		}
		for field, want := range tc.want {
			errP := regexp.MustCompile(`<p class="error" id="` + regexp.QuoteMeta(field) + `-error">[^<]*</p>`).FindString(body)
			if !strings.Contains(errP, htmlEscape(want)) {
				t.Errorf("%v: the error next to %s is %q, want %q", tc.change, field, errP, want)
			}
		}
		for _, english := range []string{"is not an IANA", "must be an https://", "an email asks about", "use plain text", "must stay on your shop",
			"shorter than the minimum", "would expire before"} {
			if strings.Contains(body, english) {
				t.Errorf("%v: the pt-BR page says %q", tc.change, english)
			}
		}
	}
	if after, _ := e.db.Shop(context.Background(), shop); !reflect.DeepEqual(after.Settings, before.Settings) {
		t.Errorf("a refused form changed the settings: %+v", after.Settings)
	}
}
