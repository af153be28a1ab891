package registry_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

func appendTo(t *testing.T, db *store.DB, shop string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		e := entry("rq_cp")
		e.Shop = shop
		if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := registry.Append(ctx, tx, time.Now(), e)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// rewrite changes entry seq of shop's main chain as someone who owns the
// tables could: the trigger off, the entry changed, and every hash from it
// on recomputed, so the chain on its own still verifies.
func rewrite(t *testing.T, db *store.DB, shop string, seq int64) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.Exec(`ALTER TABLE registry_entries DISABLE TRIGGER registry_entries_no_update`); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE registry_entries SET legal_basis = 'legitimate_interests' WHERE shop = $1 AND chain = '' AND shop_seq = $2`, shop, seq); err != nil {
			return err
		}
		var es []registry.Entry
		if err := tx.Select(&es, `SELECT * FROM registry_entries WHERE shop = $1 AND chain = '' ORDER BY shop_seq`, shop); err != nil {
			return err
		}
		prev := registry.GenesisHash
		for _, e := range es {
			h := registry.ComputeHash(prev, e)
			if _, err := tx.Exec(`UPDATE registry_entries SET prev_hash = $1, hash = $2 WHERE seq = $3`, prev, h, e.Seq); err != nil {
				return err
			}
			prev = h
		}
		if _, err := tx.Exec(`UPDATE registry_heads SET hash = $1 WHERE shop = $2 AND chain = ''`, prev, shop); err != nil {
			return err
		}
		_, err := tx.Exec(`ALTER TABLE registry_entries ENABLE TRIGGER registry_entries_no_update`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckpoints_TamperingBeforeACheckpointIsFoundWithoutAnEarlierExport(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	s := signer(t)
	pub := s.Key.Public().(ed25519.PublicKey)
	const a, b = "a.myshopify.com", "b.myshopify.com"
	appendTo(t, db, a, 3)
	appendTo(t, db, b, 2)
	first, err := registry.MakeCheckpoint(ctx, db.DB, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Checkpoint.Heads) != 2 || first.Checkpoint.Heads[0].Seq != 3 || first.Checkpoint.Heads[1].Seq != 2 {
		t.Fatalf("heads %+v", first.Checkpoint.Heads)
	}
	appendTo(t, db, a, 2) // after the checkpoint: fine
	second, err := registry.MakeCheckpoint(ctx, db.DB, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cps := []registry.SignedCheckpoint{first, second}
	if n, err := registry.VerifyCheckpoints(ctx, db.DB, cps, pub); err != nil || n != 3 { // a@3, a@5, b@2
		t.Fatalf("intact registry: %d heads checked, %v", n, err)
	}
	stored, err := registry.Checkpoints(ctx, db, time.Time{})
	if err != nil || len(stored) != 2 || stored[1].Signature != second.Signature {
		t.Fatalf("stored checkpoints: %d, %v", len(stored), err)
	}
	// Another key's checkpoints prove nothing.
	if _, err := registry.VerifyCheckpoints(ctx, db.DB, cps, signer(t).Key.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("checkpoints verified with another key")
	}

	// The owner rewrites entry 2 of a's chain and every hash after it.
	rewrite(t, db, a, 2)
	es, _ := registry.Entries(ctx, db, a)
	if registry.VerifyChain(es) != -1 {
		t.Fatal("the rewrite should leave a chain that verifies on its own")
	}
	_, err = registry.VerifyCheckpoints(ctx, db.DB, cps, pub)
	var te *registry.TamperError
	if !errors.As(err, &te) || te.Shop != a || te.Seq != 3 {
		t.Fatalf("after the rewrite: %v, want entry 3 of %s (the first checkpoint's head) named", err, a)
	}
	// Only the first checkpoint held: still found.
	if _, err := registry.VerifyCheckpoints(ctx, db.DB, cps[:1], pub); !errors.As(err, &te) {
		t.Fatalf("against the first checkpoint alone: %v", err)
	}
	// And no further checkpoint vouches for the rewritten chain.
	if _, err := registry.MakeCheckpoint(ctx, db.DB, s, time.Now()); !errors.As(err, &te) || te.Shop != a {
		t.Fatalf("a checkpoint over the rewritten chain: %v", err)
	}
}

func TestCheckpoints_RemovedEntriesAreFound(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	s := signer(t)
	const a = "a.myshopify.com"
	appendTo(t, db, a, 4)
	cp, err := registry.MakeCheckpoint(ctx, db.DB, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE registry_entries DISABLE TRIGGER registry_entries_no_update;
		DELETE FROM registry_entries WHERE shop_seq = 4;
		ALTER TABLE registry_entries ENABLE TRIGGER registry_entries_no_update`); err != nil {
		t.Fatal(err)
	}
	_, err = registry.VerifyCheckpoints(ctx, db.DB, []registry.SignedCheckpoint{cp}, s.Key.Public().(ed25519.PublicKey))
	var te *registry.TamperError
	if !errors.As(err, &te) || te.Seq != 4 || te.Why != "is missing" {
		t.Fatalf("the checkpoint's head deleted: %v", err)
	}
}

// After `candor keys rotate-signing` the next checkpoint is signed with the
// new key and builds on the last one, which the earlier key signed; a key
// the deployment never used is not trusted in its place.
func TestCheckpoints_ARotatedSigningKeyBuildsOnTheEarlierKeysCheckpoint(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	old, rotated := signer(t), signer(t)
	appendTo(t, db, "a.myshopify.com", 2)
	first, err := registry.MakeCheckpoint(ctx, db.DB, old, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	appendTo(t, db, "a.myshopify.com", 1)
	if _, err := registry.MakeCheckpoint(ctx, db.DB, rotated, time.Now()); err == nil {
		t.Fatal("a checkpoint built on one signed by a key the signer does not know")
	}
	rotated.Earlier = []ed25519.PublicKey{old.Key.Public().(ed25519.PublicKey)}
	second, err := registry.MakeCheckpoint(ctx, db.DB, rotated, time.Now())
	if err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	cps := []registry.SignedCheckpoint{first, second}
	if _, err := registry.VerifyCheckpoints(ctx, db.DB, cps, rotated.Key.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("verified with only the new key pinned")
	}
	if n, err := registry.VerifyCheckpoints(ctx, db.DB, cps, rotated.Earlier[0], rotated.Key.Public().(ed25519.PublicKey)); err != nil || n != 2 {
		t.Fatalf("both keys pinned: %d heads, %v", n, err)
	}
}
