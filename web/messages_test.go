package web

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/store"
)

// Every merchant-page text is in all six languages, every key the pages
// and handlers use is in the catalog (an unknown key would show as itself),
// and each translation takes the same fmt arguments as the English.
func TestMerchantText_EveryKeyInEveryLanguage(t *testing.T) {
	if m := merchantText.Missing(); len(m) > 0 {
		t.Errorf("merchant texts missing a language: %v", m)
	}

	used := map[string]string{} // key → where
	for file, html := range map[string]string{"app_templates.go": appHTML, "app_templates_results.go": resultsHTML} {
		for _, m := range regexp.MustCompile(`\b(?:t|tf) "([^"]+)"`).FindAllStringSubmatch(html, -1) {
			used[m[1]] = file
		}
	}
	for _, s := range append(requestSeries, replySeries...) {
		used[s.key] = "results chart"
	}
	used["results.axis_day"] = "results chart"
	for code := range store.FieldText {
		if _, ok := problemAlias[code]; !ok {
			used["problem."+code] = "store.FieldText"
		}
	}
	goKey := regexp.MustCompile(`(?:\btr\(r, |\btrLang\(lang, |\bappError\(w, r, [^,]+, |\binstallPage\(w, r, [^,]+, |\bdeny\(|\bexchangeFailed\(w, r, "[a-z]+", shop, err, )"([a-z_.]+)"(?:, "([a-z_.]+)")?`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(src), -1) {
			for _, k := range m[1:] {
				if k != "" && !strings.HasSuffix(k, ".") { // a prefix: "field."+name
					used[k] = f
				}
			}
		}
	}
	for _, k := range formOrder {
		if _, ok := wordingLabel(locale.Default, k); ok {
			for _, f := range store.WordingFields {
				used["wording.field."+f] = "wordingLabel"
			}
			continue
		}
		used["field."+k] = "formOrder"
	}
	for _, st := range []string{store.StatusScheduled, store.StatusSending, store.StatusSent, store.StatusSentUnconfirmed, store.StatusSkipped, store.StatusFailed} {
		used["status."+st] = "store statuses"
	}
	for _, k := range notices {
		used[k] = "notices"
	}
	for _, k := range []string{layoutDay, layoutMinute, layoutSeconds} {
		used[k] = "stampIn"
	}
	for _, r := range pageReasons {
		used["reason."+string(r)] = "pageReasons"
	}
	for m := 1; m <= 12; m++ {
		used["date.month."+strconv.Itoa(m)] = "stampIn"
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k, where := range used {
		if !merchantText.Has(k) {
			t.Errorf("%s uses %q, which is not in merchantText", where, k)
		}
	}

	verb := regexp.MustCompile(`%(?:\[\d+\])?[a-zA-Z]`)
	verbs := func(s string) []string {
		v := verb.FindAllString(s, -1)
		for i := range v { // an indexed verb is the same argument's
			v[i] = regexp.MustCompile(`\[\d+\]`).ReplaceAllString(v[i], "")
		}
		slices.Sort(v)
		return v
	}
	for k := range used {
		want := verbs(merchantText.T(locale.Default, k))
		for _, l := range locale.Supported {
			if got := verbs(merchantText.T(l, k)); !slices.Equal(got, want) {
				t.Errorf("%s in %s takes %v, English takes %v", k, l, got, want)
			}
		}
	}
}

// A language the admin user or browser asks for finds its nearest
// supported language; a session's language wins over both.
func TestRequestLang_SessionThenLocaleParameterThenAcceptLanguage(t *testing.T) {
	for _, tc := range []struct {
		session, query, accept, want string
	}{
		{"", "", "", "en"},
		{"", "pt-BR", "de", "pt-BR"},
		{"", "", "de-CH, en;q=0.5", "de"},
		{"", "", "en;q=0.3, fr-CA", "fr"},
		{"", "", "ja, it;q=0.8", "it"},
		{"", "xx-invalid-%%", "es-MX", "es"},
		{"es", "fr", "de", "es"},
		{"", "zh-CN", "", "en"},
	} {
		r := httptestRequest("/app?locale=" + tc.query)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if tc.session != "" {
			r = withSession(r, merchantSession{Lang: tc.session})
		}
		if got := requestLang(r); got != tc.want {
			t.Errorf("session %q, locale %q, Accept-Language %q: %s, want %s", tc.session, tc.query, tc.accept, got, tc.want)
		}
	}
}

func httptestRequest(target string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://candor.test"+strings.ReplaceAll(target, "%", "%25"), nil)
	return r
}

// Dates read as each language writes them: the month's name in that
// language, the layout of its key.
func TestStampIn_WritesTheMonthInTheLanguage(t *testing.T) {
	at := time.Date(2026, time.March, 2, 9, 5, 7, 0, time.UTC)
	for lang, want := range map[string]string{
		"en":    "2 Mar 2026 09:05 UTC",
		"pt-BR": "2 mar. 2026, 09:05 UTC",
		"es":    "2 mar. 2026, 09:05 UTC",
		"fr":    "2 mars 2026 à 09:05 UTC",
		"it":    "2 mar 2026, 09:05 UTC",
		"de":    "2. März 2026, 09:05 UTC",
	} {
		if got := stampIn(lang, layoutMinute, at); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	if got := stampIn("de", layoutSeconds, at.AddDate(0, 9, 0)); got != "2. Dez. 2026, 09:05:07 UTC" {
		t.Errorf("de, seconds: %q", got)
	}
	if got := stampIn("fr", layoutDay, at.AddDate(0, 5, 0)); got != "2 août 2026" {
		t.Errorf("fr, day: %q", got)
	}
}

// Each chart panel's legend fits on its one line in every language.
func TestMerchantText_ResultsLegendFitsInEveryLanguage(t *testing.T) {
	for _, lang := range []string{"en", "pt-BR", "es", "fr", "it", "de"} {
		for _, ss := range [][]series{requestSeries, replySeries} {
			x := plotLeft
			for _, s := range ss {
				x += legendWidth(trLang(lang, s.key))
			}
			if x > chartW {
				t.Errorf("%s: a legend is %d units wide, the chart %d", lang, x, chartW)
			}
		}
	}
}
