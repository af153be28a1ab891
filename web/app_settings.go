package web

// The merchant settings page (GET and POST /app/settings): the form, its
// parsing and its save.

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/shoptoken"
	"github.com/candorhq/candor/store"
)

// settingsForm is the form's text, as typed, and the errors by field.
type settingsForm struct {
	Values map[string]string
	Errors map[string]string
	Order  []string      // fields with errors, in form order, for the summary
	Keep   time.Duration // the review_requests period typed; 0 leaves it as it is
	// Wording is the email's wording as typed (app_wording.go), and
	// Preview the email it makes, when asked for.
	Wording store.Wordings
	Preview *emailPreview
	// lang is the page's language, the problems' (problemIn).
	lang string
}

var formOrder = append([]string{"delay", "fallback_delay", "reminder", store.KeepRequestsField, "email_per", "max_emails", "product_once", "max_products", "consent_mode", "review_url", "subject",
	"window_start", "window_end", "time_zone", "excluded_products", "excluded_tags"}, wordingFormFields()...)

func formFromSettings(st store.Settings) settingsForm {
	ids := make([]string, len(st.ExcludedProducts))
	for i, id := range st.ExcludedProducts {
		ids[i] = strconv.FormatInt(id, 10)
	}
	return settingsForm{Errors: map[string]string{}, Values: map[string]string{
		"delay": config.FormatDuration(st.Delay), "fallback_delay": config.FormatDuration(st.FallbackDelay), "reminder": config.FormatDuration(st.Reminder),
		"consent_mode": st.ConsentMode, "email_per": st.EmailPer, "review_url": st.ReviewURL,
		"max_emails": strconv.Itoa(st.MaxEmails), "product_once": strconv.FormatBool(st.ProductOnce), "max_products": strconv.Itoa(st.MaxProducts),
		"subject": st.Subject, "window_start": store.FormatClock(st.WindowStart), "window_end": store.FormatClock(st.WindowEnd),
		"time_zone": st.TimeZone, "excluded_products": strings.Join(ids, ", "), "excluded_tags": strings.Join(st.ExcludedTags, ", "),
	}}
}

// parseSettingsForm reads the form into st, collecting an error per field.
func parseSettingsForm(r *http.Request, st *store.Settings) settingsForm {
	lang := requestLang(r)
	f := settingsForm{Values: map[string]string{}, Errors: map[string]string{}, lang: lang}
	for _, k := range formOrder {
		f.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	dur := func(field string, dst *time.Duration) {
		if strings.HasPrefix(f.Values[field], "-") {
			f.Errors[field] = trLang(lang, "settings.error.negative")
			return
		}
		d, err := config.ParseDuration(f.Values[field])
		if err != nil {
			f.Errors[field] = trLang(lang, "settings.error.duration", f.Values[field])
			return
		}
		*dst = d
	}
	dur("delay", &st.Delay)
	dur("fallback_delay", &st.FallbackDelay)
	dur("reminder", &st.Reminder)
	if f.Values[store.KeepRequestsField] != "" { // absent: the period stays
		dur(store.KeepRequestsField, &f.Keep)
	}
	switch f.Values["consent_mode"] {
	case store.ConsentExplicit, store.ConsentSoftOptIn, store.ConsentNone:
		st.ConsentMode = f.Values["consent_mode"]
	default:
		f.Errors["consent_mode"] = trLang(lang, "settings.error.consent")
	}
	switch f.Values["email_per"] {
	case store.EmailPerOrder, store.EmailPerShipment:
		st.EmailPer = f.Values["email_per"]
	default:
		f.Errors["email_per"] = trLang(lang, "settings.error.email_per")
	}
	count := func(field string, dst *int) {
		n, err := strconv.Atoi(f.Values[field])
		if err != nil {
			f.Errors[field] = trLang(lang, "settings.error.number", f.Values[field])
			return
		}
		*dst = n
	}
	count("max_emails", &st.MaxEmails)
	count("max_products", &st.MaxProducts)
	switch f.Values["product_once"] {
	case "true", "false":
		st.ProductOnce = f.Values["product_once"] == "true"
	default:
		f.Errors["product_once"] = trLang(lang, "settings.error.product_once")
	}
	st.ReviewURL, st.Subject, st.TimeZone = f.Values["review_url"], f.Values["subject"], f.Values["time_zone"]
	clock := func(field string, dst *int) {
		m, err := store.ParseClock(f.Values[field])
		if err != nil {
			f.Errors[field] = trLang(lang, "settings.error.clock", f.Values[field])
			return
		}
		*dst = m
	}
	clock("window_start", &st.WindowStart)
	clock("window_end", &st.WindowEnd)
	st.ExcludedProducts = nil
	for _, p := range store.SplitList(f.Values["excluded_products"]) {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			f.Errors["excluded_products"] = trLang(lang, "settings.error.product_id", p)
			break
		}
		st.ExcludedProducts = append(st.ExcludedProducts, id)
	}
	st.ExcludedTags = store.SplitList(f.Values["excluded_tags"])
	for _, p := range st.Problems() {
		if _, seen := f.Errors[p.Field]; !seen {
			f.Errors[p.Field] = problemIn(lang, p)
		}
	}
	f.Wording = f.parseWording()
	return f
}

// add records a field's problem unless it already has one.
func (f *settingsForm) add(p *store.FieldError) {
	if _, seen := f.Errors[p.Field]; !seen {
		f.Errors[p.Field] = problemIn(f.lang, p)
	}
	f.sort()
}

// sort lists the fields with errors in form order, for the summary.
func (f *settingsForm) sort() {
	f.Order = f.Order[:0]
	for _, k := range formOrder {
		if f.Errors[k] != "" {
			f.Order = append(f.Order, k)
		}
	}
}

// shopify is the Admin API path the merchant pages use: the refresh-aware
// one every Admin call uses.
func (s *Server) shopify() shoptoken.Opener {
	return shoptoken.Opener{DB: s.DB, Keys: s.Keys, Shopify: s.Shopify, OAuth: s.OAuth, Now: s.Now}
}

func (s *Server) appSettings(w http.ResponseWriter, r *http.Request, m merchantSession) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_settings")
		return
	}
	ov, err := s.DB.Overrides(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_settings")
		return
	}
	ws, err := store.EmailWording(r.Context(), s.DB, m.Shop)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_settings")
		return
	}
	f := formFromSettings(shop.Settings)
	f.Values[store.KeepRequestsField] = config.FormatDuration(ov.Keep(retention.ReviewRequests))
	wordingValues(f.Values, ws)
	f.preview(shop, shop.Settings, ws, r.URL.Query().Get(previewLangField), s.PublicURL)
	s.render(w, r, http.StatusOK, "settings", appPage{Title: tr(r, "nav.settings"), Shop: m.Shop, CSRF: m.csrf(), Nav: "settings",
		Notice: noticeText(r, r.URL.Query().Get("notice")), Data: f})
}

// postedSettings is the shop and its settings with the posted form
// applied, for saving (appSettingsPost) or previewing
// (appSettingsPreview); false when the shop could not be read, and the
// error page is written.
func (s *Server) postedSettings(w http.ResponseWriter, r *http.Request, m merchantSession) (store.Shop, store.Settings, settingsForm, bool) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_settings")
		return store.Shop{}, store.Settings{}, settingsForm{}, false
	}
	st := shop.Settings
	f := parseSettingsForm(r, &st)
	return shop, st, f, true
}

func (s *Server) appSettingsPost(w http.ResponseWriter, r *http.Request, m merchantSession) {
	shop, st, f, ok := s.postedSettings(w, r, m)
	if !ok {
		return
	}
	// A review destination on a domain of the shop's own is checked against
	// the domains Shopify reports for it now.
	var hosts []string
	if f.Errors["review_url"] == "" && store.ReviewHostNeedsShop(st.ReviewURL, m.Shop) {
		p, err := s.shopify().ShopProfile(r.Context(), shop)
		if err != nil {
			s.Logger.Warn("could not read the shop's domains", "shop", m.Shop, "error", err)
			s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.shop_domains")
			return
		}
		hosts = p.Hosts()
	}
	var fe *store.FieldError
	if err := store.CheckReviewHost(st.ReviewURL, m.Shop, hosts); errors.As(err, &fe) {
		f.add(fe)
	}
	// Nothing is saved: the form comes back with what was typed and each
	// problem next to its field.
	refuse := func() {
		s.render(w, r, http.StatusUnprocessableEntity, "settings", appPage{Title: tr(r, "nav.settings"), Shop: m.Shop, CSRF: m.csrf(),
			Nav: "settings", Error: tr(r, "settings.refused"), Data: f})
	}
	if len(f.Order) > 0 {
		refuse()
		return
	}
	// The timing and the review_requests period are checked together: a
	// change that lets a waiting request expire is refused, next to the
	// field that changed.
	if err := s.DB.SaveSettingsAndWording(r.Context(), m.Shop, st, f.Keep, f.Wording, hosts...); errors.As(err, &fe) {
		f.Errors[fe.Field], f.Order = problemIn(f.lang, fe), []string{fe.Field}
		refuse()
		return
	} else if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.save_settings")
		return
	}
	s.Logger.Info("shop settings changed", "shop", m.Shop)
	http.Redirect(w, r, "/app/settings?notice=saved", http.StatusSeeOther)
}
