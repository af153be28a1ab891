package registry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// seedInterleaved writes perShop entries for each of shops shops, in
// rounds of one entry per shop, as webhooks of many shops arrive, with one
// SQL statement. The rows are well formed but their hashes are not a chain:
// it seeds what exports read, fast (10 million rows in minutes), for tests
// for benchmarks, never for verification.
func seedInterleaved(tb testing.TB, db *store.DB, shops, perShop int) {
	tb.Helper()
	if _, err := db.Exec(`INSERT INTO registry_entries (chain, shop_seq, at, shop, subject, datum, system, action, purpose,
			legal_basis, expires_at, ref, prev_hash, hash)
		SELECT '', i / $1::int + 1, timestamptz '2026-01-01' + i * interval '3 ms', 's' || (i % $1::int) || '.myshopify.com',
			'sub_' || md5((i % 500000)::text), $3, $4, $5, $6, $7, timestamptz '2026-03-01' + i * interval '3 ms',
			'rq_' || md5(i::text), md5((i - $1::int)::text) || md5((i - $1::int)::text), md5(i::text) || md5(i::text)
		FROM generate_series(0, $1::int * $2::int - 1) AS i`, shops, perShop, registry.DatumEmail, registry.SystemSendGrid,
		registry.ActionTransmitted, registry.PurposeReviewRequest, registry.BasisConsent); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO registry_heads (shop, chain, seq, hash)
		SELECT shop, '', max(shop_seq), '' FROM registry_entries GROUP BY shop;
		UPDATE registry_heads h SET hash = e.hash FROM registry_entries e
		WHERE e.shop = h.shop AND e.chain = h.chain AND e.shop_seq = h.seq`); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec(`VACUUM ANALYZE registry_entries`); err != nil {
		tb.Fatal(err)
	}
}

// An auditor's export of every shop records the read in every shop's chain.
// It must not hold every shop's head while it waits for one: a webhook of
// another shop appends meanwhile.
func TestRecordAccess_ManyShopsDoNotHoldEveryHeadAtOnce(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	var shops []string
	for i := 0; i < 250; i++ {
		shops = append(shops, fmt.Sprintf("s%03d.myshopify.com", i))
	}
	slow := shops[len(shops)-1]
	// A long transaction of the last shop holds its head.
	held, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()
	e := entry("rq_slow")
	e.Shop = slow
	if _, err := registry.Append(ctx, held, time.Now(), e); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- registry.RecordAccess(ctx, db.DB, registry.Access{Principal: "cli:bench", What: registry.AccessExport, Shops: shops, Ref: "ex_all"}, time.Now())
	}()
	// Wait until the export waits for the slow shop's head.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the export never waited for the slow shop's head")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A webhook of the first shop appends, within a second.
	first := entry("rq_webhook")
	first.Shop = shops[0]
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.Exec(`SET LOCAL lock_timeout = '1s'`); err != nil {
			return err
		}
		_, err := registry.Append(ctx, tx, time.Now(), first)
		return err
	})
	if err != nil {
		t.Fatalf("another shop's append waited for the export: %v", err)
	}
	if err := held.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var recorded int
	if err := db.Get(&recorded, `SELECT count(DISTINCT shop) FROM registry_entries WHERE ref = 'ex_all' AND action = 'read'`); err != nil {
		t.Fatal(err)
	}
	if recorded != len(shops) {
		t.Fatalf("the read is recorded in %d shops' chains, want %d", recorded, len(shops))
	}
	es, err := registry.Entries(ctx, db, "")
	if err != nil || registry.VerifyChain(es) != -1 {
		t.Fatalf("chains do not verify: %v", err)
	}
}
