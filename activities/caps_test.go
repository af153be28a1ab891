package activities_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

var candle = shopifytest.Product{ID: 9903, Title: "Beeswax Pillar Candle", Handle: "beeswax-pillar-candle", Price: "22.00"}

// setCaps changes the fixture shop's caps.
func (f *fixture) setCaps(t *testing.T, maxEmails int, productOnce bool, maxProducts int) {
	t.Helper()
	st := store.DefaultSettings(testShop)
	st.MaxEmails, st.ProductOnce, st.MaxProducts = maxEmails, productOnce, maxProducts
	if err := f.db.UpdateSettings(context.Background(), testShop, st); err != nil {
		t.Fatal(err)
	}
}

// sendOrder schedules and sends the first email of another order (by the
// fixture's customer unless o says otherwise), and returns its result and
// request ID.
func (f *fixture) sendOrder(t *testing.T, o shopifytest.Order) (activities.SendResult, string) {
	t.Helper()
	f.shop.SetOrder(o)
	reqID := f.ring.RequestID(testShop, o.ID)
	var products []store.Product
	for _, p := range o.Products {
		products = append(products, store.Product{ID: p.ID, Title: p.Title})
	}
	if _, err := f.env.ExecuteActivity(f.acts.Schedule, activities.ScheduleInput{
		Shop: testShop, OrderID: o.ID, OrderName: o.Name, RequestID: reqID, Products: products,
	}); err != nil {
		t.Fatalf("schedule: %v", err)
	}
	val, err := f.env.ExecuteActivity(f.acts.SendReviewRequest, activities.SendInput{
		Shop: testShop, OrderID: o.ID, RequestID: reqID, Kind: activities.KindFirst,
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	var res activities.SendResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, reqID
}

func TestSend_CapSkipsACustomersEmailOverTheLimitIn30Days(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.setCaps(t, 2, false, 5)
	for i := int64(0); i < 2; i++ {
		if res, _ := f.sendOrder(t, customerOrder(testOrderID+1+i)); res.Status != store.StatusSent {
			t.Fatalf("email %d: %+v, want sent", i+1, res)
		}
	}
	res, reqID := f.sendOrder(t, customerOrder(testOrderID+3))
	if res != (activities.SendResult{Status: store.StatusSkipped, Reason: review.ReasonCapEmails}) {
		t.Fatalf("third email: %+v, want skipped for the cap", res)
	}
	if r, _ := f.db.Request(context.Background(), reqID); r.Status != store.StatusSkipped || r.Reason != string(review.ReasonCapEmails) {
		t.Errorf("request row %s/%s: /app/requests shows the cap from it", r.Status, r.Reason)
	}
	if n := len(f.sg.Outbox()); n != 2 {
		t.Errorf("%d emails, want 2", n)
	}
	// Another customer is not capped by this one's emails.
	other := customerOrder(testOrderID + 4)
	other.Customer.ID, other.Customer.Email = 5550009999, "someone.else@example.org"
	if res, _ := f.sendOrder(t, other); res.Status != store.StatusSent {
		t.Errorf("another customer: %+v, want sent", res)
	}
}

func TestSend_CapLeavesOutProductsAskedAboutThisYear(t *testing.T) {
	t.Parallel()
	f := newFixture(t, customerOrder(testOrderID))
	f.setCaps(t, 0, true, 5)
	first := customerOrder(testOrderID + 1) // shirt and socks
	if res, _ := f.sendOrder(t, first); res.Status != store.StatusSent {
		t.Fatalf("first: %+v", res)
	}
	second := customerOrder(testOrderID + 2)
	second.Products = []shopifytest.Product{first.Products[1], candle}
	res, reqID := f.sendOrder(t, second)
	if res.Status != store.StatusSent {
		t.Fatalf("second: %+v, want sent about the candle", res)
	}
	out := f.sg.Outbox()
	if len(out) != 2 || !strings.Contains(out[1].Text, candle.Title) || strings.Contains(out[1].Text, first.Products[1].Title) {
		t.Fatalf("the second email must ask about the candle only:\n%s", out[len(out)-1].Text)
	}
	if r, _ := f.db.Request(context.Background(), reqID); !strings.Contains(string(r.ProductsJSON), "9903") || strings.Contains(string(r.ProductsJSON), "9902") {
		t.Errorf("the request records %s, want what was asked", r.ProductsJSON)
	}
	third := customerOrder(testOrderID + 3)
	third.Products = []shopifytest.Product{first.Products[0]}
	if res, _ := f.sendOrder(t, third); res != (activities.SendResult{Status: store.StatusSkipped, Reason: review.ReasonCapProducts}) {
		t.Fatalf("third: %+v, want skipped: every product asked about this year", res)
	}
	if n := len(f.sg.Outbox()); n != 2 {
		t.Errorf("%d emails, want 2", n)
	}
}

func TestSend_AnEmailAsksAboutAtMostMaxProducts(t *testing.T) {
	t.Parallel()
	o := customerOrder(testOrderID)
	o.Products = append(o.Products, candle)
	f := newFixture(t, o)
	f.setCaps(t, 3, true, 2)
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("%+v", res)
	}
	out := f.sg.Outbox()
	if len(out) != 1 || !strings.Contains(out[0].Text, o.Products[0].Title) || !strings.Contains(out[0].Text, o.Products[1].Title) ||
		strings.Contains(out[0].Text, candle.Title) {
		t.Fatalf("want the first two products only:\n%s", out[0].Text)
	}
}

// The EU soft opt-in emails a customer who never subscribed, on the shop's
// legitimate interest, and every such email carries the objection notice;
// explicit consent records consent; none carries no notice.
func TestSend_ConsentModesDecideWhoIsEmailedTheBasisAndTheNotice(t *testing.T) {
	t.Parallel()
	const notice = "You can object to these emails at any time, at no cost other than your usual connection charges"
	for _, tc := range []struct {
		mode       string
		subscribed bool
		want       string // status
		basis      string
		notice     bool
	}{
		{store.ConsentExplicit, true, store.StatusSent, registry.BasisConsent, false},
		{store.ConsentExplicit, false, store.StatusSkipped, "", false},
		{store.ConsentSoftOptIn, false, store.StatusSent, registry.BasisLegitimateInterest, true},
		{store.ConsentNone, false, store.StatusSent, registry.BasisLegitimateInterest, false},
	} {
		t.Run(fmt.Sprintf("%s/subscribed=%v", tc.mode, tc.subscribed), func(t *testing.T) {
			o := customerOrder(testOrderID)
			if !tc.subscribed {
				o.Customer.MarketingState = "NOT_SUBSCRIBED"
			}
			f := newFixture(t, o)
			st := store.DefaultSettings(testShop)
			st.ConsentMode = tc.mode
			if err := f.db.UpdateSettings(context.Background(), testShop, st); err != nil {
				t.Fatal(err)
			}
			res := f.mustSend(t, activities.KindFirst)
			if res.Status != tc.want {
				t.Fatalf("result %+v, want %s", res, tc.want)
			}
			if tc.want != store.StatusSent {
				if res.Reason != review.ReasonNoConsent || len(f.sg.Outbox()) != 0 {
					t.Errorf("skipped for %s with %d emails, want no_consent and none", res.Reason, len(f.sg.Outbox()))
				}
				return
			}
			m := f.sg.Outbox()[0]
			if got := strings.Contains(m.Text, notice) && strings.Contains(m.HTML, notice); got != tc.notice {
				t.Errorf("objection notice in the email = %v, want %v:\n%s", got, tc.notice, m.Text)
			}
			tx := transmissions(f.entries(t), f.reqID)
			if len(tx) != 1 || tx[0].LegalBasis != tc.basis {
				t.Errorf("transmission entries %+v, want one on %s", tx, tc.basis)
			}
		})
	}
}
