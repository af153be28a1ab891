package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/candorhq/candor/store"
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
