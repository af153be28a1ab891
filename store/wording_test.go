package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// Wording is plain text: each bad value is refused with its own field's
// name, and good text (accents, quotes, {order} where it belongs) passes.
func TestWording_ProblemsNameTheField(t *testing.T) {
	for _, c := range []struct {
		lang  string
		w     store.Wording
		field string
	}{
		{"it", store.Wording{Button: "<b>Recensisci</b>"}, "wording_it_button"},
		{"it", store.Wording{Button: "Ciao {order}"}, "wording_it_button"},
		{"fr", store.Wording{Opening: "Bonjour {{.Name}}"}, "wording_fr_opening"},
		{"fr", store.Wording{Opening: "Bonjour {first_name}"}, "wording_fr_opening"},
		{"de", store.Wording{Subject: "Zwei\nZeilen"}, "wording_de_subject"},
		{"de", store.Wording{Subject: "}} {order}"}, "wording_de_subject"},
		{"pt-BR", store.Wording{Subject: strings.Repeat("á", store.MaxWordingSubject+1)}, "wording_pt_BR_subject"},
		{"es", store.Wording{Button: strings.Repeat("x", store.MaxWordingButton+1)}, "wording_es_button"},
		{"en", store.Wording{Subject: "Hello {order}"}, "wording_en_subject"},
		{"xx", store.Wording{Button: "Go"}, "wording_xx_subject"},
	} {
		ps := c.w.Problems(c.lang)
		if len(ps) != 1 || ps[0].Field != c.field {
			t.Errorf("%s %+v: problems %v, want one for %s", c.lang, c.w, ps, c.field)
		}
	}
	good := store.Wording{Subject: "Ti è piaciuto l'ordine {order}?", Opening: "Grazie di cuore per l'ordine {order} — a presto!", Button: "Dicci la tua"}
	if ps := good.Problems("it"); len(ps) != 0 {
		t.Errorf("good wording refused: %v", ps[0])
	}
}

// Settings and wording are saved together or not at all: a bad wording
// leaves both as they were, and a good save replaces both.
func TestSaveSettingsAndWording_IsAtomic(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	s := store.Shop{Domain: "words.myshopify.com", TokenSealed: "v1.x.y", Settings: store.DefaultSettings("words.myshopify.com")}
	if err := db.AddShop(ctx, s); err != nil {
		t.Fatal(err)
	}
	st := s.Settings
	st.Subject = "Your order {order}"
	var fe *store.FieldError
	err := db.SaveSettingsAndWording(ctx, s.Domain, st, 0, store.Wordings{"it": {Button: "Vai"}, "de": {Opening: "<script>"}})
	if !errors.As(err, &fe) || fe.Field != "wording_de_opening" {
		t.Fatalf("bad wording: %v, want the German opening's field error", err)
	}
	got, _ := db.Shop(ctx, s.Domain)
	ws, err := store.EmailWording(ctx, db, s.Domain)
	if err != nil || got.Subject != s.Subject || len(ws) != 0 {
		t.Fatalf("a refused save changed something: subject %q, wording %v, %v", got.Subject, ws, err)
	}
	// A setting the save refuses leaves the wording unsaved too.
	bad := st
	bad.Delay = -time.Second
	if err := db.SaveSettingsAndWording(ctx, s.Domain, bad, 0, store.Wordings{"it": {Button: "Vai"}}); err == nil {
		t.Fatal("bad settings saved")
	}
	if ws, _ := store.EmailWording(ctx, db, s.Domain); len(ws) != 0 {
		t.Fatalf("wording saved with refused settings: %v", ws)
	}
	want := store.Wordings{"it": {Button: "Vai"}, "fr": {Subject: "Commande {order}", Opening: "Merci\u00a0!"}}
	if err := db.SaveSettingsAndWording(ctx, s.Domain, st, 0, want); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Shop(ctx, s.Domain)
	if ws, err = store.EmailWording(ctx, db, s.Domain); err != nil || !reflect.DeepEqual(ws, want) || got.Subject != st.Subject {
		t.Fatalf("saved wording %v, subject %q, %v; want %v, %q", ws, got.Subject, err, want, st.Subject)
	}
	// Emptied languages lose their row: the shipped text applies again.
	if err := db.SaveSettingsAndWording(ctx, s.Domain, st, 0, store.Wordings{"it": {}}); err != nil {
		t.Fatal(err)
	}
	if ws, _ = store.EmailWording(ctx, db, s.Domain); len(ws) != 0 {
		t.Fatalf("emptied wording kept: %v", ws)
	}
}

// The English subject is plain text with {order} as its only placeholder.
func TestSettings_SubjectIsPlainTextWithOnlyTheOrder(t *testing.T) {
	for _, subject := range []string{"<b>{order}</b>", "{{order}}", "Order {order} }", "Hi {first_name}"} {
		st := store.DefaultSettings("a.myshopify.com")
		st.Subject = subject
		if err := st.Validate(); err == nil {
			t.Errorf("subject %q accepted", subject)
		}
	}
}
