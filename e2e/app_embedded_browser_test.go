package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
)

// The merchant pages as the Shopify admin loads them (an id_token and the
// admin user's locale, pt-BR), in a real headless chromium that cannot
// reach cdn.shopify.com, as here: App Bridge and Polaris never load, and
// every page still works from its own HTML, in Portuguese, with the
// documented Polaris elements and App Bridge attributes in its markup.
func TestMerchantPages_WorkWithoutShopifysScriptsInARealBrowser(t *testing.T) {
	const apiKey, secret = "app-key-e2e", "app-secret-e2e"
	db, _ := storetest.New(t)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	sealed, _ := ring.Seal([]byte("shpat_x"), shop)
	if err := db.AddShop(context.Background(), store.Shop{Domain: shop, TokenSealed: sealed, Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatal(err)
	}
	sh := shopifytest.New("shpat_x", config.ShopifyAPIVersion)
	t.Cleanup(sh.Close)
	sh.Shop = shop
	hs := httptest.NewServer((&web.Server{DB: db, Keys: ring, ShopifyAPIKey: apiKey, ShopifySecret: secret,
		Logger: slog.New(slog.DiscardHandler), TemporalRetention: 24 * time.Hour, PublicURL: "http://candor.test",
		Shopify: shopify.AdminConfig{APIVersion: config.ShopifyAPIVersion, BaseURL: sh.URL}}).Handler())
	t.Cleanup(hs.Close)

	br := startBrowser(t)
	br.open(hs.URL + "/app?embedded=1&locale=pt-BR&shop=" + shop + "&id_token=" + appSessionToken(t, apiKey, secret))
	if got := br.execute(`return [document.documentElement.lang, typeof window.shopify, String(!!customElements.get("s-page"))].join(" ")`); got != "pt-BR undefined false" {
		t.Fatalf("lang, App Bridge, Polaris = %q; want pt-BR and neither script loaded", got)
	}

	for _, p := range []struct{ path, title string }{{"/app", "Visão geral"}, {"/app/settings", "Configurações"},
		{"/app/requests", "Pedidos de avaliação recentes"}, {"/app/privacy", "Solicitações de privacidade"},
		{"/app/registry", "Registro de fluxos de dados"}, {"/app", "Visão geral"}} {
		path, title := p.path, p.title
		if br.execute(`return location.pathname`) != path {
			br.follow(`header nav a[href="` + path + `"]`) // the native nav, inside ui-nav-menu
		}
		if got := br.text("h1"); got != title {
			t.Errorf("%s: visible title %q, want %q", path, got, title)
		}
		if got := br.attr("s-page", "heading"); got != title {
			t.Errorf("%s: s-page heading %q", path, got)
		}
		br.find("s-page s-section")
		if got := br.attr("ui-nav-menu a[rel=home]", "href"); !strings.HasSuffix(got, "/app") {
			t.Errorf("%s: nav menu home link %q", path, got)
		}
		// App Bridge first in <head>, after its api-key meta.
		if got := br.execute(`const s = document.head.querySelector("script"), m = document.head.querySelector('meta[name="shopify-api-key"]');
			return s.getAttribute("src") + " " + m.content + " " + String(!!(m.compareDocumentPosition(s) & Node.DOCUMENT_POSITION_FOLLOWING))`); got != "https://cdn.shopify.com/shopifycloud/app-bridge.js "+apiKey+" true" {
			t.Errorf("%s: first script, api key, meta before it = %q", path, got)
		}
	}

	// The settings form works as plain HTML: a refused value in
	// Portuguese next to its field, then a save.
	br.follow(`header nav a[href="/app/settings"]`)
	if br.execute(`return String(document.querySelector("form[action='/app/settings']").hasAttribute("data-save-bar"))`) != "true" {
		t.Error("the settings form has no data-save-bar")
	}
	br.fill("#f-delay", "-5d")
	br.follow("form[action='/app/settings'] button[type=submit]:not([formaction])")
	if got := br.text("#delay-error"); got != "Os prazos não podem ser negativos." {
		t.Errorf("delay error = %q", got)
	}
	br.fill("#f-delay", "2d")
	br.follow("form[action='/app/settings'] button[type=submit]:not([formaction])")
	if got := br.text("[role=status]"); !strings.HasPrefix(got, "Configurações salvas.") {
		t.Fatalf("no confirmation after saving: %q", got)
	}
	if saved, _ := db.Shop(context.Background(), shop); saved.Delay != 48*time.Hour {
		t.Fatalf("delay saved as %s", saved.Delay)
	}
	// Where App Bridge is there (here a stand-in for its window.shopify,
	// whose toast records what it is shown), our script hands the page's
	// title and navigation to the admin and shows the notice as a toast.
	got := br.executeAsync(`var done = arguments[arguments.length - 1];
		window.shopify = {toast: {show: function (m) { window.toasts = (window.toasts || []).concat([m]); }}};
		var s = document.createElement("script");
		s.src = "/app/embedded.js";
		s.onload = function () {
			var shown = function (css) { return getComputedStyle(document.querySelector(css)).display !== "none"; };
			done([document.documentElement.className, shown("body > header"), shown("h1.page-title"),
				!shown("s-banner"), (window.toasts || []).join("|")].join(" / "));
		};
		document.head.appendChild(s);`)
	if !strings.HasPrefix(got, "in-admin / false / false / true / Configurações salvas.") {
		t.Errorf("with App Bridge: class / header shown / title shown / banner hidden / toasts = %q", got)
	}
	br.open(hs.URL + "/app/settings")
	// The privacy lookup form works too.
	br.follow(`header nav a[href="/app/privacy"]`)
	br.fill("#customer_id", "424242")
	br.follow("form[action='/app/privacy'] button")
	if got := br.text("main"); !strings.Contains(got, "Nenhuma solicitação de exclusão ou de dados para este cliente.") {
		t.Errorf("privacy lookup:\n%s", got)
	}
}

// execute runs script in the page and returns its result as text.
func (w *webDriver) execute(script string) string {
	w.t.Helper()
	var out string
	w.call("POST", "/execute/sync", map[string]any{"script": script, "args": []any{}}, &out)
	return out
}

// executeAsync runs script in the page, which calls its last argument with
// the result, and returns that result as text.
func (w *webDriver) executeAsync(script string) string {
	w.t.Helper()
	var out string
	w.call("POST", "/execute/async", map[string]any{"script": script, "args": []any{}}, &out)
	return out
}

// appSessionToken is an App Bridge session token for shop, signed as
// Shopify signs it (HS256 with the app's secret).
func appSessionToken(t *testing.T, apiKey, secret string) string {
	t.Helper()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now()
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	p, _ := json.Marshal(map[string]any{"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": apiKey, "sub": "42",
		"exp": now.Add(time.Minute).Unix(), "nbf": now.Add(-time.Second).Unix(), "iat": now.Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti), "sid": "e2e"})
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
