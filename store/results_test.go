package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

func TestWeek_IsTheUTCMondayOfTheISOWeek(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-30T00:00:00Z":      "2026-11-30", // a Monday
		"2026-12-06T23:59:59Z":      "2026-11-30", // its Sunday
		"2026-12-07T00:00:00Z":      "2026-12-07",
		"2026-12-07T01:00:00+02:00": "2026-11-30", // still Sunday in UTC
		"2027-01-01T12:00:00Z":      "2026-12-28", // ISO week 53 of 2026
	} {
		at, err := time.Parse(time.RFC3339, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := store.Week(at).Format(time.DateOnly); got != want {
			t.Errorf("Week(%s) = %s, want %s", in, got, want)
		}
	}
}

const resultsShop = "results.myshopify.com"

func newResultsDB(t *testing.T) *store.DB {
	t.Helper()
	db, _ := storetest.New(t)
	if err := db.AddShop(context.Background(), store.Shop{Domain: resultsShop, TokenSealed: "v1.x.y", Settings: store.DefaultSettings(resultsShop)}); err != nil {
		t.Fatal(err)
	}
	return db
}

func newRequest(t *testing.T, db *store.DB, id string, order int64) {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := store.CreateRequest(ctx, tx, store.Request{RequestID: id, Shop: resultsShop, OrderID: order, OrderName: "#" + id,
			ExpiresAt: time.Now().Add(time.Hour)}, []store.Product{{ID: 1, Title: "Apron"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// Each status move is counted once, in this week (UTC), by its reason for a
// skip or a failure; a guarded move that does not happen counts nothing.
func TestTransition_CountsSentSkippedAndFailedInThisWeek(t *testing.T) {
	db := newResultsDB(t)
	ctx := context.Background()
	scheduled := []string{store.StatusScheduled}
	for i, c := range []struct{ to, reason string }{
		{store.StatusSent, ""}, {store.StatusSent, ""}, {store.StatusSentUnconfirmed, string(review.ReasonOutcomeUnknown)},
		{store.StatusSkipped, string(review.ReasonUnsubscribed)}, {store.StatusSkipped, string(review.ReasonUnsubscribed)},
		{store.StatusSkipped, string(review.ReasonNoConsent)},
		{store.StatusFailed, "sendgrid_rejected_400"}, {store.StatusFailed, "not a code: spaces"},
	} {
		id := "rq" + string(rune('a'+i))
		newRequest(t, db, id, int64(100+i))
		if moved, err := store.Transition(ctx, db, id, scheduled, c.to, c.reason); err != nil || !moved {
			t.Fatalf("%s -> %s: moved %t, %v", id, c.to, moved, err)
		}
		// A late stop after the send must neither move nor count.
		if moved, err := store.Transition(ctx, db, id, scheduled, store.StatusSkipped, string(review.ReasonCancelled)); err != nil || moved {
			t.Fatalf("%s: second move: moved %t, %v", id, moved, err)
		}
	}
	// A reminder sent counts; a reminder skipped does not (its request is
	// already counted).
	if moved, err := store.TransitionReminder(ctx, db, "rqa", []string{""}, store.StatusSent, ""); err != nil || !moved {
		t.Fatalf("reminder: moved %t, %v", moved, err)
	}
	if moved, err := store.TransitionReminder(ctx, db, "rqb", []string{""}, store.StatusSkipped, string(review.ReasonUnsubscribed)); err != nil || !moved {
		t.Fatalf("reminder skip: moved %t, %v", moved, err)
	}
	weeks, err := db.WeeklyResults(ctx, resultsShop, time.Now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(weeks) != 2 || weeks[1].Week != store.Week(time.Now()) || weeks[0].Week != store.Week(time.Now()).AddDate(0, 0, -7) {
		t.Fatalf("weeks %+v", weeks)
	}
	w := weeks[1]
	if w.Sent != 3 || w.ReminderSent != 1 || w.SkippedTotal != 3 || w.FailedTotal != 2 {
		t.Errorf("this week: %+v", w)
	}
	if w.Skipped[string(review.ReasonUnsubscribed)] != 2 || w.Skipped[string(review.ReasonNoConsent)] != 1 {
		t.Errorf("skipped by reason: %v", w.Skipped)
	}
	if w.Failed["sendgrid_rejected_400"] != 1 || w.Failed[""] != 1 {
		t.Errorf("failed by reason (an odd code is counted without it): %v", w.Failed)
	}
	if p := weeks[0]; p.Sent+p.SkippedTotal+p.FailedTotal+p.ReminderSent != 0 {
		t.Errorf("last week has counts: %+v", p)
	}
}

func TestCountResult_CountsInTheWeekOfItsTime(t *testing.T) {
	db := newResultsDB(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)          // a Wednesday
	lastSunday := time.Date(2026, 11, 29, 23, 30, 0, 0, time.UTC) // the week before
	for _, c := range []struct {
		at     time.Time
		metric string
	}{{now, store.MetricClick}, {now, store.MetricClick}, {lastSunday, store.MetricClick},
		{now, store.MetricUnsubscribe}, {lastSunday, store.MetricBounce}, {now, store.MetricSpamReport}} {
		if err := store.CountResult(ctx, db, resultsShop, c.at, c.metric, "ignored for this metric"); err != nil {
			t.Fatal(err)
		}
	}
	weeks, err := db.WeeklyResults(ctx, resultsShop, now, 12)
	if err != nil {
		t.Fatal(err)
	}
	if len(weeks) != 12 {
		t.Fatalf("%d weeks", len(weeks))
	}
	this, prev := weeks[11], weeks[10]
	if this.Clicks != 2 || this.Unsubscribes != 1 || this.SpamReports != 1 || this.Bounces != 0 {
		t.Errorf("this week %+v", this)
	}
	if prev.Clicks != 1 || prev.Bounces != 1 || prev.Week.Format(time.DateOnly) != "2026-11-23" {
		t.Errorf("last week %+v", prev)
	}
	if err := store.CountResult(ctx, db, resultsShop, now, "opens", ""); err == nil {
		t.Error("an unknown metric was counted")
	}
	if err := store.CountResult(ctx, db, "nobody.myshopify.com", now, store.MetricClick, ""); err == nil {
		t.Error("a count for an unknown shop was stored")
	}
}

// The counters can hold nothing that names a customer, an order or a
// request: their columns are the shop, the week, the metric, a reason code
// and the count, and the reason must be a code.
func TestWeeklyResults_TableHoldsNoPerCustomerColumn(t *testing.T) {
	db := newResultsDB(t)
	var cols []string
	if err := db.Select(&cols, `SELECT column_name FROM information_schema.columns WHERE table_name = 'shop_weekly_results' ORDER BY ordinal_position`); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cols, ","); got != "shop,week,metric,reason,n" {
		t.Fatalf("shop_weekly_results columns: %s", got)
	}
	for _, reason := range []string{"jane@example.com", "#1001", "a reason with spaces"} {
		if _, err := db.Exec(`INSERT INTO shop_weekly_results (shop, week, metric, reason, n) VALUES ($1, '2026-11-30', 'skipped', $2, 1)`, resultsShop, reason); err == nil {
			t.Errorf("reason %q stored", reason)
		}
	}
	if _, err := db.Exec(`INSERT INTO shop_weekly_results (shop, week, metric, reason, n) VALUES ($1, '2026-12-01', 'click', '', 1)`, resultsShop); err == nil {
		t.Error("a week not named by its Monday was stored")
	}
}
