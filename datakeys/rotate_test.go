package datakeys_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// Everything sealed under the old master key still opens after a rotation
// with the old key removed, and every name derived from the identity keys
// stays the same.
func TestRotate_OldKeyRemovedEverythingStillOpensAndNamesStayTheSame(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	oldKey, newKey := master(1), master(2)

	// Under the old key: identity, shop tokens, data keys (a payload and a
	// sealed address), and a redact address sealed the old way.
	before := process(t, db, oldKey)
	subject := before.Ring().Subject(shop, 42)
	request := before.Ring().RequestID(shop, 1001)
	signing := before.Ring().SigningKey().Public().(ed25519.PublicKey)
	for _, s := range []string{shop, "b-" + shop, "c-" + shop} {
		tok, _ := before.Ring().Seal([]byte("shpat_"+s), s)
		if err := db.AddShop(ctx, store.Shop{Domain: s, TokenSealed: tok, Settings: store.DefaultSettings(s)}); err != nil {
			t.Fatal(err)
		}
	}
	var encoded []*commonpb.Payload
	for _, owner := range []string{"rq_1", "rq_2", "rq_3", "rq_4", "rq_5"} {
		enc, err := before.Codec(shop, owner).Encode([]*commonpb.Payload{payload(t, "payload of "+owner)})
		if err != nil {
			t.Fatal(err)
		}
		encoded = append(encoded, enc...)
	}
	address, _ := before.Seal(ctx, shop, subject, []byte("rotate@example.org"), "pr_a")
	legacy, _ := before.Ring().Seal([]byte("legacy@example.org"), "pr_b")
	if _, err := db.Exec(`INSERT INTO privacy_requests (id, kind, shop, subject, email_sealed) VALUES
		('pr_a', 'customer_redact', $1, $2, $3), ('pr_b', 'customer_redact', $1, $2, $4)`, shop, subject, address, legacy); err != nil {
		t.Fatal(err)
	}

	// Rotate: the new key current, the old one previous. Small batches.
	during := process(t, db, newKey, oldKey)
	batches := 0
	res, err := datakeys.Rotate(ctx, db, during.Ring(), 2, func(what string, n int) { batches++ })
	if err != nil {
		t.Fatal(err)
	}
	if res.DataKeys != 6 || res.Sealed != 4 || res.Identity != 1 || len(res.Left) != 0 {
		t.Fatalf("rotation %+v, want 6 data keys, 3 tokens + 1 legacy address, the identity", res)
	}
	if batches < 5 {
		t.Errorf("%d batches reported; batches of 2 over 6 keys and 4 secrets make at least 5", batches)
	}
	// Idempotent: a second run has nothing to do.
	if again, err := datakeys.Rotate(ctx, db, during.Ring(), 2, nil); err != nil || again.DataKeys+again.Sealed+again.Identity != 0 {
		t.Fatalf("second rotation %+v, %v", again, err)
	}
	use, err := datakeys.KeyUse(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range use {
		if u.KeyID != during.Ring().KeyID() {
			t.Errorf("%d %s still under %s", u.Count, u.What, u.KeyID)
		}
	}

	// The old key is gone.
	after := process(t, db, newKey)
	if after.Ring().Subject(shop, 42) != subject || after.Ring().RequestID(shop, 1001) != request {
		t.Fatal("pseudonyms or request IDs changed with the master key")
	}
	if !signing.Equal(after.Ring().SigningKey().Public()) {
		t.Fatal("the registry signing key changed with the master key")
	}
	shops, err := db.Shops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shops {
		if tok, err := after.Ring().Open(s.TokenSealed, s.Domain); err != nil || string(tok) != "shpat_"+s.Domain {
			t.Errorf("token of %s: %q, %v", s.Domain, tok, err)
		}
	}
	dec, err := after.Codec("", datakeys.ServiceOwner).Decode(encoded)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := converter.GetDefaultDataConverter().FromPayload(dec[4], &got); err != nil || got != "payload of rq_5" {
		t.Fatalf("payload after rotation: %q, %v", got, err)
	}
	var rows []struct {
		ID     string `db:"id"`
		Sealed string `db:"email_sealed"`
	}
	_ = db.Select(&rows, `SELECT id, email_sealed FROM privacy_requests ORDER BY id`)
	for i, want := range []string{"rotate@example.org", "legacy@example.org"} {
		if got, err := after.Open(ctx, rows[i].Sealed, rows[i].ID); err != nil || string(got) != want {
			t.Errorf("address %s: %q, %v", rows[i].ID, got, err)
		}
	}
	// And the old key alone opens nothing any more.
	if err := datakeys.LoadIdentity(ctx, db, ring(t, oldKey)); !errors.Is(err, keys.ErrWrongKey) {
		t.Errorf("the old key alone: %v, want ErrWrongKey", err)
	}
}

func TestRotate_AValueUnderAnUnknownKeyStopsWithAClearError(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	k := process(t, db, master(1))
	if _, err := k.For(ctx, shop, "rq_1"); err != nil {
		t.Fatal(err)
	}
	stranger, _ := ring(t, master(9)).Seal([]byte("shpat_x"), shop)
	if err := db.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: stranger, Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatal(err)
	}
	rot := process(t, db, master(2), master(1))
	_, err := datakeys.Rotate(ctx, db, rot.Ring(), 10, nil)
	if !errors.Is(err, datakeys.ErrUnknownKey) || !strings.Contains(err.Error(), shop) || !strings.Contains(err.Error(), keys.SealedKeyID(stranger)) {
		t.Fatalf("err = %v, want ErrUnknownKey naming the shop and the key", err)
	}
	// What could be done was kept: the data key is under the new key.
	var wrapped string
	_ = db.Get(&wrapped, `SELECT wrapped FROM data_keys`)
	if keys.SealedKeyID(wrapped) != rot.Ring().KeyID() {
		t.Error("the data key was not re-wrapped before the error")
	}
	// With the stranger's key as a previous key, the rotation completes.
	fixed := process(t, db, master(2), master(1), master(9))
	if res, err := datakeys.Rotate(ctx, db, fixed.Ring(), 10, nil); err != nil || res.Sealed != 1 || len(res.Left) != 0 {
		t.Fatalf("after adding the key: %+v, %v", res, err)
	}
}

// An installation that never stored its identity keys (it ran before they
// were kept) keeps the old key's pseudonyms on its first rotation.
func TestLoadIdentity_FirstRotationKeepsTheOldKeysIdentity(t *testing.T) {
	db, _ := storetest.New(t)
	oldSubject := ring(t, master(1)).Subject(shop, 7)
	k := process(t, db, master(2), master(1))
	if k.Ring().Subject(shop, 7) != oldSubject {
		t.Fatal("the first rotation changed the pseudonyms")
	}
	if process(t, db, master(2)).Ring().Subject(shop, 7) != oldSubject {
		t.Fatal("the stored identity was not adopted")
	}
}

// An OAuth shop's refresh token is a sealed secret like its access token:
// `keys status` counts it under its key, a rotation re-seals it, and it opens
// once the old key is removed.
func TestRotate_ReSealsTheShopsRefreshToken(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	old := process(t, db, master(1))
	access, _ := old.Ring().Seal([]byte("shpua_access"), shop)
	refresh, _ := old.Ring().Seal([]byte("shprt_refresh"), keys.RefreshTokenAAD(shop))
	if _, err := db.InstallShop(ctx, store.Install{Domain: shop, TokenSealed: access,
		Grant: store.Grant{RefreshTokenSealed: refresh, Scopes: "read_orders"}}); err != nil {
		t.Fatal(err)
	}
	use, err := datakeys.KeyUse(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	counted := false
	for _, u := range use {
		counted = counted || (u.What == "shop refresh tokens" && u.KeyID == old.Ring().KeyID() && u.Count == 1)
	}
	if !counted {
		t.Fatalf("key use %+v does not count the refresh token", use)
	}

	during := process(t, db, master(2), master(1))
	res, err := datakeys.Rotate(ctx, db, during.Ring(), 10, nil)
	if err != nil || res.Sealed != 2 || len(res.Left) != 0 {
		t.Fatalf("rotation %+v, %v; want the access and the refresh token re-sealed, nothing left", res, err)
	}
	after := process(t, db, master(2))
	sh, err := db.Shop(ctx, shop)
	if err != nil {
		t.Fatal(err)
	}
	if rt, err := after.Ring().Open(sh.RefreshTokenSealed, keys.RefreshTokenAAD(shop)); err != nil || string(rt) != "shprt_refresh" {
		t.Fatalf("refresh token with the old key removed: %q, %v", rt, err)
	}
	// Bound to its role: it does not open as the access token.
	if _, err := after.Ring().Open(sh.RefreshTokenSealed, shop); err == nil {
		t.Fatal("the re-sealed refresh token opens as an access token")
	}
}
