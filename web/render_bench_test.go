package web

import (
	"io"
	"net/http/httptest"
	"testing"
)

// BenchmarkRender is one merchant page rendered as render does it, with
// its language's template set, against the baseline of cloning the base
// set and binding the language for the one page (what render did before
// the sets were made once per language), in the same run:
//
//	go test -run '^$' -bench Render -count 3 ./web/
func BenchmarkRender(b *testing.B) {
	p := appPage{Title: "Overview", Shop: "a.myshopify.com", Lang: "pt-BR", Data: "A message."}
	b.Run("clone_per_page", func(b *testing.B) {
		for b.Loop() {
			t, err := appTemplates.Clone()
			if err != nil {
				b.Fatal(err)
			}
			if err := t.Funcs(langFuncs(p.Lang)).ExecuteTemplate(io.Discard, "message", p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set_per_language", func(b *testing.B) {
		for b.Loop() {
			t, err := templatesIn(p.Lang)
			if err != nil {
				b.Fatal(err)
			}
			if err := t.ExecuteTemplate(io.Discard, "message", p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Every page in every language renders with its own language's set, and
// the sets are made once.
func TestTemplatesIn_OneSetPerLanguageMadeOnce(t *testing.T) {
	a, err := templatesIn("pt-BR")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := templatesIn("pt-BR"); again != a {
		t.Error("a second page in pt-BR made its template set again")
	}
	w := httptest.NewRecorder()
	if err := a.ExecuteTemplate(w, "message", appPage{Title: "x", Lang: "pt-BR"}); err != nil {
		t.Fatal(err)
	}
	if other, _ := templatesIn("de"); other == a {
		t.Error("German pages share Portuguese's set")
	}
	if unknown, _ := templatesIn("xx"); unknown == nil {
		t.Error("an unsupported language has no set")
	}
}
