package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

func TestRetentionCLI_OverridesWithinBoundsAndBadValuesSaveNothing(t *testing.T) {
	t.Chdir(t.TempDir())
	db, url := storetest.New(t)
	t.Setenv("DATABASE_URL", url)
	const sh = "keep-test.myshopify.com"
	if err := db.AddShop(context.Background(), store.Shop{Domain: sh, TokenSealed: "v1.k.x", Settings: store.DefaultSettings(sh)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO review_requests (request_id, shop, order_id, order_name, products, status, created_at, expires_at)
		VALUES ('rq_1', $1, 1, '#1', '[]', 'sent', now() - interval '100 days', now() + interval '80 days')`, sh); err != nil {
		t.Fatal(err)
	}
	overrides := func() int {
		var n int
		_ = db.Get(&n, `SELECT count(*) FROM retention_overrides`)
		return n
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "400d"}, "longer than the maximum 365d"},
		{[]string{"retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "1d"}, "shorter than the minimum 30d"},
		{[]string{"retention", "set", "--shop", sh, "--policy", "sendgrid_activity", "--keep", "31d"}, "SendGrid's own 30 days"},
		{[]string{"retention", "set", "--shop", sh, "--policy", "webhook_deliveries", "--keep", "3d"}, "cannot be overridden"},
		{[]string{"retention", "set", "--shop", sh, "--policy", "registry", "--keep", "3d"}, "cannot be overridden"},
		{[]string{"retention", "set", "--shop", sh, "--policy", "forever", "--keep", "3d"}, "no retention policy"},
		{[]string{"retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "-5d"}, "invalid duration"},
		{[]string{"retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "soon"}, "invalid duration"},
		{[]string{"retention", "set", "--shop", sh, "--policy", "review_requests"}, "--keep is required"},
		{[]string{"retention", "set", "--shop", "evil.com", "--policy", "review_requests", "--keep", "90d"}, "myshopify.com"},
		{[]string{"retention", "set", "--shop", sh, "--keep", "90d"}, "--policy is required"},
		{[]string{"retention", "clear", "--shop", sh, "--policy", "forever"}, "no retention policy"},
		{[]string{"retention", "policies", "--shop", "evil.com"}, "myshopify.com"},
		{[]string{"retention", "purge"}, "unknown subcommand"},
	} {
		_, err := capture(t, c.args...)
		if !isUsage(err) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("candor %s: err = %v, want a one-line usage error with %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	if n := overrides(); n != 0 {
		t.Fatalf("bad values saved %d overrides", n)
	}
	if _, err := capture(t, "retention", "set", "--shop", "nope.myshopify.com", "--policy", "review_requests", "--keep", "90d"); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("set on an unknown shop: %v", err)
	}

	// A valid override is saved, shown, and applies to rows already held.
	out, err := capture(t, "retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "90d")
	if err != nil || !strings.Contains(out, "review_requests is kept 90d") {
		t.Fatalf("set: %q, %v", out, err)
	}
	var expired bool
	_ = db.Get(&expired, `SELECT expires_at < now() FROM review_requests WHERE request_id = 'rq_1'`)
	if !expired {
		t.Error("a 100-day-old request is not past a 90-day override")
	}
	out, err = capture(t, "retention", "policies", "--shop", sh)
	if err != nil {
		t.Fatal(err)
	}
	line := lineWith(out, "review_requests")
	if !strings.Contains(line, "90d") || !strings.Contains(line, "180d") || !strings.Contains(line, "30d to 365d") {
		t.Errorf("effective policy line: %q", line)
	}
	if line := lineWith(out, "sendgrid_activity"); !strings.Contains(line, "30d  ") || !strings.Contains(line, " - ") {
		t.Errorf("a policy without override: %q", line)
	}

	// Clearing returns the default, for the rows too.
	if _, err := capture(t, "retention", "clear", "--shop", sh, "--policy", "review_requests"); err != nil {
		t.Fatal(err)
	}
	_ = db.Get(&expired, `SELECT expires_at < now() FROM review_requests WHERE request_id = 'rq_1'`)
	if expired || overrides() != 0 {
		t.Errorf("after clear: expired %t, %d overrides", expired, overrides())
	}
	out, err = capture(t, "retention", "policies")
	if err != nil || !strings.Contains(out, "temporal_histories") || !strings.Contains(out, "1d to 7d") {
		t.Fatalf("policies: %q, %v", out, err)
	}
}

func lineWith(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, key+" ") {
			return l
		}
	}
	return ""
}

// TestRetentionCLI_PeriodMustCoverTheShopsTiming: a 45-day fallback does
// not fit in a 30-day review_requests period (a waiting request would pass
// its expiry), whichever of the two changes second: shops set refuses the
// timing, retention set refuses the period, retention clear refuses a
// default that is too short, each in one line that names what to change,
// and nothing is saved.
func TestRetentionCLI_PeriodMustCoverTheShopsTiming(t *testing.T) {
	t.Chdir(t.TempDir())
	db, url := storetest.New(t)
	t.Setenv("DATABASE_URL", url)
	ctx := context.Background()
	const sh = "timing-test.myshopify.com"
	if err := db.AddShop(ctx, store.Shop{Domain: sh, TokenSealed: "v1.k.x", Settings: store.DefaultSettings(sh)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO review_requests (request_id, shop, order_id, order_name, products, status, created_at, expires_at)
		VALUES ('rq_1', $1, 1, '#1', '[]', 'scheduled', now() - interval '10 days', now() + interval '170 days')`, sh); err != nil {
		t.Fatal(err)
	}
	state := func() (fallback time.Duration, keep time.Duration, expires time.Time) {
		t.Helper()
		s, err := db.Shop(ctx, sh)
		if err != nil {
			t.Fatal(err)
		}
		ov, err := db.Overrides(ctx, sh)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&expires, `SELECT expires_at FROM review_requests WHERE request_id = 'rq_1'`); err != nil {
			t.Fatal(err)
		}
		return s.FallbackDelay, ov.Keep("review_requests"), expires
	}
	refused := func(want string, args ...string) {
		t.Helper()
		f0, k0, e0 := state()
		_, err := capture(t, args...)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("candor %s: err = %v, want one line with %q", strings.Join(args, " "), err, want)
		}
		if f1, k1, e1 := state(); f1 != f0 || k1 != k0 || !e1.Equal(e0) {
			t.Fatalf("candor %s was refused but changed fallback %s→%s, period %s→%s, expiry %s→%s",
				strings.Join(args, " "), f0, f1, k0, k1, e0, e1)
		}
	}
	const needs = "timing needs at least 54d (fallback 45d + delay 7d + margin 2d)"

	// Period first, then the timing: the longer fallback is refused.
	if _, err := capture(t, "retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "30d"); err != nil {
		t.Fatalf("30d covers the default timing (21d + 7d + 2d): %v", err)
	}
	refused("shops set: --fallback-delay: review_requests: review requests kept 30d would expire before their last email: this shop's "+needs,
		"shops", "set", "--shop", sh, "--fallback-delay", "45d")
	refused("--reminder", "shops", "set", "--shop", sh, "--reminder", "1d")

	// Timing first, then the period: the shorter period is refused.
	if _, err := capture(t, "retention", "clear", "--shop", sh, "--policy", "review_requests"); err != nil {
		t.Fatal(err)
	}
	if _, err := capture(t, "shops", "set", "--shop", sh, "--fallback-delay", "45d"); err != nil {
		t.Fatalf("a 45-day fallback fits in the default 180 days: %v", err)
	}
	refused("retention set: review_requests: review requests kept 30d would expire before their last email: this shop's "+needs,
		"retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "30d")
	if out, err := capture(t, "retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "54d"); err != nil || !strings.Contains(out, "kept 54d") {
		t.Fatalf("54d covers the 45-day fallback: %q, %v", out, err)
	}

	// A default shorter than the timing cannot come back by clearing.
	if _, err := capture(t, "retention", "set", "--shop", sh, "--policy", "review_requests", "--keep", "300d"); err != nil {
		t.Fatal(err)
	}
	if _, err := capture(t, "shops", "set", "--shop", sh, "--fallback-delay", "200d"); err != nil {
		t.Fatal(err)
	}
	refused("retention clear: review_requests: review requests kept 180d would expire",
		"retention", "clear", "--shop", sh, "--policy", "review_requests")

	// A new shop's timing must fit the default period.
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	_, err := capture(t, "shops", "add", "--shop", "new-"+sh, "--token", "shpat_x", "--fallback-delay", "200d")
	if err == nil || !strings.Contains(err.Error(), "shops add: --fallback-delay: review_requests: review requests kept 180d would expire") {
		t.Fatalf("shops add with a 200-day fallback: %v", err)
	}
	if _, err := db.Shop(ctx, "new-"+sh); err == nil {
		t.Fatal("the refused shop was added")
	}
}
