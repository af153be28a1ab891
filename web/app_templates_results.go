package web

// The results section of /app: per week, the shop's review requests sent,
// skipped and failed, review-link clicks, unsubscribes, bounces and spam
// reports (store.WeeklyResults), drawn as an inline SVG chart that needs no
// JavaScript, with the same numbers in tables. Counts only: nothing here
// names a customer, an order or a request.

import (
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/store"
)

// resultWeeks is how many weeks the chart shows, this one included; the
// results.* texts (messages_results.go) say so in words.
const resultWeeks = 12

// resultsView is the data of the "results" template.
type resultsView struct {
	Chart   template.HTML
	Weeks   []resultsRow
	Reasons []reasonRow
	Empty   bool
}

type resultsRow struct {
	Label string
	store.WeekResults
}

type reasonRow struct {
	Week, Outcome, Reason string
	N                     int
}

// newResultsView builds the section in lang from a shop's weeks, oldest
// first.
func newResultsView(lang string, weeks []store.WeekResults) resultsView {
	v := resultsView{Empty: true}
	for _, w := range weeks {
		label := stampIn(lang, layoutDay, w.Week)
		v.Weeks = append(v.Weeks, resultsRow{Label: label, WeekResults: w})
		if w.Sent+w.ReminderSent+w.SkippedTotal+w.FailedTotal+w.Clicks+w.Unsubscribes+w.Bounces+w.SpamReports > 0 {
			v.Empty = false
		}
		for _, o := range []struct {
			status string
			by     map[string]int
		}{{store.StatusSkipped, w.Skipped}, {store.StatusFailed, w.Failed}} {
			for _, code := range sortedKeys(o.by) {
				reason := trLang(lang, "results.no_reason")
				if code != "" {
					reason = reasonLabel(lang, code)
				}
				v.Reasons = append(v.Reasons, reasonRow{Week: label, Outcome: trLang(lang, "status."+o.status), Reason: reason, N: o.by[code]})
			}
		}
	}
	v.Chart = resultsChart(lang, weeks)
	return v
}

func sortedKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

// A series is one kind of bar: its class, legend key (merchantText) and
// colour. Every colour has at least 4.5:1 contrast on white (WCAG AA), so
// bars and legend swatches stand out as well as text would.
type series struct {
	class, key, colour string
	value              func(store.WeekResults) int
}

var (
	requestSeries = []series{ // stacked, bottom first
		{"sent", "overview.count.sent", "#0a4fb4", func(w store.WeekResults) int { return w.Sent }},
		{"skipped", "overview.count.skipped", "#8a5300", func(w store.WeekResults) int { return w.SkippedTotal }},
		{"failed", "overview.count.failed", "#a4000f", func(w store.WeekResults) int { return w.FailedTotal }},
	}
	replySeries = []series{ // side by side
		{"clicks", "results.col_clicks", "#1e6b34", func(w store.WeekResults) int { return w.Clicks }},
		{"unsubscribes", "results.col_unsubscribes", "#6b3fa0", func(w store.WeekResults) int { return w.Unsubscribes }},
		{"bounces", "results.col_bounces", "#8a5300", func(w store.WeekResults) int { return w.Bounces }},
		{"spam", "results.col_spam", "#a4000f", func(w store.WeekResults) int { return w.SpamReports }},
	}
)

// Chart geometry, in SVG user units.
const (
	chartW      = 720
	plotLeft    = 48
	plotRight   = 12
	panelH      = 150 // each panel's plot height
	panelTop1   = 56
	panelTop2   = panelTop1 + panelH + 84
	chartH      = panelTop2 + panelH + 40
	barGapRatio = 0.3 // of a week's slot, left empty between weeks
)

// niceMax is the smallest 1, 2 or 5 times a power of ten that is at least
// v (and at least 1), so the axis has round numbers.
func niceMax(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
	}
}

// resultsChart draws weeks as an SVG in lang. Only numbers and dates it
// formats itself and fixed strings of merchantText (escaped) go into it: no
// reason label, no shop text.
func resultsChart(lang string, weeks []store.WeekResults) template.HTML {
	esc := template.HTMLEscapeString
	var b strings.Builder
	total := func(s []series) []int {
		out := make([]int, len(s))
		for _, w := range weeks {
			for i, x := range s {
				out[i] += x.value(w)
			}
		}
		return out
	}
	rt, pt := total(requestSeries), total(replySeries)
	fmt.Fprintf(&b, `<svg class="results-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx;height:auto" role="img" aria-labelledby="results-chart-title results-chart-desc" font-family="system-ui,sans-serif" font-size="12">`, chartW, chartH, chartW)
	fmt.Fprintf(&b, `<title id="results-chart-title">%s</title>`, esc(trLang(lang, "results.chart_title")))
	fmt.Fprintf(&b, `<desc id="results-chart-desc">%s</desc>`, esc(trLang(lang, "results.chart_desc", rt[0], rt[1], rt[2], pt[0], pt[1], pt[2], pt[3])))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#fff"/>`, chartW, chartH)

	slot := float64(chartW-plotLeft-plotRight) / float64(max(len(weeks), 1))
	barW := slot * (1 - barGapRatio)
	panel := func(top int, title string, ss []series, stacked bool) {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="700" fill="#1b1b1b">%s</text>`, plotLeft, top-34, esc(title))
		// Legend, on one line above the plot.
		x := plotLeft
		for _, s := range ss {
			text := trLang(lang, s.key)
			fmt.Fprintf(&b, `<rect class="legend %s" x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" fill="#1b1b1b">%s</text>`,
				s.class, x, top-22, s.colour, x+14, top-13, esc(text))
			x += legendWidth(text)
		}
		peak := 0
		for _, w := range weeks {
			sum := 0
			for _, s := range ss {
				if stacked {
					sum += s.value(w)
				} else {
					sum = max(sum, s.value(w))
				}
			}
			peak = max(peak, sum)
		}
		top2 := niceMax(peak)
		scale := float64(panelH) / float64(top2)
		base := top + panelH
		step := max(top2/5, 1) // niceMax's 1, 2, 5, 10, 20, 50 …: five steps or fewer
		for tick := 0; tick <= top2; tick += step {
			y := float64(base) - float64(tick)*scale
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/><text x="%d" y="%.1f" text-anchor="end" fill="#4b5563">%d</text>`,
				plotLeft, chartW-plotRight, y, y, map[bool]string{true: "#6b7280", false: "#e5e7eb"}[tick == 0], plotLeft-6, y+4, tick)
		}
		for i, w := range weeks {
			x0 := float64(plotLeft) + float64(i)*slot + slot*barGapRatio/2
			y := float64(base)
			for j, s := range ss {
				n := s.value(w)
				h := float64(n) * scale
				bx, bw := x0, barW
				if !stacked {
					bw = barW / float64(len(ss))
					bx = x0 + float64(j)*bw
					y = float64(base)
				}
				y -= h
				fmt.Fprintf(&b, `<rect class="bar %s" data-week="%s" data-n="%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="#fff" stroke-width="1"/>`,
					s.class, w.Week.Format(time.DateOnly), n, bx, y, bw, h, s.colour)
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#4b5563">%s</text>`, x0+barW/2, base+16, esc(stampIn(lang, "results.axis_day", w.Week)))
		}
	}
	panel(panelTop1, trLang(lang, "results.panel_requests"), requestSeries, true)
	panel(panelTop2, trLang(lang, "results.panel_replies"), replySeries, false)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built above from numbers and escaped fixed text only
}

// legendWidth is the room a legend entry takes in the chart: its swatch,
// its text at about 7 units a character, and a gap.
func legendWidth(text string) int { return 14 + 7*utf8.RuneCountInString(text) + 18 }

// resultsHTML is the "results" template, included from "overview".
const resultsHTML = `{{define "results"}}<s-section><section aria-labelledby="results-h"><h2 id="results-h">{{t "results.heading"}}</h2>
<p>{{t "results.intro"}}</p>
{{if .Empty}}<p>{{t "results.empty"}}</p>{{end}}
<figure style="margin:0 0 1rem">{{.Chart}}</figure>
<table class="results-table"><caption>{{t "results.table_caption"}}</caption>
<thead><tr><th scope="col">{{t "results.col_week"}}</th><th scope="col">{{t "overview.count.sent"}}</th><th scope="col">{{t "results.col_reminders"}}</th><th scope="col">{{t "overview.count.skipped"}}</th><th scope="col">{{t "overview.count.failed"}}</th><th scope="col">{{t "results.col_clicks"}}</th><th scope="col">{{t "results.col_unsubscribes"}}</th><th scope="col">{{t "results.col_bounces"}}</th><th scope="col">{{t "results.col_spam"}}</th></tr></thead>
<tbody>{{range .Weeks}}<tr data-week="{{.Week.Format "2006-01-02"}}"><th scope="row">{{.Label}}</th><td class="sent">{{.Sent}}</td><td class="reminders">{{.ReminderSent}}</td><td class="skipped">{{.SkippedTotal}}</td><td class="failed">{{.FailedTotal}}</td><td class="clicks">{{.Clicks}}</td><td class="unsubscribes">{{.Unsubscribes}}</td><td class="bounces">{{.Bounces}}</td><td class="spam">{{.SpamReports}}</td></tr>
{{end}}</tbody></table>
{{if .Reasons}}<table class="results-reasons"><caption>{{t "results.reasons_caption"}}</caption>
<thead><tr><th scope="col">{{t "results.col_week"}}</th><th scope="col">{{t "results.col_outcome"}}</th><th scope="col">{{t "results.col_reason"}}</th><th scope="col">{{t "results.col_requests"}}</th></tr></thead>
<tbody>{{range .Reasons}}<tr><th scope="row">{{.Week}}</th><td>{{.Outcome}}</td><td>{{.Reason}}</td><td>{{.N}}</td></tr>
{{end}}</tbody></table>{{end}}
<p class="hint">{{t "results.clicks_note"}}</p>
</section></s-section>{{end}}`

// The "results" template joins the /app set, next to "overview".
var _ = template.Must(appTemplates.New("results").Parse(resultsHTML))
