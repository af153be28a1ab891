package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/web"
)

var srcdocRe = regexp.MustCompile(`<iframe[^>]* srcdoc="([^"]*)"`)

// previewOf is the email the settings page previews, unescaped from its
// frame's srcdoc, and the subject it shows.
func previewOf(t *testing.T, body string) (subject, email string) {
	t.Helper()
	m := srcdocRe.FindStringSubmatch(body)
	if m == nil {
		return "", ""
	}
	s := regexp.MustCompile(`<span id="preview-subject">([^<]*)</span>`).FindStringSubmatch(body)
	if s == nil {
		t.Fatalf("a preview without its subject:\n%s", body)
	}
	return html.UnescapeString(s[1]), html.UnescapeString(m[1])
}

// Bad wording is shown next to its field, the form keeps what was typed,
// and nothing is saved: not the wording, not the rest of the form.
func TestApp_WordingRefusesBadInputNextToItsFieldAndSavesNothing(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	ctx := context.Background()
	before, _ := e.db.Shop(ctx, shop)
	for _, tc := range []struct {
		name, field, value, msg string
	}{
		{"HTML", "wording_it_button", "<b>Recensisci</b>", "HTML is not accepted"},
		{"template code", "wording_fr_opening", "Bonjour {{.Customer.Name}}", "the only placeholder is {order}"},
		{"a customer's name", "wording_de_subject", "Hallo {first_name}, Bestellung {order}", "no placeholder for a customer"},
		{"a placeholder in the button", "wording_es_button", "Reseña {order}", "no placeholders"},
		{"too long", "wording_pt_BR_opening", "Obrigado!" + strings.Repeat(" Obrigado!", 30), "at most 300 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := settingsForm(csrf, map[string]string{tc.field: tc.value, "delay": "2d", "wording_it_opening": "Grazie mille per l'ordine {order}!"})
			for _, path := range []string{"/app/settings", "/app/settings/preview"} {
				status, _, body := do(t, c, "POST", e.url+path, form, nil)
				if status != http.StatusUnprocessableEntity {
					t.Fatalf("%s: status %d, want 422", path, status)
				}
				errID := tc.field + "-error"
				if !strings.Contains(body, `id="`+errID+`"`) || !strings.Contains(body, htmlEscape(tc.msg)) {
					t.Errorf("%s: no error %q next to %s:\n%s", path, tc.msg, tc.field, body)
				}
				input := regexp.MustCompile(`<input type="text" id="f-` + tc.field + `"[^>]*>`).FindString(body)
				if !strings.Contains(input, errID) || !strings.Contains(input, `aria-invalid="true"`) || !strings.Contains(input, `value="`+htmlEscape(tc.value)+`"`) {
					t.Errorf("%s: the field is not tied to its error, or lost what was typed: %s", path, input)
				}
				if !strings.Contains(body, "Nothing was saved") {
					t.Errorf("%s: no alert saying nothing was saved", path)
				}
			}
			after, _ := e.db.Shop(ctx, shop)
			ws, err := store.EmailWording(ctx, e.db, shop)
			if err != nil || len(ws) != 0 || !reflect.DeepEqual(after.Settings, before.Settings) {
				t.Errorf("a refused form saved something: wording %v, settings %+v, %v", ws, after.Settings, err)
			}
		})
	}
}

// Good wording is saved with the settings, shown again on the page, and
// the test email, in the shop's primary language, uses it.
func TestApp_WordingIsSavedAndTheTestEmailUsesIt(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	form := settingsForm(csrf, map[string]string{"wording_it_button": "Dicci la tua", "wording_it_subject": "Com'è andato l'ordine {order}?",
		"wording_en_opening": "Thanks a lot for order {order}!"})
	if status, h, body := do(t, c, "POST", e.url+"/app/settings", form, nil); status != http.StatusSeeOther || h.Get("Location") != "/app/settings?notice=saved" {
		t.Fatalf("good wording: %d %s\n%s", status, h.Get("Location"), body)
	}
	ws, err := store.EmailWording(context.Background(), e.db, shop)
	want := store.Wordings{"it": {Subject: "Com'è andato l'ordine {order}?", Button: "Dicci la tua"}, "en": {Opening: "Thanks a lot for order {order}!"}}
	if err != nil || !reflect.DeepEqual(ws, want) {
		t.Fatalf("saved wording %v, %v; want %v", ws, err, want)
	}
	if other, _ := store.EmailWording(context.Background(), e.db, otherShop); len(other) != 0 {
		t.Errorf("another shop got wording: %v", other)
	}
	_, _, page := do(t, c, "GET", e.url+"/app/settings", nil, nil)
	if !strings.Contains(page, `value="Dicci la tua"`) || !strings.Contains(page, `<details open id="wording-it"`) {
		t.Errorf("the saved wording is not on the page")
	}
	// The page previews the English email as it stands.
	if subject, email := previewOf(t, page); subject != "[Test] How was your order #TEST-1001?" || !strings.Contains(email, "Thanks a lot for order <strong>#TEST-1001</strong>!") {
		t.Errorf("the settings page's preview: %q\n%s", subject, email)
	}

	e.shopify.EditShop(func(s *shopifytest.Store) { s.PrimaryLocale = "it" })
	if status, _, _ := do(t, c, "POST", e.url+"/app/test-email", url.Values{"csrf": {csrf}, "to": {web.TestToOwner}}, nil); status != http.StatusSeeOther {
		t.Fatalf("test email: %d", status)
	}
	out := e.mail.Outbox()
	if len(out) != 1 || out[0].Subject != "[Test] Com'è andato l'ordine #TEST-1001?" || !strings.Contains(out[0].HTML, "Dicci la tua") ||
		!strings.Contains(out[0].HTML, `<html lang="it">`) {
		t.Errorf("the test email is not in the shop's Italian wording: %+v", out)
	}
}

// The preview renders the real email with the wording as typed, escaped
// into a sandboxed frame, and saves nothing; like every form it needs the
// session's CSRF token.
func TestApp_SettingsPreviewShowsTheEmailAsTypedAndSavesNothing(t *testing.T) {
	e := newAppEnv(t)
	c, csrf := e.login(t, shop)
	ctx := context.Background()
	before, _ := e.db.Shop(ctx, shop)
	form := settingsForm(csrf, map[string]string{"wording_it_button": `Dicci "la tua" & più`, "preview_lang": "it", "delay": "3d"})
	status, _, body := do(t, c, "POST", e.url+"/app/settings/preview", form, nil)
	if status != http.StatusOK || !strings.Contains(body, "nothing was saved") {
		t.Fatalf("preview: %d\n%s", status, body)
	}
	subject, email := previewOf(t, body)
	if subject != "[Test] Ti è piaciuto il tuo ordine #TEST-1001?" || !strings.Contains(email, "Dicci &#34;la tua&#34; &amp; più") ||
		!strings.Contains(email, `<html lang="it">`) || !strings.Contains(email, "https://"+shop+"/products/sample-product#reviews") {
		t.Errorf("preview: subject %q\n%s", subject, email)
	}
	iframe := regexp.MustCompile(`<iframe[^>]*>`).FindString(body)
	if !regexp.MustCompile(`\ssandbox[\s>]`).MatchString(iframe) || strings.Contains(iframe, "allow-") {
		t.Errorf("the preview frame is not fully sandboxed: %.200s", iframe)
	}
	if !strings.Contains(body, `<option value="it" selected>`) || !strings.Contains(body, `value="Dicci &#34;la tua&#34; &amp; più"`) {
		t.Error("the form does not keep what was typed")
	}
	after, _ := e.db.Shop(ctx, shop)
	if ws, _ := store.EmailWording(ctx, e.db, shop); len(ws) != 0 || !reflect.DeepEqual(after.Settings, before.Settings) {
		t.Errorf("the preview saved something: %v %+v", ws, after.Settings)
	}
	form.Set("csrf", "forged")
	if status, _, _ := do(t, c, "POST", e.url+"/app/settings/preview", form, nil); status != http.StatusForbidden {
		t.Errorf("preview without the session's CSRF token: %d, want 403", status)
	}
}
