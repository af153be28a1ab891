package activities_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/testsuite"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
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
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(f.acts.OAuth.AuthorizeURL(testShop, "st", redirect))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := f.acts.OAuth.Exchange(context.Background(), testShop, loc.Query().Get("code"), time.Now())
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	in, err := activities.SealToken(f.ring, testShop, tok)
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
	f.oauthInstall(t, time.Minute) // inside TokenRefreshMargin: due for refresh
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

func TestShopAdmin_RevokedRefreshTokenIsNotRetried(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.oauthInstall(t, time.Minute)
	// A refresh token Shopify no longer knows (revoked, or spent elsewhere).
	ctx := context.Background()
	sealed, _ := f.ring.Seal([]byte("shprt_unknown"), testShop+"/refresh")
	if _, err := f.db.ExecContext(ctx, `UPDATE shops SET refresh_token_sealed = $2 WHERE domain = $1`, testShop, sealed); err != nil {
		t.Fatal(err)
	}
	before, _ := f.db.Shop(ctx, testShop)
	_, err := f.send(t, activities.KindFirst)
	if err == nil || !strings.Contains(err.Error(), "refused the grant") {
		t.Fatalf("send with a revoked refresh token: %v", err)
	}
	if !strings.Contains(err.Error(), activities.ErrShopifyRejected) {
		t.Fatalf("error type: %v", err)
	}
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
