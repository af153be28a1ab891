package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// registryFixture makes a fresh directory and database whose registry holds
// five entries of one customer of cli.myshopify.com, with the environment
// the CLI reads, and returns them.
func registryFixture(t *testing.T) (*store.DB, *keys.Ring) {
	t.Helper()
	db, ring := cliEnv(t)
	t.Setenv(EnvRegistryPubkey, "")
	ctx := context.Background()
	for range 5 {
		if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := registry.Append(ctx, tx, time.Now(), registry.Entry{Shop: "cli.myshopify.com", Subject: ring.Subject("cli.myshopify.com", 42),
				Datum: registry.DatumEmail, System: registry.SystemSendGrid, Action: registry.ActionTransmitted,
				Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent, ExpiresAt: time.Now().Add(time.Hour), Ref: "rq_1"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	return db, ring
}

// exportForVerify writes a signed export, reg.csv and reg.csv.sig, of a
// registryFixture, and returns the registry's public key.
func exportForVerify(t *testing.T) string {
	t.Helper()
	registryFixture(t)
	pub, err := capture(t, "registry", "pubkey")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := capture(t, "registry", "export", "--format", "csv", "-o", "reg.csv"); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(pub)
}

func TestRegistryVerify_FlagsBeforeOrAfterTheFile(t *testing.T) {
	pub := exportForVerify(t)
	for _, args := range [][]string{
		{"registry", "verify", "--pubkey", pub, "reg.csv"},
		{"registry", "verify", "reg.csv", "--pubkey", pub},
		{"registry", "verify", "--sig", "reg.csv.sig", "reg.csv", "--pubkey", pub},
		{"registry", "verify", "--pubkey=" + pub, "--", "reg.csv"},
	} {
		out, err := capture(t, args...)
		if err != nil || !strings.Contains(out, "reg.csv: intact") {
			t.Errorf("%q: %q, %v", args[2:], out, err)
		}
	}
	t.Setenv(EnvRegistryPubkey, pub)
	if out, err := capture(t, "registry", "verify", "reg.csv"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("key pinned by %s: %q, %v", EnvRegistryPubkey, out, err)
	}
	for _, args := range [][]string{
		{"registry", "verify", "--pubkey", pub},
		{"registry", "verify", "--pubkey", pub, "reg.csv", "other.csv"},
		{"registry", "verify", "reg.csv", "--pubkey"},
		{"registry", "verify", "--pubkey", "not-a-key", "reg.csv"},
	} {
		if _, err := capture(t, args...); !isUsage(err) {
			t.Errorf("%q: %v, want a usage error", args[2:], err)
		}
	}
}

func TestRegistryVerify_WithoutAPinnedKeyIsNotIntact(t *testing.T) {
	exportForVerify(t)
	out, err := capture(t, "registry", "verify", "reg.csv")
	if err == nil || !isUsage(err) {
		t.Fatalf("verify with no pinned key: %q, %v; want a usage error", out, err)
	}
	for _, want := range []string{"no public key pinned", "--pubkey", EnvRegistryPubkey, "candor registry pubkey"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
}

func TestRegistryVerify_ExportResignedWithAnotherKeyFails(t *testing.T) {
	pub := exportForVerify(t)
	var signed registry.Signed
	b, _ := os.ReadFile("reg.csv.sig")
	if err := json.Unmarshal(b, &signed); err != nil {
		t.Fatal(err)
	}
	// Whoever holds the file can sign its manifest with their own key and
	// put that key in the manifest.
	otherPub, other, _ := ed25519.GenerateKey(rand.Reader)
	signed.Manifest.PublicKey = base64.StdEncoding.EncodeToString(otherPub)
	m, _ := json.Marshal(signed.Manifest)
	signed.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(other, m))
	b, _ = json.Marshal(signed)
	if err := os.WriteFile("reg.csv.sig", b, 0o644); err != nil {
		t.Fatal(err)
	}

	if out, err := capture(t, "registry", "verify", "reg.csv"); err == nil {
		t.Fatalf("a re-signed export with no pinned key passed: %q", out)
	}
	var ee exitError
	_, err := capture(t, "registry", "verify", "--pubkey", pub, "reg.csv")
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "NOT INTACT") || !strings.Contains(err.Error(), "signed by another key") {
		t.Fatalf("re-signed export, key pinned by flag: %v; want exit 1 naming the signature", err)
	}
	t.Setenv(EnvRegistryPubkey, pub)
	if _, err := capture(t, "registry", "verify", "reg.csv"); !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("re-signed export, key pinned by %s: %v; want exit 1", EnvRegistryPubkey, err)
	}
}
