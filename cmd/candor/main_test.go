package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/candorhq/candor/store/storetest"
)

// capture runs the command with stdout captured.
func capture(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	err := run(context.Background(), args)
	w.Close()
	os.Stdout = old
	out, _ := io.ReadAll(r)
	return string(out), err
}

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

func TestServe_RefusesToStartWithoutWebhookSecret(t *testing.T) {
	t.Chdir(t.TempDir()) // no .candor/ to fall back on
	t.Setenv("DATABASE_URL", "postgres://127.0.0.1:1/none")
	t.Setenv("SHOPIFY_API_SECRET", "")
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	t.Setenv("CANDOR_PUBLIC_URL", "https://candor.example")
	_, err := capture(t, "serve")
	if err == nil || !strings.Contains(err.Error(), "SHOPIFY_API_SECRET is empty") {
		t.Fatalf("serve with empty secret: %v", err)
	}
	t.Setenv("CANDOR_MASTER_KEY", "short")
	if _, err := capture(t, "serve"); err == nil || !strings.Contains(err.Error(), "CANDOR_MASTER_KEY") {
		t.Fatalf("bad master key: %v", err)
	}
}

func TestCLI_BadInputIsAUsageError(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := [][]string{
		{},
		{"frobnicate"},
		{"serve", "--port", "1"},
		{"shops"},
		{"shops", "delete"},
		{"shops", "add", "--shop", "evil.com", "--token", "x"},
		{"shops", "add", "--shop", "a.myshopify.com.evil.com", "--token", "x"},
		{"shops", "add", "--shop", "a.myshopify.com"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--delay", "-5s"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--delay", "soon"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--consent-required", "maybe"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--review-url", "http://x/{handle}"},
		{"shops", "set", "--shop", "a.myshopify.com"},
		{"simulate"},
		{"simulate", "teleport"},
		{"simulate", "cancel", "--shop", "evil.com"},
	}
	for _, args := range cases {
		_, err := capture(t, args...)
		if !isUsage(err) {
			t.Errorf("candor %s: err = %v, want a usage error", strings.Join(args, " "), err)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("candor %s: error is not one line: %q", strings.Join(args, " "), err)
		}
	}
}

func TestShops_AddSealsTheTokenAndListShowsSettings(t *testing.T) {
	t.Chdir(t.TempDir())
	db, url := storetest.New(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(key))
	const token = "shpat_0123456789abcdef"
	if _, err := capture(t, "shops", "add", "--shop", "cli-test.myshopify.com", "--token", token, "--delay", "14d", "--reminder", "36h", "--from", "hello@cli-test.example"); err != nil {
		t.Fatal(err)
	}
	var sealed string
	if err := db.Get(&sealed, `SELECT access_token_sealed FROM shops WHERE domain = 'cli-test.myshopify.com'`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, token) || !strings.HasPrefix(sealed, "v1.") {
		t.Fatalf("token stored as %q", sealed)
	}
	if _, err := capture(t, "shops", "add", "--shop", "cli-test.myshopify.com", "--token", token); err == nil || !strings.Contains(err.Error(), "already connected") {
		t.Fatalf("second add: %v", err)
	}
	if _, err := capture(t, "shops", "set", "--shop", "cli-test.myshopify.com", "--consent-required=false", "--fallback-delay", "90s"); err != nil {
		t.Fatal(err)
	}
	if _, err := capture(t, "shops", "set", "--shop", "nope.myshopify.com", "--delay", "1d"); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("set on unknown shop: %v", err)
	}
	out, err := capture(t, "shops", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cli-test.myshopify.com", "14d", "1m30s", "36h0m0s", "false", "hello@cli-test.example"} {
		if !strings.Contains(out, want) {
			t.Errorf("shops list lacks %q:\n%s", want, out)
		}
	}
}
