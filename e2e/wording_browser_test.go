package e2e

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
)

// frameText is the text of the body of the document in the iframe css,
// read by switching into the frame and back.
func (w *webDriver) frameText(css string) string {
	w.t.Helper()
	w.call("POST", "/frame", map[string]any{"id": map[string]string{webElementKey: w.find(css)}}, nil)
	defer w.call("POST", "/frame/parent", map[string]any{}, nil)
	return w.text("body")
}

// A merchant edits the Italian button text on the settings page in a real
// headless chromium, sees it in the Italian email's preview as it types,
// previews it again with the button, saves; then types HTML into the field, and sees the error next to it
// with nothing saved.
func TestSettingsWording_PreviewAndRefusalInARealBrowser(t *testing.T) {
	db, _ := storetest.New(t)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	ctx := context.Background()
	sealed, _ := ring.Seal([]byte("shpat_x"), shop)
	if err := db.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: sealed, Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatal(err)
	}
	candor := httptest.NewServer((&web.Server{DB: db, Keys: ring, PublicURL: "http://candor.test",
		Logger: slog.New(slog.DiscardHandler), TemporalRetention: 24 * time.Hour}).Handler())
	t.Cleanup(candor.Close)

	br := startBrowser(t)
	br.open(candor.URL + "/app/login?token=" + web.LoginLink(ring, shop, 15*time.Minute, time.Now()))
	br.follow("button[type=submit]")
	br.follow(`a[href="/app/settings"]`)

	// Edit the Italian button text and preview the Italian email: live,
	// as it is typed (/app/preview.js), then with the Preview button,
	// which works without JavaScript.
	br.click("#wording-it summary")
	br.click(`#f-preview_lang option[value="it"]`)
	br.fill("#f-wording_it_button", "Dicci la tua!")
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(br.attr("#email-preview iframe", "srcdoc"), "Dicci la tua!") {
		if time.Now().After(deadline) {
			t.Fatalf("the preview did not follow the typing: %q", br.attr("#email-preview iframe", "srcdoc"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := br.frameText("#email-preview iframe"); !strings.Contains(got, "Grazie per il tuo ordine #TEST-1001.") {
		t.Errorf("the live preview is not the Italian email:\n%s", got)
	}
	if ws, _ := store.EmailWording(ctx, db, shop); len(ws) != 0 {
		t.Fatalf("the live preview saved wording: %v", ws)
	}
	br.follow("#preview")
	if got := br.text("[role=status]"); !strings.Contains(got, "nothing was saved") {
		t.Errorf("the preview does not say it saved nothing: %q", got)
	}
	if got := br.text("#preview-subject"); got != "[Test] Ti è piaciuto il tuo ordine #TEST-1001?" {
		t.Errorf("preview subject = %q", got)
	}
	if got := br.frameText("#email-preview iframe"); !strings.Contains(got, "Dicci la tua!") || !strings.Contains(got, "Grazie per il tuo ordine #TEST-1001.") {
		t.Errorf("the Italian preview lacks the new button text:\n%s", got)
	}
	if ws, _ := store.EmailWording(ctx, db, shop); len(ws) != 0 {
		t.Fatalf("the preview saved wording: %v", ws)
	}

	// Save it: the form keeps the typed value, so Save sends it.
	br.follow("form[action='/app/settings'] button[type=submit]:not([formaction])")
	if got := br.text("[role=status]"); !strings.Contains(got, "Settings saved") {
		t.Fatalf("no confirmation after saving: %q", got)
	}
	want := store.Wordings{"it": {Button: "Dicci la tua!"}}
	if ws, _ := store.EmailWording(ctx, db, shop); !reflect.DeepEqual(ws, want) {
		t.Fatalf("saved wording %v, want %v", ws, want)
	}

	// HTML in the button text: refused next to the field, nothing saved.
	br.fill("#f-wording_it_button", "<b>Recensisci</b>")
	br.follow("form[action='/app/settings'] button[type=submit]:not([formaction])")
	if got := br.text("#wording_it_button-error"); !strings.Contains(got, "HTML is not accepted") {
		t.Errorf("button text error = %q", got)
	}
	if got := br.attr("#f-wording_it_button", "aria-describedby"); !strings.Contains(got, "wording_it_button-error") {
		t.Errorf("the field is not described by its error: %q", got)
	}
	if got := br.text("[role=alert]"); !strings.Contains(got, "Nothing was saved") {
		t.Errorf("no alert saying nothing was saved: %q", got)
	}
	if ws, _ := store.EmailWording(ctx, db, shop); !reflect.DeepEqual(ws, want) {
		t.Fatalf("a refused form changed the wording: %v", ws)
	}
}
