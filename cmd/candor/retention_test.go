package main

import (
	"context"
	"strings"
	"testing"

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
