package locale

import (
	"slices"
	"testing"
)

func TestMatch_PicksTheClosestSupportedLanguageOrEnglish(t *testing.T) {
	for _, c := range []struct {
		prefs []string
		want  string
	}{
		{[]string{"pt-BR"}, "pt-BR"},
		{[]string{"pt"}, "pt-BR"},
		{[]string{"pt-PT"}, "pt-BR"},
		{[]string{"fr-CA"}, "fr"},
		{[]string{"it-IT"}, "it"},
		{[]string{"de_CH"}, "de"},
		{[]string{"es-MX"}, "es"},
		{[]string{"ja", "fr"}, "fr"}, // the customer's Japanese is not shipped: the shop's French
		{[]string{"", "not a tag!", "it"}, "it"},
		{[]string{"ja"}, "en"},
		{nil, "en"},
		{[]string{"en-GB"}, "en"},
	} {
		if got := Match(c.prefs...); got != c.want {
			t.Errorf("Match(%q) = %q, want %q", c.prefs, got, c.want)
		}
	}
}

func TestCatalog_FallsBackToEnglishAndReportsWhatIsMissing(t *testing.T) {
	c := NewCatalog().
		Add("en", Messages{"hello": "Hello", "bye": "Goodbye"}).
		Add("fr", Messages{"hello": "Bonjour"})
	if got := c.T("fr", "hello"); got != "Bonjour" {
		t.Errorf("fr hello = %q", got)
	}
	if got := c.T("fr", "bye"); got != "Goodbye" {
		t.Errorf("fr bye = %q, want the English", got)
	}
	if got := c.T("de", "nope"); got != "nope" {
		t.Errorf("unknown key = %q, want the key", got)
	}
	m := c.Missing()
	if !slices.Contains(m, "bye (fr)") || !slices.Contains(m, "hello (de)") || slices.Contains(m, "hello (fr)") {
		t.Errorf("Missing() = %q", m)
	}
}

func TestCatalog_AddRefusesAnUnsupportedLanguageAndADuplicate(t *testing.T) {
	for name, f := range map[string]func(){
		"unsupported": func() { NewCatalog().Add("ja", Messages{"a": "b"}) },
		"duplicate":   func() { NewCatalog().Add("en", Messages{"a": "b"}).Add("en", Messages{"a": "c"}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestName_EverySupportedLanguageHasItsOwnName(t *testing.T) {
	for _, l := range Supported {
		if Name(l) == l || Name(l) == "" {
			t.Errorf("%s has no name", l)
		}
	}
	if Name("pt-BR") != "Português (Brasil)" || Name("xx") != "xx" {
		t.Errorf("Name(pt-BR) = %q, Name(xx) = %q", Name("pt-BR"), Name("xx"))
	}
}
