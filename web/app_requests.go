package web

// The merchant page of recent review requests (GET /app/requests).

import (
	"net/http"
	"time"

	"github.com/candorhq/candor/review"
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

// statusText names the statuses that read badly as codes.
var statusText = map[string]string{store.StatusSentUnconfirmed: "sent, unconfirmed"}

func statusLabel(code string) string {
	if t, ok := statusText[code]; ok {
		return t
	}
	return code
}

func (s *Server) appRequests(w http.ResponseWriter, r *http.Request, m merchantSession) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your shop.")
		return
	}
	loc := time.UTC
	if shop.TimeZone != "" {
		if l, err := time.LoadLocation(shop.TimeZone); err == nil {
			loc = l
		}
	}
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(loc).Format("2 Jan 2006 15:04 MST")
	}
	reqs, err := s.DB.RecentRequests(r.Context(), m.Shop, 50)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your review requests.")
		return
	}
	rows := make([]requestRow, 0, len(reqs))
	for _, q := range reqs {
		row := requestRow{OrderName: q.OrderName, Status: statusLabel(q.Status), Reason: review.Label(q.Reason),
			Sent: stamp(q.SentAt), Created: stamp(&q.CreatedAt)}
		if q.Status == store.StatusScheduled || q.Status == store.StatusSending {
			row.Planned = stamp(q.SendAt)
		}
		if q.ReminderStatus != "" {
			row.Reminder = statusLabel(q.ReminderStatus)
			if q.ReminderReason != "" {
				row.Reminder += " (" + review.Label(q.ReminderReason) + ")"
			}
		}
		if ps, err := q.Products(); err == nil {
			for _, p := range ps {
				row.Products = append(row.Products, p.Title)
			}
		}
		rows = append(rows, row)
	}
	s.render(w, http.StatusOK, "requests", appPage{Title: "Recent review requests", Shop: m.Shop, CSRF: m.csrf(),
		Nav: "requests", Data: map[string]any{"Rows": rows, "Zone": loc.String()}})
}
