package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

func TestShops_SendWindowAndExclusionFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	db, u := storetest.New(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	t.Setenv("DATABASE_URL", u)
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(key))
	const s = "window-test.myshopify.com"
	if _, err := capture(t, "shops", "add", "--shop", s, "--token", "shpat_x", "--send-window", "22:00-06:30", "--time-zone", "Asia/Tokyo"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--send-window", "9-17"},
		{"--send-window", "09:00"},
		{"--send-window", "09:00-09:00"},
		{"--send-window", "09:00-25:00"},
		{"--time-zone", "Mars/Olympus_Mons"},
		{"--time-zone", "Local"},
		{"--exclude-products", "12,abc"},
		{"--exclude-products", "-4"},
		{"--exclude-tags", " ,"},
	} {
		_, err := capture(t, append([]string{"shops", "set", "--shop", s}, args...)...)
		if args[0] == "--exclude-tags" {
			// Blank entries are dropped: an empty list, which is valid.
			if err != nil {
				t.Errorf("%v: %v", args, err)
			}
			continue
		}
		if !isUsage(err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("shops set %v: err = %v, want a one-line usage error", args, err)
		}
	}
	got, _ := db.Shop(context.Background(), s)
	if got.WindowStart != 22*60 || got.WindowEnd != 6*60+30 || got.TimeZone != "Asia/Tokyo" {
		t.Fatalf("rejected flags changed the window: %+v", got.Settings)
	}
	if _, err := capture(t, "shops", "set", "--shop", s, "--exclude-products", "8801, 8803", "--exclude-tags", "gift card,sample", "--time-zone", "shop"); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Shop(context.Background(), s)
	if !reflect.DeepEqual(got.ExcludedProducts, []int64{8801, 8803}) || !reflect.DeepEqual(got.ExcludedTags, []string{"gift card", "sample"}) || got.TimeZone != "" {
		t.Fatalf("settings %+v", got.Settings)
	}
	out, err := capture(t, "shops", "list")
	if err != nil || !strings.Contains(out, "22:00-06:30 shop") {
		t.Fatalf("shops list: %v\n%s", err, out)
	}
	if _, err := capture(t, "shops", "set", "--shop", s, "--send-window", "any", "--exclude-products", ""); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Shop(context.Background(), s)
	if got.HasWindow() || len(got.ExcludedProducts) != 0 {
		t.Fatalf("window and exclusions not cleared: %+v", got.Settings)
	}
}

func TestShops_LoginPrintsASignedExpiringLink(t *testing.T) {
	t.Chdir(t.TempDir())
	db, u := storetest.New(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	t.Setenv("DATABASE_URL", u)
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(key))
	t.Setenv("CANDOR_PUBLIC_URL", "https://candor.example")
	const s = "login-test.myshopify.com"
	if err := db.AddShop(context.Background(), store.Shop{Domain: s, TokenSealed: "v1.x.y", Settings: store.DefaultSettings(s)}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"shops", "login"},
		{"shops", "login", "--shop", "evil.com"},
		{"shops", "login", "--shop", s, "--ttl", "48h"},
		{"shops", "login", "--shop", s, "--ttl", "10s"},
		{"shops", "login", "--shop", s, "--ttl", "soon"},
	} {
		if _, err := capture(t, args...); !isUsage(err) {
			t.Errorf("candor %v: err = %v, want a usage error", args, err)
		}
	}
	if _, err := capture(t, "shops", "login", "--shop", "stranger.myshopify.com"); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Errorf("login for an unknown shop: %v", err)
	}
	out, err := capture(t, "shops", "login", "--shop", s, "--ttl", "30m")
	if err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(strings.TrimSpace(out))
	if err != nil || link.Scheme != "https" || link.Host != "candor.example" || link.Path != "/app/login" {
		t.Fatalf("login link %q", out)
	}
	ring, _ := keys.New(key)
	l, err := ring.ParseLink(link.Query().Get("token"), keys.LinkLogin, time.Now())
	if err != nil || l.Shop != s {
		t.Fatalf("token: %+v, %v", l, err)
	}
	if exp := time.Unix(l.Expires, 0); exp.Before(time.Now().Add(29*time.Minute)) || exp.After(time.Now().Add(31*time.Minute)) {
		t.Errorf("link expires %s, want in 30 minutes", exp)
	}
	if _, err := ring.ParseLink(link.Query().Get("token"), keys.LinkLogin, time.Now().Add(31*time.Minute)); err != keys.ErrLinkExpired {
		t.Errorf("after 31 minutes: %v, want expired", err)
	}
}
