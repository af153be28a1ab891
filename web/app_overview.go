package web

// The merchant overview page (GET /app): the shop's connection and token,
// its request counts, send window and sender, and its weekly results
// (app_templates_results.go).

import (
	"fmt"
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

// senderRefusedText says what SendGrid's refusal of the sender means for the
// merchant, and who can fix it.
func senderRefusedText(sender string) string {
	return "SendGrid refused to send as " + sender + ": it is not a verified sender of Candor's SendGrid account. " +
		"Nothing was sent, and refused review requests are not retried. Candor's operator must verify the sender " +
		"(SendGrid: Settings, Sender Authentication); new review requests go out once that is done."
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

var notices = map[string]string{
	"test-sent": "Test email sent. It can take a minute to arrive.",
	"saved":     "Settings saved. Requests already waiting pick up the new delay, fallback and send window within 6 hours; a new reminder setting applies to new requests.",
}

func (s *Server) showOverview(w http.ResponseWriter, r *http.Request, m merchantSession, status int, notice, errMsg string) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your shop.")
		return
	}
	d := overviewData{ConnectedSince: shop.CreatedAt.UTC().Format("2 January 2006"), Counts: map[string]int{},
		Window: windowText(shop.Settings)}
	switch {
	case shop.TokenSealed == "":
		d.Token = "missing: the app was uninstalled or the token revoked. Reconnect the shop to send review requests."
	default:
		if _, err := s.Keys.Open(shop.TokenSealed, shop.Domain); err != nil {
			d.Token = "present, but it cannot be opened with the current key. Reconnect the shop."
		} else {
			d.Token, d.TokenOK = "present, sealed at rest", true
		}
	}
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.DB.SelectContext(r.Context(), &rows, `SELECT status, count(*) AS n FROM review_requests WHERE shop = $1 GROUP BY status`, m.Shop); err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your review requests.")
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
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your review requests.")
		return
	}
	if refused.N > 0 && refused.Latest != nil {
		d.Refused = &senderRefusal{Requests: refused.N, Latest: refused.Latest.UTC().Format("2 Jan 2006 15:04 MST")}
	}
	weeks, err := s.DB.WeeklyResults(r.Context(), m.Shop, s.now(), resultWeeks)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your results.")
		return
	}
	d.Results = newResultsView(weeks)
	if s.Mailer != nil {
		d.Sender = s.Mailer.Sender()
	}
	s.render(w, status, "overview", appPage{Title: "Overview", Shop: m.Shop, CSRF: m.csrf(), Nav: "overview",
		Notice: notices[notice], Error: errMsg, Data: d})
}

func windowText(st store.Settings) string {
	if !st.HasWindow() {
		return "any time of day"
	}
	tz := st.TimeZone
	if tz == "" {
		tz = "the shop's time zone"
	}
	return fmt.Sprintf("between %s and %s, %s", store.FormatClock(st.WindowStart), store.FormatClock(st.WindowEnd), tz)
}
