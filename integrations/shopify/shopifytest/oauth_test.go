package shopifytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
)

// The token contract of Shopify's expiring offline tokens, as oauth.go
// cites it: the access token lapses (401), each refresh returns a new pair,
// a used refresh token works until its replacement is used, and an
// uninstall revokes everything.
func TestOAuth_ExpiringTokensFollowShopifysContract(t *testing.T) {
	s := New("", "2026-10")
	defer s.Close()
	redirect := "https://candor.example/shopify/callback"
	s.EnableOAuth(App{APIKey: "key", APISecret: "secret", RedirectURI: redirect})
	clock := time.Now()
	s.Now = func() time.Time { return clock }
	o := shopify.OAuth{APIKey: "key", APISecret: "secret", BaseURL: s.URL}
	ctx := context.Background()

	code, err := s.Authorize(o, redirect)
	if err != nil {
		t.Fatal(err)
	}
	first, err := o.Exchange(ctx, s.Shop, code, clock)
	if err != nil {
		t.Fatal(err)
	}
	if first.ExpiresAt.Sub(clock) != time.Hour || first.RefreshExpiresAt.Sub(clock) != 90*24*time.Hour {
		t.Fatalf("lifetimes: access %s, refresh %s; want 1h and 90 days", first.ExpiresAt.Sub(clock), first.RefreshExpiresAt.Sub(clock))
	}

	// Lapsed after the hour: the Admin API answers 401 with Shopify's body.
	clock = clock.Add(time.Hour + time.Second)
	if status, body := s.adminCall(t, first.AccessToken); status != http.StatusUnauthorized ||
		!strings.Contains(body, "[API] Invalid API key or access token (unrecognized login or wrong password)") {
		t.Fatalf("lapsed token: %d %s", status, body)
	}

	// A refresh; a retry of the same refresh token (its answer was lost)
	// still works until the replacement is used.
	second, err := o.Refresh(ctx, s.Shop, first.RefreshToken, clock)
	if err != nil || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatalf("refresh: %+v, %v", second, err)
	}
	retried, err := o.Refresh(ctx, s.Shop, first.RefreshToken, clock)
	if err != nil {
		t.Fatalf("retry of a refresh whose answer was lost: %v", err)
	}
	if status, _ := s.adminCall(t, retried.AccessToken); status != http.StatusOK {
		t.Fatalf("refreshed token: %d", status)
	}
	// Using the replacement retires the token it replaced.
	if _, err := o.Refresh(ctx, s.Shop, retried.RefreshToken, clock); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Refresh(ctx, s.Shop, first.RefreshToken, clock); !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("a retired refresh token: %v, want ErrGrantRejected", err)
	}
	// A used refresh token whose replacement is never used stays good for
	// 30 days after its first use, not longer.
	clock = clock.Add(31 * 24 * time.Hour)
	third, err := o.Refresh(ctx, s.Shop, second.RefreshToken, clock) // unused until now: good for 90 days
	if err != nil {
		t.Fatalf("an unused refresh token of 31 days: %v", err)
	}
	clock = clock.Add(31 * 24 * time.Hour)
	if _, err := o.Refresh(ctx, s.Shop, second.RefreshToken, clock); !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("a refresh token first used 31 days ago: %v, want ErrGrantRejected", err)
	}

	// Uninstall revokes every token.
	fresh, err := o.Refresh(ctx, s.Shop, third.RefreshToken, clock)
	if err != nil {
		t.Fatal(err)
	}
	s.Uninstall()
	if status, _ := s.adminCall(t, fresh.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("access token after uninstall: %d", status)
	}
	if _, err := o.Refresh(ctx, s.Shop, fresh.RefreshToken, clock); !errors.Is(err, shopify.ErrGrantRejected) {
		t.Fatalf("refresh after uninstall: %v", err)
	}
}

func (s *Store) adminCall(t *testing.T, token string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": shopify.QueryShopTimeZone})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/admin/api/"+s.APIVersion+"/graphql.json", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
