package registry_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store/storetest"
)

func entry(ref string) registry.Entry {
	return registry.Entry{Shop: "a.myshopify.com", Subject: "sub_x", Datum: registry.DatumEmail,
		System: registry.SystemSendGrid, Action: registry.ActionTransmitted, Purpose: registry.PurposeReviewRequest,
		LegalBasis: registry.BasisConsent, ExpiresAt: time.Now().Add(time.Hour), Ref: ref}
}

// TestComputeHash_IsTheDocumentedFormat pins the chain hash to what
// docs/registry.md tells an auditor to recompute. The expected value came
// from the shell, not from this package:
//
//	printf '%s\x1f' $(printf '0%.0s' {1..64}) 2026-11-22T10:00:00.123456Z a.myshopify.com sub_x user.contact.email \
//	    sendgrid transmitted review_request consent 2027-01-02T02:04:05.000006Z rq_1 | sha256sum
func TestComputeHash_IsTheDocumentedFormat(t *testing.T) {
	e := entry("rq_1")
	e.At = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC) // stored at microseconds
	e.ExpiresAt = time.Date(2027, 1, 2, 3, 4, 5, 6000, time.FixedZone("CET", 3600))
	e.At = e.At.Truncate(time.Microsecond)
	const want = "2da1591468b75efb1b2a15ad9d4428d36d8c2ce9a22ddead4a527c9833224dee"
	if got := registry.ComputeHash(registry.GenesisHash, e); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
	e.Ref = "rq_2"
	if registry.ComputeHash(registry.GenesisHash, e) == want {
		t.Fatal("the hash does not cover ref")
	}
}

func TestAppend_ConcurrentWritersKeepOneChain(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				// Two shops per transaction, in different orders: the
				// appender must lock heads in a fixed order or deadlock.
				a, b := entry(fmt.Sprintf("rq_%d_%d", w, i)), entry(fmt.Sprintf("rq_%d_%d_b", w, i))
				a.Shop = fmt.Sprintf("s%d.myshopify.com", w%3)
				b.Shop = fmt.Sprintf("s%d.myshopify.com", (w+1)%3)
				if w%2 == 0 {
					a, b = b, a
				}
				err := db.InTx(ctx, func(tx *sqlx.Tx) error {
					_, err := registry.Append(ctx, tx, time.Now(), a, b)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	es, err := registry.Entries(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 400 {
		t.Fatalf("got %d entries, want 400", len(es))
	}
	perShop := map[string]int64{}
	for _, e := range es {
		perShop[e.Shop]++
		if e.ShopSeq != perShop[e.Shop] {
			t.Fatalf("shop %s: entry %d has shop_seq %d; appends committed out of chain order", e.Shop, perShop[e.Shop], e.ShopSeq)
		}
	}
	if len(perShop) != 3 {
		t.Fatalf("entries spread over %d shops, want 3", len(perShop))
	}
	if bad := registry.VerifyChain(es); bad != -1 {
		t.Fatalf("chain broken at entry %d", bad)
	}
	es[100].Purpose = "marketing"
	if bad := registry.VerifyChain(es); bad != 100 {
		t.Fatalf("tampered entry not detected: first bad = %d, want 100", bad)
	}
}

func TestAppendOnce_ConcurrentWritersOfOneTouchAppendItOnce(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	// Another touch of the same ref (other datum), already recorded, does
	// not count as this one.
	other := entry("rq_1")
	other.Datum = registry.DatumName
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error { _, err := registry.Append(ctx, tx, time.Now(), other); return err }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	appended := make(chan int, 8)
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.InTx(ctx, func(tx *sqlx.Tx) error {
				// The touch twice in one call, and a second touch of another ref.
				p, err := registry.AppendOnce(ctx, tx, time.Now(), entry("rq_1"), entry("rq_1"), entry("rq_2"))
				n := 0
				for _, ref := range []string{"rq_1", "rq_2"} {
					if p.Covers(registry.SystemSendGrid, registry.ActionTransmitted, registry.DatumEmail, ref) {
						n++
					}
				}
				appended <- n
				return err
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(appended)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for n := range appended {
		total += n
	}
	if total != 2 {
		t.Errorf("the proofs cover %d appends, want 2 (one per touch)", total)
	}
	es, err := registry.Entries(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range es {
		count[e.Ref+"/"+e.Datum]++
	}
	want := map[string]int{"rq_1/" + registry.DatumName: 1, "rq_1/" + registry.DatumEmail: 1, "rq_2/" + registry.DatumEmail: 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Fatalf("entries per touch = %v, want %v", count, want)
	}
	if bad := registry.VerifyChain(es); bad != -1 {
		t.Fatalf("chain broken at entry %d", bad)
	}
}

// AppendWithOnce appends every entry of its first list, even one whose
// touch is recorded, and of its second list only touches not recorded yet,
// in one chain.
func TestAppendWithOnce_AppendsEveryEntryAndOnlyNewOnceTouches(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error { _, err := registry.AppendOnce(ctx, tx, time.Now(), entry("rq_1")); return err }); err != nil {
		t.Fatal(err)
	}
	again := entry("rq_1") // a repeat of a recorded touch, as an always-entry
	var p registry.Proof
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		p, err = registry.AppendWithOnce(ctx, tx, time.Now(), []registry.Entry{again}, []registry.Entry{entry("rq_1"), entry("rq_2")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !p.Covers(registry.SystemSendGrid, registry.ActionTransmitted, registry.DatumEmail, "rq_2") {
		t.Error("the new once-touch rq_2 is not appended")
	}
	es, err := registry.Entries(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range es {
		count[e.Ref]++
	}
	if count["rq_1"] != 2 || count["rq_2"] != 1 || len(es) != 3 {
		t.Fatalf("entries per ref = %v, want rq_1 twice (once, then as an always-entry) and rq_2 once", count)
	}
	if bad := registry.VerifyChain(es); bad != -1 {
		t.Fatalf("chain broken at entry %d", bad)
	}
}

func TestAppend_RolledBackTransactionLeavesNoEntryAndNoGap(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	_ = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := registry.Append(ctx, tx, time.Now(), entry("rq_gone")); err != nil {
			t.Fatal(err)
		}
		return fmt.Errorf("the data move failed")
	})
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := registry.Append(ctx, tx, time.Now(), entry("rq_kept"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	es, _ := registry.Entries(ctx, db, "")
	if len(es) != 1 || es[0].Ref != "rq_kept" || es[0].ShopSeq != 1 || es[0].PrevHash != registry.GenesisHash || registry.VerifyChain(es) != -1 {
		t.Fatalf("entries after rollback = %+v", es)
	}
}

func TestAppend_RejectsBadEntriesAndTheDatabaseRefusesEdits(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	bad := []registry.Entry{
		func() registry.Entry { e := entry("rq"); e.Subject = "jane@example.com"; return e }(),
		func() registry.Entry { e := entry("rq"); e.System = "mailchimp"; return e }(),
		func() registry.Entry { e := entry("rq"); e.Action = "copied"; return e }(),
		func() registry.Entry { e := entry(""); return e }(),
		func() registry.Entry { e := entry("rq"); e.ExpiresAt = time.Time{}; return e }(),
	}
	for i, e := range bad {
		err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := registry.Append(ctx, tx, time.Now(), e)
			return err
		})
		if err == nil {
			t.Errorf("bad entry %d accepted", i)
		}
	}
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := registry.Append(ctx, tx, time.Now(), entry("rq_1"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE registry_entries SET purpose = 'x'`); err == nil {
		t.Fatal("UPDATE of a registry entry succeeded")
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM registry_entries`); err == nil {
		t.Fatal("DELETE of a registry entry succeeded")
	}
}

// Entries go in as arrays (insertAndMove); what is stored must be
// exactly what was hashed, and the chain must continue from one append to
// the next.
func TestAppend_BulkChainStoresExactlyWhatWasHashed(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 22, 17, 0, 0, 123456789, time.FixedZone("x", 3600)) // sub-microsecond, not UTC
	var want []registry.Entry
	for _, n := range []int{3, 1000, 2, 300} { // small, bulk, small, bulk
		es := make([]registry.Entry, n)
		for i := range es {
			es[i] = entry(fmt.Sprintf("rq_%d_%d", n, i))
			es[i].Subject = fmt.Sprintf("sub_'\"{},\\ %d", i) // array-literal metacharacters
			es[i].ExpiresAt = at.Add(time.Duration(i) * time.Nanosecond)
		}
		err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			p, err := registry.Append(ctx, tx, at, es...)
			if err == nil && !p.Covers(registry.SystemSendGrid, registry.ActionTransmitted, registry.DatumEmail, es[n-1].Ref) {
				t.Errorf("proof of %d entries does not cover the last", n)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, es...)
	}
	got, err := registry.Entries(ctx, db, "a.myshopify.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries stored, want %d", len(got), len(want))
	}
	if bad := registry.VerifyChain(got); bad != -1 {
		t.Fatalf("chain broken at entry %d (%s)", bad, got[bad].Ref)
	}
	for i := range got {
		if got[i].Subject != want[i].Subject || got[i].Ref != want[i].Ref || got[i].ShopSeq != int64(i+1) {
			t.Fatalf("entry %d stored as %+v, want subject %q ref %q", i, got[i], want[i].Subject, want[i].Ref)
		}
	}
}

// TestAppend_RetentionChainDoesNotWaitForTheMainChain holds each chain's
// head in an open transaction and appends to the other chain of the same
// shop with a short lock timeout: it must not wait. A second append to the
// held chain must.
func TestAppend_RetentionChainDoesNotWaitForTheMainChain(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	deletion := entry("rq_swept")
	deletion.Action, deletion.Purpose, deletion.LegalBasis = registry.ActionDeleted, registry.PurposeRetention, registry.BasisLegalObligation
	for _, tc := range []struct {
		name       string
		held, free registry.Entry
	}{
		{"sweep holds retention", deletion, entry("rq_intake")},
		{"intake holds main", entry("rq_intake"), deletion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			holder, err := db.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Rollback()
			if _, err := registry.Append(ctx, holder, time.Now(), tc.held); err != nil {
				t.Fatal(err)
			}
			appendWithin := func(e registry.Entry) error {
				return db.InTx(ctx, func(tx *sqlx.Tx) error {
					if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '300ms'`); err != nil {
						return err
					}
					_, err := registry.Append(ctx, tx, time.Now(), e)
					return err
				})
			}
			if err := appendWithin(tc.free); err != nil {
				t.Fatalf("append to the other chain waited for the held one: %v", err)
			}
			if err := appendWithin(tc.held); err == nil || !strings.Contains(err.Error(), "lock timeout") {
				t.Fatalf("append to the held chain = %v, want a lock timeout", err)
			}
		})
	}
	var chains []string
	if err := db.SelectContext(ctx, &chains, `SELECT chain FROM registry_entries ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(chains, ",") != ",retention" {
		t.Fatalf("chains of the committed entries: %q", chains)
	}
}

// A webhook batch spans many shops, each with its own chain: appending it
// costs the same three statements whether it holds one shop or forty
// (before, three for every shop), and every shop's chain comes out whole,
// with its once-touches written once.
func TestAppendWithOnce_ManyShopsInThreeStatements(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	counted, statements := storetest.Counting(t, db)
	batch := func(shops int, round string) (entries, once []registry.Entry) {
		for i := range shops {
			shop := fmt.Sprintf("s%02d.myshopify.com", i)
			for _, d := range []string{registry.DatumEmail, registry.DatumName} {
				e := entry("rq_" + round)
				e.Shop, e.Datum, e.System, e.Action = shop, d, registry.SystemCandor, registry.ActionCollected
				entries = append(entries, e)
			}
			o := entry("rq_" + round)
			o.Shop, o.System, o.Action = shop, registry.SystemTemporal, registry.ActionStored
			once = append(once, o, o) // twice in one batch: written once
			r := entry("rq_" + round) // the retention chain, in the same append
			r.Shop, r.Purpose, r.Action = shop, registry.PurposeRetention, registry.ActionDeleted
			entries = append(entries, r)
		}
		return entries, once
	}
	for _, tc := range []struct {
		shops int
		round string
	}{{1, "a"}, {40, "b"}, {40, "b"}} { // the last repeats the second: its once-touches are held
		entries, once := batch(tc.shops, tc.round)
		statements.Store(0)
		if err := counted.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := registry.AppendWithOnce(ctx, tx, time.Now(), entries, once)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n := statements.Load(); n != 3 {
			t.Errorf("%d shops: %d statements, want 3 (lock the heads, read the recorded touches, insert)", tc.shops, n)
		}
	}
	es, err := registry.Entries(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	if bad := registry.VerifyChain(es); bad != -1 {
		t.Fatalf("chain broken at entry %d (%s %s)", bad, es[bad].Shop, es[bad].Chain)
	}
	stored := map[string]int{}
	seqs := map[string][]int64{}
	for _, e := range es {
		stored[e.Shop+" "+e.System+" "+e.Ref]++
		seqs[e.Shop+" "+e.Chain] = append(seqs[e.Shop+" "+e.Chain], e.ShopSeq)
	}
	for i := range 40 {
		shop := fmt.Sprintf("s%02d.myshopify.com", i)
		if n := stored[shop+" "+registry.SystemTemporal+" rq_b"]; n != 1 {
			t.Errorf("%s: its once-touch stored %d times, want 1", shop, n)
		}
		if n := stored[shop+" "+registry.SystemCandor+" rq_b"]; n != 4 {
			t.Errorf("%s: %d always-entries, want 4 (2 in each of two appends)", shop, n)
		}
		for _, chain := range []string{registry.ChainMain, registry.ChainRetention} {
			for j, seq := range seqs[shop+" "+chain] {
				if seq != int64(j+1) {
					t.Fatalf("%s chain %q: sequence %v has a gap", shop, chain, seqs[shop+" "+chain])
				}
			}
		}
	}
	var heads int
	if err := db.Get(&heads, `SELECT count(*) FROM registry_heads h WHERE h.seq = (SELECT max(shop_seq) FROM registry_entries e WHERE e.shop = h.shop AND e.chain = h.chain)`); err != nil {
		t.Fatal(err)
	}
	if heads != 80 {
		t.Errorf("%d of 80 heads point at their chain's last entry", heads)
	}
}
