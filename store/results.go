package store

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jmoiron/sqlx"
)

// A shop's weekly results (shop_weekly_results, migration 0028) are counts
// only, one row per shop, week, metric and reason. They are counters rather
// than queries over review_requests because retention deletes those rows
// (and erasure a customer's), while a merchant's weekly figures must outlive
// both; clicks are not recorded anywhere else at all. A counter holds no
// customer, address, order or request ID, so it is not personal data and
// keeps as long as the shop is connected (ON DELETE CASCADE with the shop).
//
// Each count is made in the transaction, or the statement, that applies
// its event: a status Transition, an unsubscribe, a SendGrid event. A week
// is the ISO week in UTC, named by its Monday: one clock for every shop, so
// the counters need no time zone and stay right when a shop changes its own.

// Result metrics.
const (
	MetricSent         = "sent" // first emails sent, confirmed or not
	MetricSkipped      = "skipped"
	MetricFailed       = "failed"
	MetricReminderSent = "reminder_sent"
	MetricClick        = "click" // a GET of /r/{token} that redirected
	MetricUnsubscribe  = "unsubscribe"
	MetricBounce       = "bounce"
	MetricSpamReport   = "spam_report"
)

// countableReason is the form of a reason code the counters keep
// (shop_weekly_results' CHECK): anything else is counted with no reason, so
// an odd code can never make the event it counts fail.
var countableReason = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

func resultReason(metric, reason string) string {
	if (metric != MetricSkipped && metric != MetricFailed) || !countableReason.MatchString(reason) {
		return ""
	}
	return reason
}

// Week returns the Monday, 00:00 UTC, that starts t's ISO week in UTC.
func Week(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

const countResultSQL = `INSERT INTO shop_weekly_results (shop, week, metric, reason, n) VALUES ($1, $2, $3, $4, 1)
ON CONFLICT (shop, week, metric, reason) DO UPDATE SET n = shop_weekly_results.n + 1`

// CountResult adds one to shop's metric in the week of at; reason counts
// only for skipped and failed.
func CountResult(ctx context.Context, ex sqlx.ExecerContext, shop string, at time.Time, metric, reason string) error {
	if _, err := ex.ExecContext(ctx, countResultSQL, shop, Week(at).Format(time.DateOnly), metric, resultReason(metric, reason)); err != nil {
		return fmt.Errorf("count %s: %w", metric, err)
	}
	return nil
}

// transitionMetric is what a move of the first email (or, with reminder,
// the reminder) to status counts as, or "" for nothing. A reminder's skips
// are not counted: the chart counts review requests, and a request's skip
// is its first email's.
func transitionMetric(status string, reminder bool) string {
	switch {
	case Emailed(status) && reminder:
		return MetricReminderSent
	case reminder:
		return ""
	case Emailed(status):
		return MetricSent
	case status == StatusSkipped:
		return MetricSkipped
	case status == StatusFailed:
		return MetricFailed
	}
	return ""
}

// countMovedSQL wraps a status UPDATE … RETURNING shop (the first
// statement, as the CTE "moved"): it counts the moved row in the same
// statement, so a transition and its count commit or fail together, and
// its rows affected are the UPDATE's. $5 is the metric ("" counts nothing),
// $6 the reason.
const countMovedSQL = `,
counted AS (
  INSERT INTO shop_weekly_results (shop, week, metric, reason, n)
  SELECT shop, date_trunc('week', now() AT TIME ZONE 'UTC')::date, $5, $6, 1 FROM moved WHERE $5 <> ''
  ON CONFLICT (shop, week, metric, reason) DO UPDATE SET n = shop_weekly_results.n + 1
)
SELECT 1 FROM moved`

// WeekResults is one week's counts for a shop.
type WeekResults struct {
	Week                               time.Time // its Monday, UTC
	Sent, ReminderSent, Clicks         int
	Unsubscribes, Bounces, SpamReports int
	Skipped, Failed                    map[string]int // by reason code
	SkippedTotal, FailedTotal          int
}

// WeeklyResults returns shop's counts for the n weeks up to and including
// now's, oldest first; a week with nothing counted is there with zeros.
func (db *DB) WeeklyResults(ctx context.Context, shop string, now time.Time, n int) ([]WeekResults, error) {
	last := Week(now)
	first := last.AddDate(0, 0, -7*(n-1))
	var rows []struct {
		Week   time.Time `db:"week"`
		Metric string    `db:"metric"`
		Reason string    `db:"reason"`
		N      int       `db:"n"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT week, metric, reason, n FROM shop_weekly_results
		WHERE shop = $1 AND week BETWEEN $2 AND $3`, shop, first.Format(time.DateOnly), last.Format(time.DateOnly)); err != nil {
		return nil, fmt.Errorf("read weekly results: %w", err)
	}
	out := make([]WeekResults, n)
	index := map[string]int{}
	for i := range out {
		out[i] = WeekResults{Week: first.AddDate(0, 0, 7*i), Skipped: map[string]int{}, Failed: map[string]int{}}
		index[out[i].Week.Format(time.DateOnly)] = i
	}
	for _, r := range rows {
		i, ok := index[r.Week.UTC().Format(time.DateOnly)]
		if !ok {
			continue
		}
		w := &out[i]
		switch r.Metric {
		case MetricSent:
			w.Sent += r.N
		case MetricReminderSent:
			w.ReminderSent += r.N
		case MetricClick:
			w.Clicks += r.N
		case MetricUnsubscribe:
			w.Unsubscribes += r.N
		case MetricBounce:
			w.Bounces += r.N
		case MetricSpamReport:
			w.SpamReports += r.N
		case MetricSkipped:
			w.Skipped[r.Reason] += r.N
			w.SkippedTotal += r.N
		case MetricFailed:
			w.Failed[r.Reason] += r.N
			w.FailedTotal += r.N
		}
	}
	return out, nil
}
