package activities_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/testsuite"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/shoptoken"
	"github.com/candorhq/candor/store"
)

const (
	testAppKey    = "candor-test-app"
	testAppSecret = "shpss_test_app_secret"
)

// oauthInstall connects the fixture's shop the way a public-app install
// does: an expiring token from the stand-in's OAuth, sealed, upserted over
// the custom-app token. The token lives ttl.
func (f *fixture) oauthInstall(t *testing.T, ttl time.Duration) shopify.Token {
	t.Helper()
	redirect := "https://candor.example/shopify/callback"
	f.shop.EnableOAuth(shopifytest.App{APIKey: testAppKey, APISecret: testAppSecret, RedirectURI: redirect})
	f.shop.SetTokenTTL(ttl)
	f.acts.OAuth = shopify.OAuth{APIKey: testAppKey, APISecret: testAppSecret, BaseURL: f.shop.URL}
	f.shop.Shop = testShop
	code, err := f.shop.Authorize(f.acts.OAuth, redirect)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.acts.OAuth.Exchange(context.Background(), testShop, code, time.Now())
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	in, err := shoptoken.Seal(f.ring, testShop, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.InstallShop(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSend_RefreshesAnExpiringTokenBeforeUsingIt(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	old := f.oauthInstall(t, time.Second)
	f.shop.Token = "" // only OAuth tokens from here on
	time.Sleep(1100 * time.Millisecond)
	if f.shop.TokenValid(old.AccessToken) {
		t.Fatal("the stand-in still accepts the lapsed token")
	}
	f.shop.SetTokenTTL(time.Hour)

	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("send with a lapsed token: %+v", res)
	}
	if n := f.shop.Calls("oauth/refresh"); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	sh, _ := f.db.Shop(context.Background(), testShop)
	tok, err := f.ring.Open(sh.TokenSealed, testShop)
	if err != nil || string(tok) == old.AccessToken || !f.shop.TokenValid(string(tok)) {
		t.Fatalf("stored token after refresh: %v", err)
	}
	if time.Until(sh.TokenExpiresAt) < 55*time.Minute || sh.RefreshTokenSealed == "" {
		t.Fatalf("stored grant %+v", sh.Grant)
	}
	if strings.Contains(f.logs.String(), string(tok)) || strings.Contains(f.logs.String(), "shprt_") {
		t.Fatal("a token reached the logs")
	}
}

// Shopify spends a refresh token on use: two workers refreshing at once
// must not both use it. The row lock makes the second see the first's token.
func TestShopAdmin_ConcurrentRefreshesSpendTheRefreshTokenOnce(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.oauthInstall(t, time.Minute) // inside shoptoken.RefreshMargin: due for refresh
	f.shop.SetTokenTTL(time.Hour)
	f.shop.SetTokenDelay(time.Second) // the first refresh is still in flight when the others start
	f.acts.PublicURL = ""             // no subscription calls: this is about the token
	f.acts.StartReview = func(context.Context, activities.ReviewStart) (bool, error) {
		t.Error("no order should be started")
		return false, nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(f.acts)
			_, errs[i] = env.ExecuteActivity(f.acts.ReconcileShop, testShop)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	if n := f.shop.Calls("oauth/refresh"); n != 1 {
		t.Fatalf("%d refreshes for 4 concurrent callers, want 1", n)
	}
}

// Shopify refusing the refresh token (revoked, or past its life) means only
// a reinstall helps: the send ends as skipped, shop_disconnected, at once.
func TestSend_RefusedRefreshTokenEndsAsDisconnectedNotRetried(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.oauthInstall(t, time.Minute)
	// A refresh token Shopify no longer knows (revoked, or spent elsewhere).
	ctx := context.Background()
	sealed, _ := f.ring.Seal([]byte("shprt_unknown"), testShop+"/refresh")
	if _, err := f.db.ExecContext(ctx, `UPDATE shops SET refresh_token_sealed = $2 WHERE domain = $1`, testShop, sealed); err != nil {
		t.Fatal(err)
	}
	before, _ := f.db.Shop(ctx, testShop)
	res, err := f.send(t, activities.KindFirst)
	if err != nil || res.Status != store.StatusSkipped || res.Reason != review.ReasonShopDisconnected {
		t.Fatalf("send with a refused refresh token: %+v, %v; want skipped %s", res, err, review.ReasonShopDisconnected)
	}
	assertSkipped(t, f, review.ReasonShopDisconnected)
	after, _ := f.db.Shop(ctx, testShop)
	if after.TokenSealed != before.TokenSealed || after.RefreshTokenSealed != before.RefreshTokenSealed {
		t.Fatal("a failed refresh changed the stored tokens")
	}
}

func (f *fixture) uninstallRequest(t *testing.T, id string) {
	t.Helper()
	err := f.db.InTx(context.Background(), func(tx *sqlx.Tx) error {
		_, err := store.CreatePrivacyRequest(context.Background(), tx, store.PrivacyRequest{ID: id, Kind: store.KindUninstall, Shop: testShop})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) tokenSealed(t *testing.T) string {
	t.Helper()
	sh, err := f.db.Shop(context.Background(), testShop)
	if err != nil {
		t.Fatal(err)
	}
	return sh.TokenSealed
}

// app/uninstalled revokes the token; a reinstall that lands before the
// uninstall is processed keeps its new token.
func TestRevokeToken_RevokesTheUninstalledTokenButNotAReinstallsNewOne(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.uninstallRequest(t, "pr_uninstall_1")
	if _, err := f.env.ExecuteActivity(f.acts.RevokeToken, "pr_uninstall_1"); err != nil {
		t.Fatal(err)
	}
	if f.tokenSealed(t) != "" {
		t.Fatal("the custom-app token survived the uninstall")
	}

	f.uninstallRequest(t, "pr_uninstall_2")
	time.Sleep(10 * time.Millisecond)
	f.oauthInstall(t, time.Hour) // the merchant reinstalls before the worker gets to it
	if _, err := f.env.ExecuteActivity(f.acts.RevokeToken, "pr_uninstall_2"); err != nil {
		t.Fatal(err)
	}
	if f.tokenSealed(t) == "" {
		t.Fatal("an uninstall processed late revoked the reinstall's token")
	}

	f.uninstallRequest(t, "pr_uninstall_3") // uninstalled again, after the reinstall
	if _, err := f.env.ExecuteActivity(f.acts.RevokeToken, "pr_uninstall_3"); err != nil {
		t.Fatal(err)
	}
	if f.tokenSealed(t) != "" {
		t.Fatal("the second uninstall kept the token")
	}
}

// expireOAuthToken installs the fixture's shop through OAuth with a token
// that has lapsed by the time it returns, and makes the stand-in accept only
// OAuth tokens from then on; new tokens live an hour.
func (f *fixture) expireOAuthToken(t *testing.T) shopify.Token {
	t.Helper()
	old := f.oauthInstall(t, time.Second)
	f.shop.Token = ""
	time.Sleep(1100 * time.Millisecond)
	if f.shop.TokenValid(old.AccessToken) {
		t.Fatal("the stand-in still accepts the lapsed token")
	}
	f.shop.SetTokenTTL(time.Hour)
	return old
}

// The send window in the shop's own zone reads it from Shopify: through the
// refresh-aware path, so an expired token is refreshed, not "rejected".
func TestPlanSend_ReadsTheShopsZoneWithARefreshedToken(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.shop.TimeZone = "Asia/Tokyo"
	f.setSettings(t, func(s *store.Settings) { s.WindowStart, s.WindowEnd, s.TimeZone = 9*60, 18*60, "" })
	f.expireOAuthToken(t)

	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) // 09:00 in Tokyo
	got := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Kind: activities.KindFirst,
		Earliest: now.Add(10 * time.Hour), Now: now}) // 19:00 in Tokyo: closed
	// 09:00 in Tokyo, the zone read from Shopify, at the request's place
	// in the window's first half hour.
	if want := now.Add(24*time.Hour + activities.OpeningJitter(f.reqID, activities.KindFirst, 30*time.Minute)); !got.Equal(want) {
		t.Fatalf("planned %s, want %s (09:00 Tokyo, the zone read from Shopify)", got, want)
	}
	if n := f.shop.Calls("CandorShop"); n != 1 {
		t.Errorf("shop time zone read %d times, want 1", n)
	}
	if n := f.shop.Calls("oauth/refresh"); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

// The retention sweep reads the recipients it names to SendGrid from
// Shopify: with an expired token it refreshes, rather than skipping the
// shop with a note that Shopify "refused".
func TestSweepSendGrid_ReadsRecipientsWithARefreshedToken(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.oauthInstall(t, time.Hour)
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("send: %+v", res)
	}
	ctx := context.Background()
	if _, err := f.db.ExecContext(ctx, `UPDATE review_requests SET sent_at = now() - interval '40 days' WHERE request_id = $1`, f.reqID); err != nil {
		t.Fatal(err)
	}
	// The hour is over: the stored token has lapsed.
	f.shop.Token = ""
	if _, err := f.db.ExecContext(ctx, `UPDATE shops SET access_token_expires_at = now() - interval '1 minute'`); err != nil {
		t.Fatal(err)
	}
	f.shop.Now = func() time.Time { return time.Now().Add(61 * time.Minute) }

	val, err := f.env.ExecuteActivity(f.acts.SweepSendGrid, "run-refresh")
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	var res activities.PolicySweep
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) > 0 || res.Deleted != 1 {
		t.Fatalf("sweep %+v, want the one recipient erased and no note", res)
	}
	if got := f.sg.Erased(); len(got) != 1 || got[0] != f.order.Customer.Email {
		t.Fatalf("SendGrid was asked to erase %d addresses, want the customer's", len(got))
	}
	if n := f.shop.Calls("oauth/refresh"); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	var erased *time.Time
	if err := f.db.GetContext(ctx, &erased, `SELECT sendgrid_erased_at FROM review_requests WHERE request_id = $1`, f.reqID); err != nil || erased == nil {
		t.Fatalf("request not marked erased at SendGrid: %v", err)
	}
}

// After app/uninstalled the shop's row stays (for the grace period) with its
// tokens revoked: a waiting request plans without Shopify and ends skipped,
// at once, instead of failing and retrying for a day.
func TestSend_UninstalledShopIsSkippedAsDisconnected(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.oauthInstall(t, time.Hour)
	f.setSettings(t, func(s *store.Settings) { s.WindowStart, s.WindowEnd, s.TimeZone = 9*60, 18*60, "" })
	time.Sleep(10 * time.Millisecond)
	f.uninstallRequest(t, "pr_uninstall")
	if _, err := f.env.ExecuteActivity(f.acts.RevokeToken, "pr_uninstall"); err != nil {
		t.Fatal(err)
	}
	sh, err := f.db.Shop(context.Background(), testShop)
	if err != nil {
		t.Fatal(err)
	}
	if sh.TokenSealed != "" || sh.RefreshTokenSealed != "" {
		t.Fatal("the uninstall left a token: access or refresh")
	}

	now := time.Now()
	if got := f.plan(t, activities.PlanInput{Shop: testShop, RequestID: f.reqID, Kind: activities.KindFirst,
		Earliest: now.Add(time.Hour), Now: now}); got.After(now.Add(time.Hour)) {
		t.Errorf("planned %s for a disconnected shop", got)
	}
	res, err := f.send(t, activities.KindFirst)
	if err != nil {
		t.Fatalf("send for an uninstalled shop: %v; want an explicit skip, not an error to retry", err)
	}
	if res.Status != store.StatusSkipped || res.Reason != review.ReasonShopDisconnected {
		t.Fatalf("result %+v, want skipped %s", res, review.ReasonShopDisconnected)
	}
	assertSkipped(t, f, review.ReasonShopDisconnected)
	if n := f.shop.Calls("CandorShop") + f.shop.Calls("CandorOrderStatus") + f.shop.Calls("oauth/refresh"); n != 0 {
		t.Errorf("%d calls to Shopify for a disconnected shop", n)
	}
}

// A rotation re-seals the refresh token too: with the old master key
// removed, the shop still refreshes its lapsed token and sends.
func TestSend_AfterKeyRotationTheRefreshTokenStillOpens(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	old := f.ring
	f.expireOAuthToken(t)

	newKey := make([]byte, 32)
	if _, err := rand.Read(newKey); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := datakeys.LoadIdentity(ctx, f.db, old); err != nil {
		t.Fatal(err)
	}
	during, err := keys.New(newKey, f.masterKey)
	if err == nil {
		err = datakeys.LoadIdentity(ctx, f.db, during)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res, err := datakeys.Rotate(ctx, f.db, during, 10, nil); err != nil || len(res.Left) != 0 {
		t.Fatalf("rotate: %+v, %v", res, err)
	}
	after, err := keys.New(newKey) // CANDOR_MASTER_KEY_PREVIOUS removed
	if err == nil {
		err = datakeys.LoadIdentity(ctx, f.db, after)
	}
	if err != nil {
		t.Fatal(err)
	}
	f.acts.Keys = after
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("send after rotation: %+v", res)
	}
	if n := f.shop.Calls("oauth/refresh"); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	sh, _ := f.db.Shop(ctx, testShop)
	if _, err := old.Open(sh.RefreshTokenSealed, keys.RefreshTokenAAD(testShop)); err == nil {
		t.Error("the new refresh token is sealed under the old key")
	}
}

// A send whose token refresh waits on Shopify holds no lock on the shop's
// row: a new review request for the shop is stored meanwhile.
func TestShopAdmin_RefreshInFlightDoesNotBlockANewRequestForTheShop(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.oauthInstall(t, time.Minute) // inside shoptoken.RefreshMargin: due for refresh
	f.shop.SetTokenTTL(time.Hour)
	reached, release := f.shop.HoldNext("oauth/access_token")
	defer release()
	done := make(chan error, 1)
	go func() {
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(f.acts)
		_, err := env.ExecuteActivity(f.acts.SendReviewRequest, activities.SendInput{
			Shop: testShop, OrderID: f.order.ID, RequestID: f.reqID, Kind: activities.KindFirst})
		done <- err
	}()
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the send never asked Shopify for a new token")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := f.db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := store.CreateRequest(ctx, tx, store.Request{RequestID: "rq_next_order", Shop: testShop,
			OrderID: testOrderID + 1, OrderName: "#1002", ExpiresAt: time.Now().Add(time.Hour)}, nil)
		return err
	})
	if err != nil {
		t.Fatalf("a new request for the shop while its token refresh is in flight: %v", err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("send: %v", err)
	}
	if n := f.shop.Calls("oauth/refresh"); n != 1 || f.request(t).Status != store.StatusSent {
		t.Fatalf("%d refreshes, request %s; want 1 and sent", n, f.request(t).Status)
	}
}
