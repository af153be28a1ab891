package main

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store/storetest"
)

func TestKeysRotate_CLI(t *testing.T) {
	t.Chdir(t.TempDir())
	db, url := storetest.New(t)
	oldKey, newKey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)
	b64 := base64.StdEncoding.EncodeToString
	t.Setenv("DATABASE_URL", url)
	t.Setenv("CANDOR_MASTER_KEY", b64(oldKey))
	if _, err := capture(t, "shops", "add", "--shop", "rotate.myshopify.com", "--token", "shpat_rotate"); err != nil {
		t.Fatal(err)
	}
	oldRing, _ := keys.New(oldKey)
	pubBefore, err := capture(t, "registry", "pubkey")
	if err != nil {
		t.Fatal(err)
	}

	// Bad input: no or unknown subcommand, a bad batch, a malformed
	// previous key.
	for _, args := range [][]string{{"keys"}, {"keys", "spin"}, {"keys", "rotate", "--batch", "0"}, {"keys", "rotate", "extra"}} {
		if _, err := capture(t, args...); !isUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	t.Setenv("CANDOR_MASTER_KEY", b64(newKey))
	t.Setenv("CANDOR_MASTER_KEY_PREVIOUS", "not-base64!")
	if _, err := capture(t, "keys", "rotate"); err == nil || !strings.Contains(err.Error(), "CANDOR_MASTER_KEY_PREVIOUS") {
		t.Fatalf("malformed previous key: %v", err)
	}
	// The new key without the old one cannot open what is stored.
	t.Setenv("CANDOR_MASTER_KEY_PREVIOUS", "")
	if _, err := capture(t, "keys", "rotate"); err == nil || !strings.Contains(err.Error(), oldRing.KeyID()) {
		t.Fatalf("rotate without the old key: %v", err)
	}

	t.Setenv("CANDOR_MASTER_KEY_PREVIOUS", b64(oldKey))
	out, err := capture(t, "keys", "rotate", "--batch", "1")
	if err != nil || !strings.Contains(out, "1 secrets, 1 identity") {
		t.Fatalf("rotate: %q, %v", out, err)
	}
	if out, err = capture(t, "keys", "rotate"); err != nil || !strings.Contains(out, "re-sealed: 0 data keys, 0 secrets, 0 identity") {
		t.Fatalf("second rotate: %q, %v", out, err)
	}

	// The old key removed: the token opens, the signing key is the same.
	t.Setenv("CANDOR_MASTER_KEY_PREVIOUS", "")
	status, err := capture(t, "keys", "status")
	if err != nil || strings.Contains(status, "old key") || !strings.Contains(status, "shop tokens") {
		t.Fatalf("status: %q, %v", status, err)
	}
	if pub, err := capture(t, "registry", "pubkey"); err != nil || pub != pubBefore {
		t.Fatalf("registry pubkey after rotation %q (%v), before %q", pub, err, pubBefore)
	}
	newRing, _ := keys.New(newKey)
	var sealed string
	_ = db.Get(&sealed, `SELECT access_token_sealed FROM shops`)
	if tok, err := newRing.Open(sealed, "rotate.myshopify.com"); err != nil || string(tok) != "shpat_rotate" {
		t.Fatalf("token after rotation: %q, %v", tok, err)
	}
}
