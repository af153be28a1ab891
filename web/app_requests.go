package web

// The merchant page of recent review requests (GET /app/requests).

import (
	"net/http"
	"time"

	"github.com/candorhq/candor/store"
)

type requestRow struct {
	OrderName string
	Products  []string
	Status    string
	Reason    string
	Planned   string
	Sent      string
	Reminder  string
	Created   string
}

// statusLabel names a request's status in lang; an unknown code shows as
// itself.
func statusLabel(lang, code string) string {
	if k := "status." + code; merchantText.Has(k) {
		return trLang(lang, k)
	}
	return code
}

func (s *Server) appRequests(w http.ResponseWriter, r *http.Request, m merchantSession) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_shop")
		return
	}
	loc := time.UTC
	if shop.TimeZone != "" {
		if l, err := time.LoadLocation(shop.TimeZone); err == nil {
			loc = l
		}
	}
	lang := requestLang(r)
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return stampIn(lang, layoutMinute, t.In(loc))
	}
	reqs, err := s.DB.RecentRequests(r.Context(), m.Shop, 50)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_requests")
		return
	}
	rows := make([]requestRow, 0, len(reqs))
	for _, q := range reqs {
		row := requestRow{OrderName: q.OrderName, Status: statusLabel(lang, q.Status), Reason: reasonLabel(lang, q.Reason),
			Sent: stamp(q.SentAt), Created: stamp(&q.CreatedAt)}
		if q.Status == store.StatusScheduled || q.Status == store.StatusSending {
			row.Planned = stamp(q.SendAt)
		}
		if q.ReminderStatus != "" {
			row.Reminder = statusLabel(lang, q.ReminderStatus)
			if q.ReminderReason != "" {
				row.Reminder += " (" + reasonLabel(lang, q.ReminderReason) + ")"
			}
		}
		if ps, err := q.Products(); err == nil {
			for _, p := range ps {
				row.Products = append(row.Products, p.Title)
			}
		}
		rows = append(rows, row)
	}
	s.render(w, r, http.StatusOK, "requests", appPage{Title: tr(r, "requests.title"), Shop: m.Shop, CSRF: m.csrf(),
		Nav: "requests", Data: map[string]any{"Rows": rows, "Zone": loc.String()}})
}
