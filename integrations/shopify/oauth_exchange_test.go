package shopify_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
)

const (
	key      = "client-id"
	appSec   = "shpss_exchange_test"
	redirect = "https://candor.example/shopify/callback"
)

func standIn(t *testing.T) (*shopifytest.Store, shopify.OAuth) {
	t.Helper()
	st := shopifytest.New("", "2026-10")
	t.Cleanup(st.Close)
	st.Shop = "a.myshopify.com"
	st.EnableOAuth(shopifytest.App{APIKey: key, APISecret: appSec, RedirectURI: redirect})
	return st, shopify.OAuth{APIKey: key, APISecret: appSec, BaseURL: st.URL}
}

// code runs the stand-in's authorize page and returns the code it grants.
func code(t *testing.T, o shopify.OAuth) string {
	t.Helper()
	return codeFrom(t, o.AuthorizeURL("a.myshopify.com", "s", redirect))
}

func codeFrom(t *testing.T, authorize string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(resp.Header.Get("Location"))
	if !shopify.VerifyQuery(appSec, u.Query()) {
		t.Fatalf("the stand-in's callback does not verify: %s", u)
	}
	return u.Query().Get("code")
}

func TestExchange_ExpiringTokenRefreshAndRefusals(t *testing.T) {
	st, o := standIn(t)
	ctx := context.Background()
	now := time.Now()
	c := code(t, o)
	tok, err := o.Exchange(ctx, "a.myshopify.com", c, now)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || !tok.ExpiresAt.Equal(now.Add(time.Hour)) ||
		tok.RefreshExpiresAt.Before(now.Add(89*24*time.Hour)) || len(shopify.MissingScopes(tok.Scopes)) != 0 {
		t.Fatalf("token %+v", tok)
	}
	_, err = o.Exchange(ctx, "a.myshopify.com", c, now)
	if !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("a spent code: %v", err)
	}
	if strings.Contains(err.Error(), c) {
		t.Fatal("the error echoes the code")
	}

	next, err := o.Refresh(ctx, "a.myshopify.com", tok.RefreshToken, now)
	if err != nil || next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken || !st.TokenValid(next.AccessToken) {
		t.Fatalf("refresh: %+v %v", next, err)
	}
	// Shopify retires a refresh token once its replacement is used.
	if _, err := o.Refresh(ctx, "a.myshopify.com", next.RefreshToken, now); err != nil {
		t.Fatalf("refresh with the replacement: %v", err)
	}
	if _, err := o.Refresh(ctx, "a.myshopify.com", tok.RefreshToken, now); !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("a retired refresh token: %v", err)
	}

	wrong := o
	wrong.APISecret = "shpss_wrong"
	if _, err := wrong.Exchange(ctx, "a.myshopify.com", code(t, o), now); !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("wrong client secret: %v", err)
	}
	st.FailTokenEndpoint(1, http.StatusServiceUnavailable)
	var se *shopify.Error
	if _, err := o.Exchange(ctx, "a.myshopify.com", code(t, o), now); !errors.As(err, &se) || !se.Retryable {
		t.Fatalf("Shopify down: %v", err)
	}
	for _, shop := range []string{"evil.com", "a.myshopify.com.evil.com"} {
		if _, err := o.Exchange(ctx, shop, "x", now); err == nil {
			t.Errorf("exchange for %s", shop)
		}
	}
	if _, err := o.Exchange(ctx, "a.myshopify.com", "", now); !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("empty code: %v", err)
	}
	if _, err := (shopify.OAuth{BaseURL: st.URL}).Exchange(ctx, "a.myshopify.com", "x", now); err == nil {
		t.Fatal("exchange without credentials")
	}
}

// installed runs the authorize page and the code exchange, and returns an
// Admin API client with the token granted.
func installed(t *testing.T, st *shopifytest.Store, o shopify.OAuth) *shopify.Admin {
	t.Helper()
	tok, err := o.Exchange(context.Background(), "a.myshopify.com", code(t, o), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	admin, err := shopify.NewAdmin(shopify.AdminConfig{APIVersion: "2026-10", BaseURL: st.URL}, "a.myshopify.com", tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

// An app load signs the merchant in with an online (per-user) grant: its
// code exchanges for a token that names the staff member, once. An offline
// code is no sign-in.
func TestExchangeOnline_NamesTheStaffMemberOnce(t *testing.T) {
	st, o := standIn(t)
	ctx := context.Background()
	login := o.LoginURL("a.myshopify.com", "s", redirect)
	if u, _ := url.Parse(login); u.Query().Get("grant_options[]") != "per-user" || u.Query().Get("state") != "s" {
		t.Fatalf("login URL %s", login)
	}
	c := codeFrom(t, login)
	g, err := o.ExchangeOnline(ctx, "a.myshopify.com", c)
	if err != nil || g.UserID != shopifytest.Staff.ID {
		t.Fatalf("online exchange: %+v, %v", g, err)
	}
	if _, err := o.ExchangeOnline(ctx, "a.myshopify.com", c); !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("a spent code: %v", err)
	}
	if _, err := o.ExchangeOnline(ctx, "a.myshopify.com", code(t, o)); err == nil || !strings.Contains(err.Error(), "associated_user") {
		t.Fatalf("an offline code as a sign-in: %v", err)
	}
	if _, err := o.ExchangeOnline(ctx, "a.myshopify.com", ""); !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("no code: %v", err)
	}
	if n := st.Calls("oauth/online"); n != 1 {
		t.Fatalf("%d online tokens issued", n)
	}
}

func TestEnsureSubscriptions_ReportsShopifysUserErrors(t *testing.T) {
	st, o := standIn(t)
	admin := installed(t, st, o)
	// Shopify delivers only over HTTPS.
	_, err := admin.EnsureSubscriptions(context.Background(), "http://candor.example/webhooks/shopify")
	var se *shopify.Error
	if !errors.As(err, &se) || se.Retryable || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("plain-HTTP address: %v", err)
	}
	if n := len(st.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions made with a refused address", n)
	}
	ch, err := admin.EnsureSubscriptions(context.Background(), "https://candor.example/webhooks/shopify")
	if err != nil || ch.Created != len(shopify.SubscriptionFields) {
		t.Fatalf("%+v %v", ch, err)
	}
}

// TestEnsureSubscriptions_FulfillmentTopicsNeedReadFulfillments: Shopify's
// webhook reference puts fulfillments/create and fulfillments/update under
// read_fulfillments. A token granted Candor's scopes without it (what Candor
// asked for before) cannot subscribe to them.
func TestEnsureSubscriptions_FulfillmentTopicsNeedReadFulfillments(t *testing.T) {
	st, o := standIn(t)
	for _, tc := range []struct {
		granted []string
		wantErr bool
	}{
		{[]string{"read_orders", "read_customers", "read_products"}, true},
		{shopify.Scopes, false},
	} {
		st.SetGrantScopes(tc.granted)
		_, err := installed(t, st, o).EnsureSubscriptions(context.Background(), "https://candor.example/webhooks/shopify")
		if tc.wantErr != (err != nil) || (tc.wantErr && !strings.Contains(err.Error(), "read_fulfillments")) {
			t.Fatalf("granted %v: %v", tc.granted, err)
		}
	}
	topics := map[string]bool{}
	for _, s := range st.Subscriptions() {
		topics[s.Topic] = true
	}
	if !topics["FULFILLMENTS_CREATE"] || !topics["FULFILLMENTS_UPDATE"] {
		t.Fatalf("subscribed topics %v", topics)
	}
}
