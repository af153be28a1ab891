package activities_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNextOpen(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	ny := mustLoad(t, "America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	for _, tc := range []struct {
		name       string
		t          time.Time
		loc        *time.Location
		start, end int
		want       time.Time
	}{
		{"no window", at(berlin, 2026, 1, 5, 3, 0), berlin, 0, 0, at(berlin, 2026, 1, 5, 3, 0)},
		{"inside", at(berlin, 2026, 1, 5, 12, 0), berlin, 9 * 60, 17 * 60, at(berlin, 2026, 1, 5, 12, 0)},
		{"at start", at(berlin, 2026, 1, 5, 9, 0), berlin, 9 * 60, 17 * 60, at(berlin, 2026, 1, 5, 9, 0)},
		{"before, same day", at(berlin, 2026, 1, 5, 3, 30), berlin, 9 * 60, 17 * 60, at(berlin, 2026, 1, 5, 9, 0)},
		{"at end is closed", at(berlin, 2026, 1, 5, 17, 0), berlin, 9 * 60, 17 * 60, at(berlin, 2026, 1, 6, 9, 0)},
		{"after, next day", at(berlin, 2026, 12, 31, 22, 0), berlin, 9 * 60, 17 * 60, at(berlin, 2027, 1, 1, 9, 0)},
		{"overnight, inside late", at(berlin, 2026, 1, 5, 23, 0), berlin, 22 * 60, 2 * 60, at(berlin, 2026, 1, 5, 23, 0)},
		{"overnight, inside early", at(berlin, 2026, 1, 5, 1, 0), berlin, 22 * 60, 2 * 60, at(berlin, 2026, 1, 5, 1, 0)},
		{"overnight, closed", at(berlin, 2026, 1, 5, 12, 0), berlin, 22 * 60, 2 * 60, at(berlin, 2026, 1, 5, 22, 0)},
		// The UTC instant is what matters: 23:30 UTC is 00:30 in Berlin.
		{"zone, not UTC", time.Date(2026, 1, 5, 23, 30, 0, 0, time.UTC), berlin, 0, 60, time.Date(2026, 1, 5, 23, 30, 0, 0, time.UTC)},
		// 2026-03-08 02:30 does not exist in New York; the window opens at
		// the first moment after the gap.
		{"DST gap", at(ny, 2026, 3, 8, 1, 0), ny, 2*60 + 30, 6 * 60, time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := activities.NextOpen(tc.t, tc.loc, tc.start, tc.end)
			if !got.Equal(tc.want) {
				t.Errorf("NextOpen(%s) = %s, want %s", tc.t.In(tc.loc), got.In(tc.loc), tc.want.In(tc.loc))
			}
		})
	}
}

func (f *fixture) plan(t *testing.T, in activities.PlanInput) time.Time {
	t.Helper()
	val, err := f.env.ExecuteActivity(f.acts.PlanSend, in)
	if err != nil {
		t.Fatalf("PlanSend: %v", err)
	}
	var at time.Time
	if err := val.Get(&at); err != nil {
		t.Fatal(err)
	}
	return at
}

func (f *fixture) setSettings(t *testing.T, change func(*store.Settings)) {
	t.Helper()
	s, err := f.db.Shop(context.Background(), testShop)
	if err != nil {
		t.Fatal(err)
	}
	change(&s.Settings)
	if err := f.db.UpdateSettings(context.Background(), testShop, s.Settings); err != nil {
		t.Fatal(err)
	}
}

func TestPlanSend_UsesTheShopsZoneAndRecordsTheTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.shop.TimeZone = "Asia/Tokyo"
	f.setSettings(t, func(s *store.Settings) { s.WindowStart, s.WindowEnd = 9*60, 18*60 })
	// 03:00 UTC is 12:00 in Tokyo: open. 10:00 UTC is 19:00: closed until
	// 09:00 Tokyo the next day, which is 00:00 UTC.
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if got, want := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Kind: activities.KindFirst,
		Earliest: now.Add(3 * time.Hour), Now: now}), now.Add(3*time.Hour); !got.Equal(want) {
		t.Errorf("open window: planned %s, want %s", got, want)
	}
	got := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Kind: activities.KindFirst,
		Earliest: now.Add(10 * time.Hour), Now: now})
	// In the window's first half hour, at the request's place.
	if want := now.Add(24*time.Hour + activities.OpeningJitter(f.reqID, activities.KindFirst, 30*time.Minute)); !got.Equal(want) {
		t.Errorf("closed window: planned %s, want %s", got, want)
	}
	if n := f.shop.Calls("CandorShop"); n != 2 {
		t.Errorf("shop time zone read %d times, want 2 (no zone set: Shopify's)", n)
	}
	if r := f.request(t); r.SendAt == nil || !r.SendAt.Equal(got) {
		t.Errorf("request send_at = %v, want %s", r.SendAt, got)
	}

	// An explicit zone wins and needs no Shopify read.
	f.setSettings(t, func(s *store.Settings) { s.TimeZone = "UTC" })
	reminderAt := now.Add(33*time.Hour + activities.OpeningJitter(f.reqID, activities.KindReminder, 30*time.Minute))
	if got := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Kind: activities.KindReminder,
		Earliest: now.Add(20 * time.Hour), Now: now}); !got.Equal(reminderAt) {
		t.Errorf("UTC window: planned %s, want %s", got, reminderAt)
	}
	if n := f.shop.Calls("CandorShop"); n != 2 {
		t.Errorf("shop time zone read again (%d) though the shop chose one", n)
	}
	if r := f.request(t); !r.SendAt.Equal(got) {
		t.Errorf("a reminder's plan overwrote the first email's send_at: %v", r.SendAt)
	}
}

// 5,000 requests held back by one shop's window do not all wake when it
// opens: they spread over its first half hour (or first half, if shorter),
// each at its own place every time it is planned, and a request due inside
// the window is not moved.
func TestSpreadOpening_SpreadsAWindowsOpeningAndOnlyThat(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	from := time.Date(2026, 5, 1, 3, 0, 0, 0, berlin)
	open := time.Date(2026, 5, 1, 9, 0, 0, 0, berlin)
	for _, tc := range []struct {
		name       string
		start, end int
		spread     time.Duration
	}{
		{"a working day", 9 * 60, 18 * 60, 30 * time.Minute},
		{"a 20-minute window", 9 * 60, 9*60 + 20, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perMinute := map[int64]int{}
			for i := 0; i < 5000; i++ {
				id := fmt.Sprintf("rq_%05d", i)
				at := activities.SpreadOpening(from, open, tc.start, tc.end, id, activities.KindFirst)
				if at.Before(open) || !at.Before(open.Add(tc.spread)) {
					t.Fatalf("%s planned at %s, outside [%s, +%s)", id, at, open, tc.spread)
				}
				if again := activities.SpreadOpening(from.Add(time.Hour), open, tc.start, tc.end, id, activities.KindFirst); !again.Equal(at) {
					t.Fatalf("%s planned again at %s, first at %s", id, again, at)
				}
				perMinute[at.Unix()/60]++
			}
			minutes := int(tc.spread / time.Minute)
			if len(perMinute) != minutes {
				t.Fatalf("the sends fall in %d minutes, want all %d", len(perMinute), minutes)
			}
			for m, n := range perMinute {
				if even := 5000 / minutes; n > even*3/2 {
					t.Errorf("%d sends in minute %d, over half again the even %d", n, m, even)
				}
			}
		})
	}
	inside := time.Date(2026, 5, 1, 11, 0, 0, 0, berlin)
	if at := activities.SpreadOpening(inside, inside, 9*60, 18*60, "rq_1", activities.KindFirst); !at.Equal(inside) {
		t.Errorf("a send due inside the window moved to %s", at)
	}
	if activities.SpreadOpening(from, open, 9*60, 18*60, "rq_1", activities.KindFirst).Equal(
		activities.SpreadOpening(from, open, 9*60, 18*60, "rq_1", activities.KindReminder)) {
		t.Error("a request's first email and reminder fall at the same place")
	}
}

func TestPlanSend_NeverEarlierThanNow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if got := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Earliest: now.Add(-time.Hour), Now: now}); !got.Equal(now) {
		t.Errorf("planned %s, want now %s", got, now)
	}
	if n := f.shop.Calls("CandorShop"); n != 0 {
		t.Errorf("without a window Shopify was asked for the time zone %d times", n)
	}
}

// With the request's fulfilment and delivery times, PlanSend goes by the
// shop's delays as they are now, not the ones the request started with.
func TestPlanSend_UsesTheShopsCurrentDelays(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.setSettings(t, func(s *store.Settings) { s.Delay, s.FallbackDelay = 2*24*time.Hour, 10*24*time.Hour })
	fulfilled := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := fulfilled.Add(time.Hour)
	stale := fulfilled.Add(30 * 24 * time.Hour) // what the request was told when it started
	if got, want := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Kind: activities.KindFirst,
		Earliest: stale, Now: now, FulfilledAt: fulfilled}), fulfilled.Add(10*24*time.Hour); !got.Equal(want) {
		t.Errorf("not delivered: planned %s, want fulfilment + the current fallback %s", got, want)
	}
	delivered := fulfilled.Add(24 * time.Hour)
	if got, want := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Kind: activities.KindFirst,
		Earliest: stale, Now: now, FulfilledAt: fulfilled, DeliveredAt: &delivered}), delivered.Add(2*24*time.Hour); !got.Equal(want) {
		t.Errorf("delivered: planned %s, want delivery + the current delay %s", got, want)
	}
	// A delay that already ran out means now.
	f.setSettings(t, func(s *store.Settings) { s.Delay = 0 })
	later := delivered.Add(time.Hour)
	if got := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Kind: activities.KindFirst,
		Earliest: stale, Now: later, FulfilledAt: fulfilled, DeliveredAt: &delivered}); !got.Equal(later) {
		t.Errorf("delay now 0: planned %s, want now %s", got, later)
	}
}

func TestSend_ExcludedProductsAreLeftOutOfTheEmail(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	o.Products = append(o.Products, shopifytestProduct(9903, "Gift Card", "gift-card", "Gift Cards"))
	o.Products[1].Tags = []string{"clearance"}
	f := newFixture(t, o)
	// By ID (the shirt), and by tag, case-insensitively (the gift card).
	f.setSettings(t, func(s *store.Settings) {
		s.ExcludedProducts = []int64{9901}
		s.ExcludedTags = []string{"gift cards"}
	})
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("result %+v, want sent", res)
	}
	out := f.sg.Outbox()
	if len(out) != 1 {
		t.Fatalf("%d emails, want 1", len(out))
	}
	if !strings.Contains(out[0].Text, "Merino Hiking Socks") {
		t.Errorf("the included product is missing from the email:\n%s", out[0].Text)
	}
	for _, excluded := range []string{"Heather Linen Shirt", "Gift Card"} {
		if strings.Contains(out[0].Text, excluded) || strings.Contains(out[0].HTML, excluded) {
			t.Errorf("excluded product %q is in the email", excluded)
		}
	}
}

func TestSend_OrderOfOnlyExcludedProductsIsSkipped(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	o.Products[0].Tags = []string{"Sample"}
	f := newFixture(t, o)
	f.setSettings(t, func(s *store.Settings) {
		s.ExcludedProducts = []int64{9902}
		s.ExcludedTags = []string{"sample"}
	})
	assertSkipped(t, f, review.ReasonExcluded)
}

func shopifytestProduct(id int64, title, handle string, tags ...string) shopifytest.Product {
	return shopifytest.Product{ID: id, Title: title, Handle: handle, Price: "10.00", Tags: tags}
}
