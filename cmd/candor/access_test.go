package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

func TestTokensCLI_CreateListRotateRevokeReview(t *testing.T) {
	db, _ := cliEnv(t)
	ctx := context.Background()
	out, err := capture(t, "tokens", "create", "--name", "ana (Acme LLP)", "--role", "auditor", "--expires", "10d")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out)
	rec, err := db.Authenticate(ctx, tok)
	if err != nil || rec.Name != "ana (Acme LLP)" || rec.Role != store.RoleAuditor {
		t.Fatalf("created token: %+v, %v", rec, err)
	}
	list, err := capture(t, "tokens", "list")
	if err != nil || !strings.Contains(list, rec.ID) || !strings.Contains(list, "ana (Acme LLP)") || !strings.Contains(list, "expiring") {
		t.Fatalf("tokens list: %v\n%s", err, list)
	}
	if strings.Contains(list, tok) {
		t.Fatal("tokens list prints the token")
	}
	out, err = capture(t, "tokens", "rotate", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	fresh := strings.TrimSpace(out)
	if _, err := db.Authenticate(ctx, tok); !errors.Is(err, store.ErrTokenRevoked) {
		t.Fatalf("old token after rotate: %v", err)
	}
	newRec, err := db.Authenticate(ctx, fresh)
	if err != nil || newRec.Name != rec.Name {
		t.Fatalf("rotated token: %+v %v", newRec, err)
	}
	if _, err := capture(t, "tokens", "revoke", newRec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(ctx, fresh); !errors.Is(err, store.ErrTokenRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	review, err := capture(t, "access", "review")
	if err != nil || !strings.Contains(review, newRec.ID) || !strings.Contains(review, "revoked") {
		t.Fatalf("access review: %v\n%s", err, review)
	}
	if _, err := capture(t, "tokens", "revoke", newRec.ID); err == nil || isUsage(err) {
		t.Fatalf("revoking twice: %v, want a plain failure", err)
	}
}

func TestTokensCLI_BadInputIsAUsageErrorAndStoresNothing(t *testing.T) {
	db, _ := cliEnv(t)
	for _, args := range [][]string{
		{"tokens"},
		{"tokens", "delete"},
		{"tokens", "create", "--role", "auditor"},
		{"tokens", "create", "--name", "x", "--role", "auditor", "--expires", "-5d"},
		{"tokens", "create", "--name", "x", "--role", "auditor", "--expires", "400d"},
		{"tokens", "create", "--name", "x", "--role", "auditor", "--expires", "soon"},
		{"tokens", "create", "--name", "x@example.com", "--role", "auditor"},
		{"tokens", "create", "--name", "x", "--role", "merchant"},
		{"tokens", "revoke"},
		{"tokens", "revoke", "abc"},
		{"tokens", "rotate", "tok_a", "tok_b"},
		{"access"},
		{"access", "purge"},
	} {
		if _, err := capture(t, args...); !isUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	n := -1
	_ = db.Get(&n, `SELECT count(*) FROM api_tokens`)
	if n != 0 {
		t.Fatalf("%d tokens stored from bad input", n)
	}
}

func TestAccessLogCLI_NamesWhoReadWhat(t *testing.T) {
	registryFixture(t)
	if _, err := capture(t, "registry", "trail", "--shop", "cli.myshopify.com", "--customer-id", "42"); err != nil {
		t.Fatal(err)
	}
	// The lookup is recorded before it is answered, found or not.
	_, _ = capture(t, "subjects", "receipt", "--shop", "cli.myshopify.com", "--customer-id", "42")
	if _, err := capture(t, "registry", "export", "--format", "csv", "-o", "reg.csv"); err != nil {
		t.Fatal(err)
	}
	out, err := capture(t, "access", "log", "--since", "1h", "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("access log: %d lines, want trail, receipt and export:\n%s", len(lines), out)
	}
	me := cliPrincipal()
	for i, what := range []string{`"what":"trail"`, `"what":"receipt"`, `"what":"export"`} {
		if !strings.Contains(lines[i], what) || !strings.Contains(lines[i], `"principal":"`+me+`"`) {
			t.Errorf("line %d %s, want %s by %s", i+1, lines[i], what, me)
		}
	}
	if out, err := capture(t, "access", "log", "--since", "1h", "--principal", "tok_nobody"); err != nil || strings.Contains(out, "trail") {
		t.Fatalf("another principal: %v %s", err, out)
	}
	if out, err := capture(t, "access", "log", "--since", "2000-01-01", "--until", "2000-02-01"); err != nil || strings.Contains(out, "trail") {
		t.Fatalf("a window before the reads: %v %s", err, out)
	}
	for _, args := range [][]string{
		{"access", "log"},
		{"access", "log", "--since", "yesterday"},
		{"access", "log", "--since", "2026-02-01", "--until", "2026-01-01"},
		{"access", "log", "--since", "1h", "--until", "soon"},
	} {
		if _, err := capture(t, args...); !isUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestMigrateCLI_RunsAsOwnerAndGrantsTheAppRole(t *testing.T) {
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "candor_app_cli_" + hex.EncodeToString(b)
	admin, err := sqlx.Open("postgres", storetest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP ROLE IF EXISTS ` + role)
		admin.Close()
	})
	owner, ownerURL := storetest.New(t)
	appURL, err := owner.EnsureAppRole(ctx, ownerURL, role)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	t.Setenv("CANDOR_MIGRATE_DATABASE_URL", ownerURL)
	t.Setenv("DATABASE_URL", ownerURL)
	if _, err := capture(t, "migrate"); err == nil || !strings.Contains(err.Error(), "same user") {
		t.Fatalf("migrate with one user for both: %v", err)
	}
	t.Setenv("DATABASE_URL", appURL)
	out, err := capture(t, "migrate")
	if err != nil || !strings.Contains(out, "app role "+role+": granted") {
		t.Fatalf("migrate: %v %s", err, out)
	}
	app, err := store.Open(ctx, appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Exec(`DELETE FROM registry_entries`); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("delete as the app role after migrate: %v", err)
	}
	if _, err := app.Exec(`INSERT INTO api_tokens (id, token_sha256, name, role, expires_at) VALUES ('tok_x', 'h', 'n', 'auditor', now())`); err != nil {
		t.Fatalf("ordinary write as the app role: %v", err)
	}
}
