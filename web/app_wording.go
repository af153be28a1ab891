package web

// The review email's wording on the settings page: per language, the
// subject, the opening line and the button text (store.Wording), with a
// preview of the real email for a sample order (POST /app/settings/preview,
// which saves nothing).

import (
	"net/http"

	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// previewLangField is the form name of the preview's language.
const previewLangField = "preview_lang"

// hasWordingField reports whether the form has field for lang. English
// has no subject here: the Subject setting is the English subject.
func hasWordingField(lang, field string) bool {
	return lang != locale.Default || field != store.WordingSubject
}

// wordingFormFields are the wording's form fields in form order.
func wordingFormFields() []string {
	var out []string
	for _, lang := range locale.Supported {
		for _, f := range store.WordingFields {
			if hasWordingField(lang, f) {
				out = append(out, store.WordingField(lang, f))
			}
		}
	}
	return out
}

// wordingLabel names a wording field in the merchant's language uiLang,
// for the settings page's error summary: "Italiano: button text"; false
// when name is not a wording field.
func wordingLabel(uiLang, name string) (string, bool) {
	for _, lang := range locale.Supported {
		for _, f := range store.WordingFields {
			if hasWordingField(lang, f) && store.WordingField(lang, f) == name {
				return locale.Name(lang) + ": " + trLang(uiLang, "wording.field."+f), true
			}
		}
	}
	return "", false
}

// wordingLang is one language's part of the wording section.
type wordingLang struct {
	Lang, Name string
	Fields     []wordingInput
	Open       bool // shown unfolded: it has text of the shop's own, or a problem
}

// wordingInput is one field: its form name and the shipped text that
// applies when it is empty.
type wordingInput struct {
	Name, Default string
}

// emailPreview is the email a customer would get in Lang for the sample
// order, with the wording as typed.
type emailPreview struct {
	Lang, Subject string
	HTML          string // the whole email; the template escapes it into an iframe's srcdoc
}

// WordingLangs is the wording section, language by language.
func (f settingsForm) WordingLangs() []wordingLang {
	var out []wordingLang
	for _, lang := range locale.Supported {
		wl := wordingLang{Lang: lang, Name: locale.Name(lang)}
		for _, field := range store.WordingFields {
			if !hasWordingField(lang, field) {
				continue
			}
			name := store.WordingField(lang, field)
			wl.Fields = append(wl.Fields, wordingInput{Name: name, Default: review.EmailText.T(lang, field)})
			if f.Values[name] != "" || f.Errors[name] != "" {
				wl.Open = true
			}
		}
		out = append(out, wl)
	}
	return out
}

// Languages are the preview's choices.
func (f settingsForm) Languages() []wordingLang {
	out := make([]wordingLang, len(locale.Supported))
	for i, lang := range locale.Supported {
		out[i] = wordingLang{Lang: lang, Name: locale.Name(lang)}
	}
	return out
}

// wordingValues puts a shop's saved wording into the form's values.
func wordingValues(values map[string]string, ws store.Wordings) {
	for _, name := range wordingFormFields() {
		values[name] = ""
	}
	for lang, w := range ws {
		for _, field := range store.WordingFields {
			if locale.IsSupported(lang) && hasWordingField(lang, field) {
				values[store.WordingField(lang, field)] = w.Get(field)
			}
		}
	}
}

// parseWording reads the typed wording from f's values, collecting each
// field's problem in f.
func (f *settingsForm) parseWording() store.Wordings {
	ws := store.Wordings{}
	for _, lang := range locale.Supported {
		var w store.Wording
		for _, field := range store.WordingFields {
			w.Set(field, f.Values[store.WordingField(lang, field)]) // English's subject has no field: ""
		}
		for _, p := range w.Problems(lang) {
			if _, seen := f.Errors[p.Field]; !seen {
				f.Errors[p.Field] = problemIn(f.lang, p)
			}
		}
		ws[lang] = w
	}
	f.sort()
	return ws
}

// preview renders the email in lang with the settings and wording as
// typed. A language whose wording has a problem gets no preview: its
// fields say what to correct.
func (f *settingsForm) preview(shop store.Shop, st store.Settings, ws store.Wordings, lang, publicURL string) {
	if !locale.IsSupported(lang) {
		lang = locale.Default
	}
	f.Values[previewLangField] = lang
	for _, field := range store.WordingFields {
		if f.Errors[store.WordingField(lang, field)] != "" {
			return
		}
	}
	if lang == locale.Default && f.Errors["subject"] != "" {
		return
	}
	shop.Settings = st
	e, err := review.TestEmail(shop, review.ShopWording(shop, ws, lang), lang, publicURL)
	if err != nil {
		return
	}
	f.Preview = &emailPreview{Lang: lang, Subject: e.Subject, HTML: e.HTML}
}

// appSettingsPreview is POST /app/settings/preview: the settings page with
// the form as typed, each problem next to its field, and the email in the
// chosen language for the sample order. It saves nothing.
func (s *Server) appSettingsPreview(w http.ResponseWriter, r *http.Request, m merchantSession) {
	shop, st, f, ok := s.postedSettings(w, r, m)
	if !ok {
		return
	}
	f.preview(shop, st, f.Wording, r.PostFormValue(previewLangField), s.PublicURL)
	p := appPage{Title: tr(r, "nav.settings"), Shop: m.Shop, CSRF: m.csrf(), Nav: "settings", Data: f,
		Notice: tr(r, "settings.preview.notice")}
	status := http.StatusOK
	if len(f.Order) > 0 {
		status = http.StatusUnprocessableEntity
		p.Notice, p.Error = "", tr(r, "settings.refused")
	}
	s.render(w, r, status, "settings", p)
}
