// Package locale is the one home of the languages Candor writes in: the
// review email to a customer, and the merchant pages to a shop's staff.
//
// A language is one of Supported, named by its BCP 47 tag as Shopify names
// locales ("pt-BR", "fr"). Match picks the best supported language for the
// tags a caller has, in order of preference (the order's customer locale,
// then the shop's primary locale; or the admin user's locale), and falls
// back to English. A Catalog holds the text of one surface in every
// supported language; each text is looked up by a key.
package locale

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// Default is the language used when nothing better matches.
const Default = "en"

// Supported lists the languages Candor ships, Default first.
var Supported = []string{Default, "pt-BR", "es", "fr", "it", "de"}

// names are the supported languages as their speakers name them.
var names = map[string]string{
	"en": "English", "pt-BR": "Português (Brasil)", "es": "Español", "fr": "Français", "it": "Italiano", "de": "Deutsch",
}

// Name is lang as its speakers name it ("Português (Brasil)"), for a
// choice of languages; lang itself when it is not supported.
func Name(lang string) string {
	if n, ok := names[lang]; ok {
		return n
	}
	return lang
}

var matcher = language.NewMatcher(tags())

func tags() []language.Tag {
	out := make([]language.Tag, len(Supported))
	for i, s := range Supported {
		out[i] = language.MustParse(s)
	}
	return out
}

// Match returns the supported language that best serves the first of
// prefs that any supported language serves: "pt-PT" and "pt" give "pt-BR",
// "fr-CA" gives "fr", "de-CH" gives "de". Empty or malformed preferences
// are skipped; with none left, or none served, it returns Default.
func Match(prefs ...string) string {
	for _, p := range prefs {
		p = strings.TrimSpace(strings.ReplaceAll(p, "_", "-"))
		if p == "" {
			continue
		}
		t, err := language.Parse(p)
		if err != nil {
			continue
		}
		_, i, c := matcher.Match(t)
		if c == language.No {
			continue
		}
		return Supported[i]
	}
	return Default
}

// IsSupported reports whether lang is one of Supported, exactly.
func IsSupported(lang string) bool { return slices.Contains(Supported, lang) }

// Catalog is one surface's text: key → language → text. Build it with
// Add; read it with T.
type Catalog struct {
	text map[string]map[string]string
}

// Messages is one language's text for some keys.
type Messages map[string]string

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{text: map[string]map[string]string{}} }

// Add adds lang's text for the keys of m. It panics on an unsupported
// language or a key added twice for one language: catalogs are built
// from constants at start-up, so either is a programming error.
func (c *Catalog) Add(lang string, m Messages) *Catalog {
	if !IsSupported(lang) {
		panic(fmt.Sprintf("locale: %q is not a supported language", lang))
	}
	for k, v := range m {
		if c.text[k] == nil {
			c.text[k] = map[string]string{}
		}
		if _, dup := c.text[k][lang]; dup {
			panic(fmt.Sprintf("locale: %q added twice for %s", k, lang))
		}
		c.text[k][lang] = v
	}
	return c
}

// T returns key's text in lang, else in Default. An unknown key returns
// the key itself, so a missing text shows on the page instead of nothing;
// Missing finds them in tests.
func (c *Catalog) T(lang, key string) string {
	if t, ok := c.text[key][lang]; ok {
		return t
	}
	if t, ok := c.text[key][Default]; ok {
		return t
	}
	return key
}

// Has reports whether key is in the catalog in any language.
func (c *Catalog) Has(key string) bool { return c.text[key] != nil }

// Missing lists, sorted, each "key (lang)" whose text a supported language
// lacks, for a test to fail on.
func (c *Catalog) Missing() []string {
	var out []string
	for k, byLang := range c.text {
		for _, l := range Supported {
			if _, ok := byLang[l]; !ok {
				out = append(out, fmt.Sprintf("%s (%s)", k, l))
			}
		}
	}
	slices.Sort(out)
	return out
}
