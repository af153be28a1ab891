package shopify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestVerifyHMAC_MatchesShopifysAlgorithm(t *testing.T) {
	body := []byte(`{"id":1}`)
	// printf '{"id":1}' | openssl dgst -sha256 -hmac secret -binary | base64
	const want = "A971iWIMgT8Zj9A9eWfikrFj7wQ16/Qwcc4OlRl2PLc="
	if got := Sign("secret", body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !VerifyHMAC("secret", body, want) {
		t.Fatal("valid signature rejected")
	}
	for name, c := range map[string]struct {
		secret, header string
		body           []byte
	}{
		"empty secret":    {"", want, body},
		"empty header":    {"secret", "", body},
		"other secret":    {"secret2", want, body},
		"changed body":    {"secret", want, []byte(`{"id":2}`)},
		"not base64":      {"secret", "!!", body},
		"truncated":       {"secret", want[:20], body},
		"hex, not base64": {"secret", "c1928a0d513d008d9808", body},
	} {
		if VerifyHMAC(c.secret, c.body, c.header) {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestParse_KeepsOnlyWhatCandorUses(t *testing.T) {
	f, err := ParseFulfillment([]byte(`{"id":9,"order_id":5,"status":"success","name":"#1001.2",
		"email":"a@b.c","destination":{"name":"A B"},"line_items":[{"product_id":3,"title":"Mug","price":"9.00"},{"product_id":null,"title":"Tip"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.OrderName() != "#1001" || f.OrderID != 5 || len(f.LineItems) != 2 || !bool(f.Email) || !bool(f.Destination) || bool(f.Phone) {
		t.Fatalf("parsed %+v", f)
	}
	if (Fulfillment{OrderID: 7}).OrderName() != "#7" || (Fulfillment{Name: "SHOP-12"}).OrderName() != "SHOP-12" {
		t.Fatal("order name fallback")
	}
	for _, body := range []string{`[]`, `{"id":1,"order_id":2,"status":"success","line_items":{}}`, `{"id":1,"order_id":-2,"status":"success","line_items":[]}`, ``} {
		if _, err := ParseFulfillment([]byte(body)); !errors.Is(err, ErrBadPayload) {
			t.Errorf("ParseFulfillment(%q) = %v", body, err)
		}
	}
}

func TestValidShopDomain_IsAnchored(t *testing.T) {
	for _, ok := range []string{"a.myshopify.com", "my-store-2.myshopify.com", "A1.myshopify.com"} {
		if !ValidShopDomain(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "myshopify.com", ".myshopify.com", "-a.myshopify.com", "a.myshopify.com.evil.com",
		"evil.com/a.myshopify.com", "a.b.myshopify.com", "a.myshopify.com\n", "a_b.myshopify.com", "https://a.myshopify.com"} {
		if ValidShopDomain(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAdmin_ClassifiesFailuresAndRebasesToTheStandIn(t *testing.T) {
	var paths []string
	status := http.StatusTooManyRequests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "4.0")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"errors":"customer jane@example.com is locked"}`))
	}))
	defer srv.Close()
	a, err := NewAdmin(AdminConfig{APIVersion: "2026-10", BaseURL: srv.URL}, "a.myshopify.com", "tok")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		status    int
		retryable bool
		after     time.Duration
	}{
		{429, true, 4 * time.Second},
		{503, true, 0},
		{500, true, 0},
		{401, false, 0},
		{403, false, 0},
		{404, false, 0},
		{402, false, 0},
	} {
		status = c.status
		_, err := a.OrderStatus(context.Background(), 1)
		var se *Error
		if !errors.As(err, &se) || se.Retryable != c.retryable || se.RetryAfter != c.after || se.Status != c.status {
			t.Errorf("HTTP %d: err = %#v", c.status, err)
			continue
		}
		if strings.Contains(err.Error(), "jane") {
			t.Errorf("HTTP %d: error echoes the response body: %v", c.status, err)
		}
	}
	if paths[0] != "/admin/api/2026-10/graphql.json" {
		t.Fatalf("request went to %s", paths[0])
	}
	if _, err := NewAdmin(AdminConfig{}, "evil.com", "tok"); err == nil {
		t.Fatal("client made for a non-Shopify domain")
	}
	// A server that is not there is a retryable network error.
	dead, _ := NewAdmin(AdminConfig{APIVersion: "2026-10", BaseURL: "http://127.0.0.1:1"}, "a.myshopify.com", "tok")
	_, err = dead.Recipient(context.Background(), 1)
	var se *Error
	if !errors.As(err, &se) || !se.Retryable {
		t.Fatalf("unreachable Shopify: %v", err)
	}
}
