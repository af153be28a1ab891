package datakeys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

const shop = "keys-test.myshopify.com"

func master(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func ring(t testing.TB, current []byte, previous ...[]byte) *keys.Ring {
	t.Helper()
	r, err := keys.New(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// process is one Candor process: its own ring and key cache.
func process(t testing.TB, db *store.DB, current []byte, previous ...[]byte) *datakeys.Keys {
	t.Helper()
	r := ring(t, current, previous...)
	if err := datakeys.LoadIdentity(context.Background(), db, r, previous...); err != nil {
		t.Fatal(err)
	}
	return datakeys.New(db, r)
}

func payload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFor_OneKeyPerOwnerStoredOnlyWrapped(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	a, b := process(t, db, master(1)), process(t, db, master(1))
	// Two processes race to create the same owner's key.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := a
			if i%2 == 1 {
				k = b
			}
			dk, err := k.For(ctx, shop, "rq_one")
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = dk.ID
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || !strings.HasPrefix(id, "dk_") {
			t.Fatalf("keys for one owner: %v", ids)
		}
	}
	other, err := a.For(ctx, shop, "rq_two")
	if err != nil || other.ID == ids[0] {
		t.Fatalf("another owner got %q, %v", other.ID, err)
	}
	var wrapped []string
	if err := db.Select(&wrapped, `SELECT wrapped FROM data_keys`); err != nil || len(wrapped) != 2 {
		t.Fatalf("stored %d keys, %v", len(wrapped), err)
	}
	for _, w := range wrapped {
		if keys.SealedKeyID(w) != a.Ring().KeyID() {
			t.Errorf("key stored as %q, not wrapped under the master key", w)
		}
	}
	if _, err := a.For(ctx, shop, ""); err == nil {
		t.Error("a key without an owner was made")
	}
}

func TestCodec_EncryptsUnderTheOwnersKeyAndAnotherProcessDecodes(t *testing.T) {
	db, _ := storetest.New(t)
	a, b := process(t, db, master(1)), process(t, db, master(1))
	in := []*commonpb.Payload{payload(t, map[string]string{"order_name": "#1001", "title": "Linen apron"}), payload(t, 42)}
	enc, err := a.Codec(shop, "rq_abc").Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := a.For(context.Background(), shop, "rq_abc")
	for _, p := range enc {
		if string(p.Metadata["encoding"]) != "binary/encrypted" || string(p.Metadata["encryption-key-id"]) != dk.ID {
			t.Fatalf("metadata %v", p.Metadata)
		}
		if bytes.Contains(p.Data, []byte("Linen")) || bytes.Contains(p.Data, []byte("json/plain")) {
			t.Fatal("ciphertext holds the plaintext")
		}
	}
	// The other process decodes (key read from Postgres), and passes an
	// unencrypted payload (from before the codec) through.
	plain := payload(t, "old")
	dec, err := b.Codec("", datakeys.ServiceOwner).Decode(append(enc, plain))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &got); err != nil || got["title"] != "Linen apron" {
		t.Fatalf("decoded %v, %v", got, err)
	}
	if dec[2] != plain {
		t.Error("an unencrypted payload was changed")
	}

	// Bad input: tampered data, a key that never existed, no key ID, too
	// short to hold a nonce.
	bad := func(mut func(p *commonpb.Payload)) error {
		p := &commonpb.Payload{Metadata: map[string][]byte{}, Data: append([]byte{}, enc[0].Data...)}
		for k, v := range enc[0].Metadata {
			p.Metadata[k] = v
		}
		mut(p)
		_, err := b.Codec("", datakeys.ServiceOwner).Decode([]*commonpb.Payload{p})
		return err
	}
	if err := bad(func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }); err == nil || !strings.Contains(err.Error(), "failed authentication") {
		t.Errorf("tampered: %v", err)
	}
	if err := bad(func(p *commonpb.Payload) { p.Metadata["encryption-key-id"] = []byte("dk_nosuchkey") }); !errors.Is(err, datakeys.ErrShredded) {
		t.Errorf("unknown key: %v", err)
	}
	if err := bad(func(p *commonpb.Payload) { delete(p.Metadata, "encryption-key-id") }); err == nil {
		t.Error("a payload naming no key decoded")
	}
	if err := bad(func(p *commonpb.Payload) { p.Data = p.Data[:5] }); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short: %v", err)
	}
	// Ciphertext is bound to its key ID: moved under another key's ID it
	// does not decode.
	other, _ := a.For(context.Background(), shop, "rq_other")
	if err := bad(func(p *commonpb.Payload) { p.Metadata["encryption-key-id"] = []byte(other.ID) }); err == nil {
		t.Error("ciphertext decoded under another key")
	}
}

func TestShred_WhatTheKeyEncryptedCannotBeReadAnyMore(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	a, b := process(t, db, master(1)), process(t, db, master(1))
	enc, err := a.Codec(shop, "rq_gone").Encode([]*commonpb.Payload{payload(t, "#1001 Linen apron")})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := a.Seal(ctx, shop, "sub_gone", []byte("gone@example.org"), "pr_1")
	if err != nil || strings.Contains(sealed, "gone@") {
		t.Fatalf("sealed %q, %v", sealed, err)
	}
	if got, err := b.Open(ctx, sealed, "pr_1"); err != nil || string(got) != "gone@example.org" {
		t.Fatalf("open before: %q, %v", got, err)
	}
	if _, err := b.Open(ctx, sealed, "pr_2"); err == nil {
		t.Fatal("opened with another row's binding")
	}
	kept, _ := a.Codec(shop, "rq_kept").Encode([]*commonpb.Payload{payload(t, "kept")})
	// b has both keys cached; the erasure runs in a.
	if _, err := b.Codec("", datakeys.ServiceOwner).Decode(enc); err != nil {
		t.Fatal(err)
	}

	var ids []string
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		ids, err = datakeys.Shred(ctx, tx, shop, []string{"rq_gone", "sub_gone", "rq_never"})
		return err
	})
	if err != nil || len(ids) != 2 {
		t.Fatalf("shredded %v, %v", ids, err)
	}
	a.Forget(ids...)
	b.Forget(ids...) // the cache bound in other processes; here, at once
	for name, k := range map[string]*datakeys.Keys{"erasing process": a, "other process": b, "new process": process(t, db, master(1))} {
		if _, err := k.Codec("", datakeys.ServiceOwner).Decode(enc); !errors.Is(err, datakeys.ErrShredded) {
			t.Errorf("%s: payload after shredding: %v", name, err)
		}
		if _, err := k.Open(ctx, sealed, "pr_1"); !errors.Is(err, datakeys.ErrShredded) {
			t.Errorf("%s: sealed address after shredding: %v", name, err)
		}
		if _, err := k.Codec("", datakeys.ServiceOwner).Decode(kept); err != nil {
			t.Errorf("%s: another request's payload: %v", name, err)
		}
	}
	// A subject's new key (a later redact of the same customer) does not
	// revive the old ciphertext.
	if _, err := a.For(ctx, shop, "sub_gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(ctx, sealed, "pr_1"); !errors.Is(err, datakeys.ErrShredded) {
		t.Errorf("old address under a recreated subject key: %v", err)
	}

	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		ids, err = datakeys.ShredShop(ctx, tx, shop)
		return err
	})
	if err != nil || len(ids) != 2 { // rq_kept and the recreated sub_gone
		t.Fatalf("shop shred %v, %v", ids, err)
	}
}

// A request's key dies with its row, however the row goes: deleted (as the
// retention sweep does, many per statement) or by cascade from its shop.
func TestRequestKeys_DieWithTheirRows(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	k := process(t, db, master(1))
	for _, s := range []string{shop, "other-" + shop} {
		if err := db.AddShop(ctx, store.Shop{Domain: s, TokenSealed: "x", Settings: store.DefaultSettings(s)}); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			for i, rq := range []string{"rq_a", "rq_b", "rq_c"} {
				if _, err := store.CreateRequest(ctx, tx, store.Request{RequestID: rq + s, Shop: s, OrderID: int64(i + 1), OrderName: "#1",
					ExpiresAt: time.Now().Add(time.Hour)}, []store.Product{{ID: 1, Title: "Mug"}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, owner := range []string{"rq_a" + s, "rq_b" + s, "rq_c" + s, "sub_x"} {
			if _, err := k.For(ctx, s, owner); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(s string) int {
		var n int
		_ = db.Get(&n, `SELECT count(*) FROM data_keys WHERE shop = $1`, s)
		return n
	}
	if _, err := db.Exec(`DELETE FROM review_requests WHERE request_id IN ('rq_a` + shop + `', 'rq_b` + shop + `')`); err != nil {
		t.Fatal(err)
	}
	if n := count(shop); n != 2 { // rq_c and the subject's
		t.Fatalf("%d keys left after deleting two rows, want 2", n)
	}
	if n := count("other-" + shop); n != 4 {
		t.Fatalf("another shop's keys went too: %d left", n)
	}
	if _, err := db.Exec(`DELETE FROM shops WHERE domain = $1`, "other-"+shop); err != nil {
		t.Fatal(err)
	}
	if n := count("other-" + shop); n != 1 { // the subject key has no row
		t.Fatalf("%d keys left after the shop's rows cascaded, want the subject's 1", n)
	}
}

// TestFor_AShreddedRequestKeyIsNeverMadeAgain: once a request's key is
// destroyed, by an erasure's Shred or with its row (the retention sweep),
// no process makes a fresh one for that request: For and the payload
// codec fail with ErrShredded and write no key. A request never shredded
// still gets its key.
func TestFor_AShreddedRequestKeyIsNeverMadeAgain(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	if err := db.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: "x", Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatal(err)
	}
	a := process(t, db, master(1))
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := store.CreateRequest(ctx, tx, store.Request{RequestID: "rq_swept", Shop: shop, OrderID: 1, OrderName: "#1",
			ExpiresAt: time.Now().Add(time.Hour)}, []store.Product{{ID: 1, Title: "Mug"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"rq_swept", "rq_erased"} {
		if _, err := a.Codec(shop, owner).Encode([]*commonpb.Payload{payload(t, "#1 Mug")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`DELETE FROM review_requests WHERE request_id = 'rq_swept'`); err != nil {
		t.Fatal(err)
	}
	var ids []string
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		ids, err = datakeys.Shred(ctx, tx, shop, []string{"rq_erased"})
		return err
	})
	if err != nil || len(ids) != 1 {
		t.Fatalf("shredded %v, %v", ids, err)
	}
	a.ForgetOwners(shop, []string{"rq_swept", "rq_erased"})

	for name, k := range map[string]*datakeys.Keys{"same process": a, "new process": process(t, db, master(1))} {
		for _, owner := range []string{"rq_swept", "rq_erased"} {
			if _, err := k.For(ctx, shop, owner); !errors.Is(err, datakeys.ErrShredded) {
				t.Errorf("%s: For(%s) after its key was destroyed: %v, want ErrShredded", name, owner, err)
			}
			if _, err := k.Codec(shop, owner).Encode([]*commonpb.Payload{payload(t, "late")}); !errors.Is(err, datakeys.ErrShredded) {
				t.Errorf("%s: encoding for %s after its key was destroyed: %v, want ErrShredded", name, owner, err)
			}
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM data_keys WHERE owner IN ('rq_swept', 'rq_erased')`); err != nil || n != 0 {
		t.Fatalf("%d keys of destroyed requests exist again (%v)", n, err)
	}
	if _, err := a.For(ctx, shop, "rq_new"); err != nil {
		t.Errorf("a new request gets no key: %v", err)
	}
	if enc, err := a.Codec(shop, "rq_swept").Encode(nil); err != nil || len(enc) != 0 {
		t.Errorf("encoding nothing needs no key: %v, %v", enc, err)
	}
}

// TestFailureConverter_ADestroyedKeyFailsWithoutRetries: an activity whose
// payload names a destroyed key fails as a non-retryable DataKeyShredded
// application error (the SDK wraps the codec's error when it cannot decode
// the input), and the workflow reads that type back. Other errors keep
// their own type and retry policy.
func TestFailureConverter_ADestroyedKeyFailsWithoutRetries(t *testing.T) {
	fc := datakeys.FailureConverter()
	decode := fmt.Errorf("unable to decode the activity function input payload with error: %w for function name: SendReviewRequest",
		fmt.Errorf("payload codec: data key dk_x: %w", datakeys.ErrShredded))
	info := fc.ErrorToFailure(decode).GetApplicationFailureInfo()
	if info == nil || info.GetType() != datakeys.ShreddedErrorType || !info.GetNonRetryable() {
		t.Fatalf("failure of a destroyed key: %+v, want a non-retryable %s", info, datakeys.ShreddedErrorType)
	}
	var appErr *temporal.ApplicationError
	if err := fc.FailureToError(fc.ErrorToFailure(decode)); !errors.As(err, &appErr) || appErr.Type() != datakeys.ShreddedErrorType {
		t.Errorf("read back: %v", err)
	}
	for _, err := range []error{errors.New("connection refused"), temporal.NewApplicationError("shop is not connected", "ShopGone")} {
		info := fc.ErrorToFailure(err).GetApplicationFailureInfo()
		if info.GetType() == datakeys.ShreddedErrorType || info.GetNonRetryable() {
			t.Errorf("%v became %+v", err, info)
		}
	}
}
