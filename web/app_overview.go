package web

// The merchant overview page (GET /app): the shop's connection and token,
// its request counts, send window and sender, and its weekly results
// (app_templates_results.go).

import (
	"net/http"
	"time"

	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

type overviewData struct {
	ConnectedSince string
	Token          string
	TokenOK        bool
	Counts         map[string]int
	Window         string
	Sender         string
	Refused        *senderRefusal
	Results        resultsView
}

// senderRefusal is SendGrid's refusal of the sender address, shown once on
// /app however many requests it failed, until an email goes out again.
type senderRefusal struct {
	Requests int
	Latest   string
}

// senderRefusedText says, in lang, what SendGrid's refusal of the sender
// means for the merchant, and who can fix it.
func senderRefusedText(lang, sender string) string {
	return trLang(lang, "overview.refused.text", sender)
}

// senderRefusalSQL counts the requests SendGrid refused for the sender
// address since the shop's last sent email.
const senderRefusalSQL = `
SELECT count(*) AS n, max(updated_at) AS latest FROM review_requests
WHERE shop = $1 AND (reason = $2 OR reminder_reason = $2)
  AND updated_at > coalesce((SELECT max(greatest(sent_at, reminder_sent_at)) FROM review_requests WHERE shop = $1), '-infinity')`

func (s *Server) appOverview(w http.ResponseWriter, r *http.Request, m merchantSession) {
	s.showOverview(w, r, m, http.StatusOK, r.URL.Query().Get("notice"), "")
}

// notices are the status messages a page shows after an action, by the
// notice parameter of its URL: merchantText keys.
var notices = map[string]string{
	"test-sent": "notice.test_sent",
	"saved":     "notice.saved",
}

// noticeText is the notice named by the URL's parameter, in r's language;
// empty for none or an unknown one.
func noticeText(r *http.Request, name string) string {
	if k, ok := notices[name]; ok {
		return tr(r, k)
	}
	return ""
}

// showOverview shows the overview with a notice (a notices name) or errMsg
// (text in r's language).
func (s *Server) showOverview(w http.ResponseWriter, r *http.Request, m merchantSession, status int, notice, errMsg string) {
	lang := requestLang(r)
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_shop")
		return
	}
	d := overviewData{ConnectedSince: stampIn(lang, layoutDay, shop.CreatedAt.UTC()), Counts: map[string]int{},
		Window: windowText(lang, shop.Settings)}
	switch {
	case shop.TokenSealed == "":
		d.Token = trLang(lang, "overview.token.missing")
	default:
		if _, err := s.Keys.Open(shop.TokenSealed, shop.Domain); err != nil {
			d.Token = trLang(lang, "overview.token.unopenable")
		} else {
			d.Token, d.TokenOK = trLang(lang, "overview.token.ok"), true
		}
	}
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.DB.SelectContext(r.Context(), &rows, `SELECT status, count(*) AS n FROM review_requests WHERE shop = $1 GROUP BY status`, m.Shop); err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_requests")
		return
	}
	for _, row := range rows {
		d.Counts[row.Status] = row.N
	}
	var refused struct {
		N      int        `db:"n"`
		Latest *time.Time `db:"latest"`
	}
	if err := s.DB.GetContext(r.Context(), &refused, senderRefusalSQL, m.Shop, review.ReasonSenderUnverified); err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_requests")
		return
	}
	if refused.N > 0 && refused.Latest != nil {
		d.Refused = &senderRefusal{Requests: refused.N, Latest: stampIn(lang, layoutMinute, refused.Latest.UTC())}
	}
	weeks, err := s.DB.WeeklyResults(r.Context(), m.Shop, s.now(), resultWeeks)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_results")
		return
	}
	d.Results = newResultsView(lang, weeks)
	if s.Mailer != nil {
		d.Sender = s.Mailer.Sender()
	}
	s.render(w, r, status, "overview", appPage{Title: tr(r, "nav.overview"), Shop: m.Shop, CSRF: m.csrf(), Nav: "overview",
		Notice: noticeText(r, notice), Error: errMsg, Data: d})
}

// windowText says, in lang, when emails go out.
func windowText(lang string, st store.Settings) string {
	if !st.HasWindow() {
		return trLang(lang, "overview.window.any")
	}
	tz := st.TimeZone
	if tz == "" {
		tz = trLang(lang, "overview.window.shop_zone")
	}
	return trLang(lang, "overview.window", store.FormatClock(st.WindowStart), store.FormatClock(st.WindowEnd), tz)
}
