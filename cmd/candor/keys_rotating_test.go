package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/web"
)

func readSigned(t *testing.T, path string) registry.Signed {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s registry.Signed
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func pubOf(t *testing.T, b64 string) ed25519.PublicKey {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) != ed25519.PublicKeySize {
		t.Fatalf("not a public key: %q", b64)
	}
	return k
}

// The registry signing key rotates: exports name the key that signed them,
// old exports verify against a pinned set that still holds the old key, and
// someone holding the master key the old signing key was derived from
// cannot sign an export that verifies against the new key.
func TestKeysRotateSigning_ExportsNameTheirKeyAndAStolenMasterKeySignsNothing(t *testing.T) {
	_, stolen := registryFixture(t) // stolen: everything the master key derives
	pubOld, err := capture(t, "registry", "pubkey")
	if err != nil {
		t.Fatal(err)
	}
	pubOld = strings.TrimSpace(pubOld)
	if _, err := capture(t, "registry", "export", "--format", "csv", "-o", "old.csv"); err != nil {
		t.Fatal(err)
	}
	if _, err := capture(t, "keys", "rotate-signing", "extra"); !isUsage(err) {
		t.Fatalf("rotate-signing with an argument: %v", err)
	}
	out, err := capture(t, "keys", "rotate-signing")
	if err != nil {
		t.Fatal(err)
	}
	pubNew, _ := capture(t, "registry", "pubkey")
	pubNew = strings.TrimSpace(pubNew)
	if pubNew == pubOld || !strings.Contains(out, "new public key: "+pubNew) || !strings.Contains(out, keys.SigningKeyID(pubOf(t, pubOld))) {
		t.Fatalf("rotate-signing said %q; pubkey now %s (was %s)", out, pubNew, pubOld)
	}
	if _, err := capture(t, "registry", "export", "--format", "csv", "-o", "new.csv"); err != nil {
		t.Fatal(err)
	}
	// Each manifest names its signing key.
	if got, want := readSigned(t, "old.csv.sig").Manifest.KeyID, keys.SigningKeyID(pubOf(t, pubOld)); got != want {
		t.Errorf("old export names key %q, want %q", got, want)
	}
	if got, want := readSigned(t, "new.csv.sig").Manifest.KeyID, keys.SigningKeyID(pubOf(t, pubNew)); got != want {
		t.Errorf("new export names key %q, want %q", got, want)
	}

	verify := func(file, pinned string) (string, error) {
		return capture(t, "registry", "verify", "--pubkey", pinned, file)
	}
	for _, c := range []struct {
		file, pinned string
		intact       bool
	}{
		{"new.csv", pubNew, true},
		{"new.csv", pubOld, false},
		{"old.csv", pubNew + "," + pubOld, true}, // the pinned set during a rotation
		{"old.csv", pubNew, false},               // the old key withdrawn
		{"new.csv", pubOld + ", " + pubNew, true},
	} {
		out, err := verify(c.file, c.pinned)
		if c.intact != (err == nil && strings.Contains(out, "intact")) {
			t.Errorf("verify %s pinned %q: %q, %v", c.file, c.pinned, out, err)
		}
	}
	t.Setenv(EnvRegistryPubkey, pubOld+","+pubNew)
	if out, err := capture(t, "registry", "verify", "old.csv"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("pinned set from %s: %q, %v", EnvRegistryPubkey, out, err)
	}
	if _, err := verify("new.csv", pubNew+",not-a-key"); !isUsage(err) {
		t.Errorf("a malformed key in the set: %v", err)
	}

	// A master-key rotation re-seals the new signing key: with the old
	// master key gone, exports are still signed by it.
	newMaster := make([]byte, 32)
	_, _ = rand.Read(newMaster)
	t.Setenv("CANDOR_MASTER_KEY_PREVIOUS", os.Getenv("CANDOR_MASTER_KEY"))
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(newMaster))
	if out, err := capture(t, "keys", "rotate"); err != nil || !strings.Contains(out, "1 secrets") {
		t.Fatalf("master-key rotation: %q, %v", out, err)
	}
	t.Setenv("CANDOR_MASTER_KEY_PREVIOUS", "")
	if got, err := capture(t, "registry", "pubkey"); err != nil || strings.TrimSpace(got) != pubNew {
		t.Fatalf("after the master-key rotation the signing key is %q (%v), want %s", got, err, pubNew)
	}

	// The thief re-signs the new export's manifest with what the master key
	// derives, naming their key: nothing verifies against the new key.
	forged := readSigned(t, "new.csv.sig")
	forged.Manifest.PublicKey = base64.StdEncoding.EncodeToString(stolen.SigningKey().Public().(ed25519.PublicKey))
	forged.Manifest.KeyID = keys.SigningKeyID(stolen.SigningKey().Public().(ed25519.PublicKey))
	body, _ := json.Marshal(forged.Manifest)
	forged.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(stolen.SigningKey(), body))
	b, _ := json.Marshal(forged)
	if err := os.WriteFile("new.csv.sig", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := verify("new.csv", pubNew); err == nil || !strings.Contains(err.Error(), "NOT INTACT") {
		t.Fatalf("export signed with the stolen key: %q, %v", out, err)
	}
}

// The login-link key rotates: links made before no longer open, on a
// server that was running all along, and the master key no longer mints
// working login links.
func TestKeysRotateLogin_EndsOldLinksAndAStolenMasterKeyMintsNone(t *testing.T) {
	db, stolen := cliEnv(t)
	ctx := context.Background()
	const shop = "rotate.myshopify.com"
	if _, err := capture(t, "shops", "add", "--shop", shop, "--token", "shpat_rotate"); err != nil {
		t.Fatal(err)
	}
	// A running server, with the keys as serve loads them.
	master, _ := config.ParseMasterKey(os.Getenv("CANDOR_MASTER_KEY"))
	ring, _ := keys.New(master)
	if err := datakeys.LoadIdentity(ctx, db, ring); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&web.Server{DB: db, Keys: ring, Logger: slog.New(slog.DiscardHandler), ShopifySecret: "x"}).Handler())
	t.Cleanup(srv.Close)
	open := func(link string) int {
		t.Helper()
		resp, err := http.Get(srv.URL + "/app/login?token=" + link)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	before := web.LoginLink(ring, shop, time.Hour, time.Now())
	if got := open(before); got != http.StatusOK {
		t.Fatalf("a fresh login link: %d", got)
	}
	if got := open(web.LoginLink(stolen, shop, time.Hour, time.Now())); got != http.StatusOK {
		t.Fatalf("before any rotation the master key mints login links (%d): the test shows nothing", got)
	}

	out, err := capture(t, "keys", "rotate-login")
	if err != nil || !strings.Contains(out, "login-link key: lk_") {
		t.Fatalf("rotate-login: %q, %v", out, err)
	}
	if got := open(before); got != http.StatusBadRequest {
		t.Errorf("a link from before the rotation: %d, want 400", got)
	}
	if got := open(web.LoginLink(stolen, shop, time.Hour, time.Now())); got != http.StatusBadRequest {
		t.Errorf("a link minted with the stolen master key: %d, want 400", got)
	}
	t.Setenv("CANDOR_PUBLIC_URL", srv.URL)
	link, err := capture(t, "shops", "login", "--shop", shop)
	if err != nil {
		t.Fatal(err)
	}
	_, tok, _ := strings.Cut(strings.TrimSpace(link), "token=")
	if got := open(tok); got != http.StatusOK {
		t.Errorf("a link made after the rotation: %d", got)
	}
	// Review and unsubscribe links keep their key.
	if stolen.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: "rq_x", Expires: time.Now().Add(time.Hour).Unix()}) !=
		ring.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: "rq_x", Expires: time.Now().Add(time.Hour).Unix()}) {
		t.Error("the login rotation changed the review links' key")
	}
	var n int
	_ = db.Get(&n, `SELECT count(*) FROM rotating_keys WHERE purpose = $1`, keys.PurposeLogin)
	if n != 1 {
		t.Fatalf("%d login keys stored", n)
	}
}
