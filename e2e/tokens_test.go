package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/shoptoken"
	"github.com/candorhq/candor/store"
)

// oauthConnect re-connects the system's shop the way a public-app install
// does, with an access token that lives ttl; from then on the stand-in
// accepts only the tokens its OAuth issued.
func (s *system) oauthConnect(t *testing.T, ttl time.Duration) {
	t.Helper()
	redirect := s.url + "/shopify/callback"
	s.shopify.Shop = shop
	s.shopify.EnableOAuth(shopifytest.App{APIKey: "e2e-app", APISecret: secret, RedirectURI: redirect})
	s.shopify.SetTokenTTL(ttl)
	s.acts.OAuth = shopify.OAuth{APIKey: "e2e-app", APISecret: secret, BaseURL: s.shopify.URL}
	code, err := s.shopify.Authorize(s.acts.OAuth, redirect)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.acts.OAuth.Exchange(context.Background(), shop, code, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in, err := shoptoken.Seal(s.ring, shop, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.InstallShop(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	s.shopify.Token = ""
}

// An OAuth shop whose access token has lapsed, with a send window in the
// shop's own time zone (read from Shopify), gets its email; the retention
// sweep then names its recipient to SendGrid for erasure. Every Shopify
// read on the way is made with a refreshed token.
func TestOAuthShop_PastTokenExpirySendsInTheShopsZoneAndTheSweepErasesTheRecipient(t *testing.T) {
	// The window is open for the next two hours in Tokyo, and closed then
	// in UTC: the email comes only if the zone was read from Shopify.
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	local := time.Now().In(tokyo)
	opens := (local.Hour()*60 + local.Minute() - 5 + 24*60) % (24 * 60)
	closes := (opens + 120) % (24 * 60)
	s := start(t, func(st *store.Settings) {
		st.WindowStart, st.WindowEnd, st.TimeZone = opens, closes, ""
	})
	s.shopify.TimeZone = "Asia/Tokyo"
	s.oauthConnect(t, time.Second)
	time.Sleep(1100 * time.Millisecond) // the token lapses
	// Tokens refreshed from here on live 3s: inside the refresh margin, so
	// each Admin call refreshes, and any call that bypassed the refresh
	// would meet a lapsed token.
	s.shopify.SetTokenTTL(3 * time.Second)

	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 21)
	s.shopify.SetOrder(o)
	s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered"))
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("result %+v\nlogs:\n%s", r, lastLines(s.logs.String(), 15))
	}
	if m := s.mail.Outbox(); len(m) != 1 || m[0].To[0] != o.Customer.Email {
		t.Fatalf("%d emails, want 1 to the customer", len(m))
	}
	if n := s.shopify.Calls("CandorShop"); n == 0 {
		t.Fatal("the shop's time zone was never read from Shopify")
	}
	refreshes := s.shopify.Calls("oauth/refresh")
	if refreshes == 0 {
		t.Fatal("no refresh: the lapsed token was never renewed")
	}

	// Forty days on (for SendGrid's period), with the token lapsed again.
	if _, err := s.db.Exec(`UPDATE review_requests SET sent_at = now() - interval '40 days' WHERE shop = $1`, shop); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3100 * time.Millisecond)
	res := s.sweep(t)
	var sg *activities.PolicySweep
	for i := range res.Policies {
		if res.Policies[i].Policy == retention.SendGridActivity {
			sg = &res.Policies[i]
		}
	}
	if sg == nil || sg.Deleted != 1 || len(sg.Notes) > 0 {
		t.Fatalf("SendGrid sweep %+v, want the one recipient erased and no note", sg)
	}
	if erased := s.mail.Erased(); len(erased) != 1 || erased[0] != o.Customer.Email {
		t.Fatalf("SendGrid was asked to erase %d addresses, want the customer's", len(erased))
	}
	if n := s.shopify.Calls("oauth/refresh"); n <= refreshes {
		t.Fatalf("the sweep read the recipient without refreshing the lapsed token (%d refreshes)", n)
	}
	if strings.Contains(s.logs.String(), "shprt_") || strings.Contains(s.logs.String(), "shpua_") {
		t.Fatal("a token reached the logs")
	}
	if n := s.count(t, `SELECT count(*) FROM review_requests WHERE shop = $1 AND sendgrid_erased_at IS NULL`, shop); n != 0 {
		t.Fatalf("%d requests not marked erased at SendGrid", n)
	}
}
