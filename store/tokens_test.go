package store_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

const tokenShop = "tokens.myshopify.com"

// refusals lists the registry's refused-credential entries, as shop/ref.
func refusals(t *testing.T, db *store.DB) []string {
	t.Helper()
	es, err := registry.Entries(context.Background(), db, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Action == registry.ActionRefused {
			out = append(out, e.Shop+"/"+e.Ref)
		}
	}
	if i := registry.VerifyChain(es); i >= 0 {
		t.Fatalf("registry chain broken at entry %d", i)
	}
	return out
}

func TestAuthenticate_ExpiredAndRevokedTokensAreRefusedAndRecorded(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	staff, staffRec, err := db.CreateToken(ctx, store.TokenSpec{Name: "ana, auditor", Role: store.RoleAuditor})
	if err != nil {
		t.Fatal(err)
	}
	merchant, merchantRec, err := db.CreateToken(ctx, store.TokenSpec{Name: "shop owner", Role: store.RoleMerchant, Shop: tokenShop})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.Authenticate(ctx, staff); err != nil || got.ID != staffRec.ID || got.Name != "ana, auditor" {
		t.Fatalf("fresh token: %+v, %v", got, err)
	}
	if got := staffRec.ExpiresAt.Sub(staffRec.CreatedAt); got != store.DefaultTokenTTL {
		t.Fatalf("default expiry %s after creation, want %s", got, store.DefaultTokenTTL)
	}
	if _, err := db.Exec(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, staffRec.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeToken(ctx, merchantRec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(ctx, staff); !errors.Is(err, store.ErrTokenExpired) || !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("expired token: %v, want ErrTokenExpired", err)
	}
	if _, err := db.Authenticate(ctx, merchant); !errors.Is(err, store.ErrTokenRevoked) {
		t.Fatalf("revoked token: %v, want ErrTokenRevoked", err)
	}
	if _, err := db.Authenticate(ctx, "cnd_neverissued"); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("unknown token: %v", err)
	}
	want := []string{registry.StaffShop + "/" + staffRec.ID, tokenShop + "/" + merchantRec.ID}
	if got := refusals(t, db); !slices.Equal(got, want) {
		t.Fatalf("refusals recorded: %v, want %v (an unknown token records nothing)", got, want)
	}
	// Hashes only: no table holds a token in clear.
	var dump string
	if err := db.Get(&dump, `SELECT string_agg(t::text, ' ') FROM (SELECT * FROM registry_entries) t`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, staff) || strings.Contains(dump, merchant) {
		t.Fatal("the registry holds a token in clear")
	}
	var used *time.Time
	if err := db.Get(&used, `SELECT last_used_at FROM api_tokens WHERE id = $1`, merchantRec.ID); err != nil || used != nil {
		t.Fatalf("a refused token's last use moved: %v %v", used, err)
	}
}

func TestAuthenticate_RefusalIsRefusedStillWhenItCannotBeRecorded(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	tok, rec, _ := db.CreateToken(ctx, store.TokenSpec{Name: "ops", Role: store.RoleOperator})
	_ = db.RevokeToken(ctx, rec.ID)
	// The registry cannot take an entry: its heads table is gone.
	if _, err := db.Exec(`ALTER TABLE registry_heads RENAME TO registry_heads_away`); err != nil {
		t.Fatal(err)
	}
	got, err := db.Authenticate(ctx, tok)
	if err == nil || errors.Is(err, store.ErrBadToken) || got.ID != "" || !strings.Contains(err.Error(), "record the refused use") {
		t.Fatalf("revoked token with a broken registry: %+v, %v; want a failure to record (the caller refuses)", got, err)
	}
}

func TestRotateToken_NewTokenSameNameRoleShopOldOneRefused(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	old, oldRec, _ := db.CreateToken(ctx, store.TokenSpec{Name: "shop owner", Role: store.RoleMerchant, Shop: tokenShop, TTL: time.Hour})
	fresh, rec, err := db.RotateToken(ctx, oldRec.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != "shop owner" || rec.Role != store.RoleMerchant || rec.Shop != tokenShop || rec.ID == oldRec.ID {
		t.Fatalf("rotated token %+v", rec)
	}
	if d := rec.ExpiresAt.Sub(rec.CreatedAt); d != store.DefaultTokenTTL {
		t.Fatalf("rotated token lives %s", d)
	}
	if _, err := db.Authenticate(ctx, old); !errors.Is(err, store.ErrTokenRevoked) {
		t.Fatalf("old token after rotation: %v", err)
	}
	if _, err := db.Authenticate(ctx, fresh); err != nil {
		t.Fatalf("new token: %v", err)
	}
	var to string
	_ = db.Get(&to, `SELECT rotated_to FROM api_tokens WHERE id = $1`, oldRec.ID)
	if to != rec.ID {
		t.Fatalf("rotated_to %q, want %q", to, rec.ID)
	}
	if _, _, err := db.RotateToken(ctx, oldRec.ID, 0); !errors.Is(err, store.ErrNoSuchToken) {
		t.Fatalf("rotating a revoked token: %v", err)
	}
	if err := db.RevokeToken(ctx, "tok_nosuch"); !errors.Is(err, store.ErrNoSuchToken) {
		t.Fatalf("revoking an unknown token: %v", err)
	}
	n := 0
	_ = db.Get(&n, `SELECT count(*) FROM api_tokens`)
	if n != 2 {
		t.Fatalf("%d tokens after one rotation and two refused ones, want 2", n)
	}
}

func TestTokenSpec_BadInputIsRefused(t *testing.T) {
	for _, s := range []store.TokenSpec{
		{Role: store.RoleAuditor},
		{Name: "  ", Role: store.RoleAuditor},
		{Name: "ana@example.com", Role: store.RoleAuditor},
		{Name: strings.Repeat("x", 101), Role: store.RoleAuditor},
		{Name: "a\nb", Role: store.RoleAuditor},
		{Name: "x", Role: "admin"},
		{Name: "x", Role: store.RoleMerchant},
		{Name: "x", Role: store.RoleMerchant, Shop: "evil.com"},
		{Name: "x", Role: store.RoleOperator, Shop: tokenShop},
		{Name: "x", Role: store.RoleAuditor, TTL: -time.Hour},
		{Name: "x", Role: store.RoleAuditor, TTL: store.MaxTokenTTL + time.Hour},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	db, _ := storetest.New(t)
	if _, _, err := db.CreateToken(context.Background(), store.TokenSpec{Name: "x", Role: "admin"}); err == nil {
		t.Fatal("CreateToken took a bad spec")
	}
	n := 1
	_ = db.Get(&n, `SELECT count(*) FROM api_tokens`)
	if n != 0 {
		t.Fatalf("%d tokens stored from bad specs", n)
	}
}

func TestAccessReview_FlagsStaleNeverUsedExpiringExpiredRevoked(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	now := time.Now()
	ids := map[string]string{}
	for _, name := range []string{"fresh", "used-recently", "stale", "never-used-old", "expiring", "expired", "revoked"} {
		tok, rec, err := db.CreateToken(ctx, store.TokenSpec{Name: name, Role: store.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = rec.ID
		if name != "fresh" && name != "never-used-old" {
			if _, err := db.Authenticate(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	day := 24 * time.Hour
	set := func(name, q string, arg any) {
		t.Helper()
		if _, err := db.Exec(`UPDATE api_tokens SET `+q+` WHERE id = $2`, arg, ids[name]); err != nil {
			t.Fatal(err)
		}
	}
	set("stale", "last_used_at = $1", now.Add(-31*day))
	set("never-used-old", "created_at = $1", now.Add(-45*day))
	set("expiring", "expires_at = $1", now.Add(13*day))
	set("expired", "expires_at = $1", now.Add(-time.Minute))
	set("revoked", "revoked_at = $1", now.Add(-time.Minute))
	rs, err := db.AccessReview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rs {
		got[r.Name] = strings.Join(r.Flags, ",")
		if r.Scope == "" {
			t.Errorf("%s: no scope", r.Name)
		}
	}
	want := map[string]string{"fresh": "never-used", "used-recently": "", "stale": "stale", "never-used-old": "never-used,stale",
		"expiring": "expiring", "expired": "expired", "revoked": "revoked"}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: flags %q, want %q", name, got[name], w)
		}
	}
	if len(rs) != len(want) {
		t.Errorf("%d principals, want %d", len(rs), len(want))
	}
}

func TestLiveSessions_CountsOnlyUnexpiredSessionsPerShop(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	for _, s := range []string{tokenShop, "other.myshopify.com"} {
		if err := db.AddShop(ctx, store.Shop{Domain: s, TokenSealed: "x", Settings: store.DefaultSettings(s)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO app_sessions (token_hash, shop, expires_at) VALUES
		('a', $1, now() + interval '1 hour'), ('b', $1, now() + interval '2 hours'), ('c', $1, now() - interval '1 minute'),
		('d', 'other.myshopify.com', now() - interval '1 minute')`, tokenShop); err != nil {
		t.Fatal(err)
	}
	got, err := db.LiveSessions(ctx, time.Now())
	if err != nil || len(got) != 1 || got[0].Shop != tokenShop || got[0].Live != 2 {
		t.Fatalf("live sessions %+v, %v", got, err)
	}
}

// The staff chain (refused auditor and operator tokens) exports and
// verifies like a shop's, as part of an export of every shop.
func TestRefusedStaffAttempts_ExportAndVerifyWithEveryShop(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	tok, rec, _ := db.CreateToken(ctx, store.TokenSpec{Name: "ops", Role: store.RoleOperator})
	_ = db.RevokeToken(ctx, rec.ID)
	_, _ = db.Authenticate(ctx, tok)
	_, _ = db.Authenticate(ctx, tok)
	_, key, _ := ed25519.GenerateKey(nil)
	var buf bytes.Buffer
	signed, err := registry.Export(ctx, db.DB, &buf, registry.FormatCSV, registry.Filter{}, registry.Signer{KeyID: "k", Key: key}, registry.NewExportID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := registry.Verify(bytes.NewReader(buf.Bytes()), &signed, key.Public().(ed25519.PublicKey))
	if err != nil || rep.Entries != 2 || !strings.Contains(buf.String(), registry.StaffShop) {
		t.Fatalf("export with the staff chain: %+v, %v\n%s", rep, err, buf.String())
	}
}
