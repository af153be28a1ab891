package registry_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// seed appends n entries per shop, alternating subjects, one minute apart,
// with one subject-less entry per request linked by ref.
func seed(t *testing.T, db *store.DB, shops []string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		for _, shop := range shops {
			e := entry(fmt.Sprintf("rq_%d", i%4))
			e.Shop = shop
			e.Subject = fmt.Sprintf("sub_%d", i%2)
			if i%4 == 0 {
				e.Subject = "" // written before the customer was known
			}
			if i == 3 {
				e.Purpose = `odd, "quoted" purpose` // needs CSV quoting
			}
			appendAt(t, db, e, t0.Add(time.Duration(i)*time.Minute))
		}
	}
}

// appendAt appends e at, in a transaction of its own.
func appendAt(t *testing.T, db *store.DB, e registry.Entry, at time.Time) {
	t.Helper()
	ctx := context.Background()
	e.At = at
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := registry.Append(ctx, tx, at, e)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func signer(t *testing.T) registry.Signer {
	t.Helper()
	_, k, _ := ed25519.GenerateKey(nil)
	return registry.Signer{KeyID: "k1", Key: k}
}

func export(t *testing.T, db *store.DB, format string, f registry.Filter, s registry.Signer) ([]byte, registry.Signed) {
	t.Helper()
	var buf bytes.Buffer
	signed, err := registry.Export(context.Background(), db.DB, &buf, format, f, s, registry.NewExportID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), signed
}

func lines(b []byte) []string {
	return strings.SplitAfter(string(b), "\n")[:bytes.Count(b, []byte("\n"))]
}

func join(ls []string) []byte { return []byte(strings.Join(ls, "")) }

func wantFinding(t *testing.T, name string, b []byte, s *registry.Signed, pub ed25519.PublicKey, line int64, reason string) {
	t.Helper()
	_, err := registry.Verify(bytes.NewReader(b), s, pub)
	var f *registry.Finding
	if !errors.As(err, &f) {
		t.Errorf("%s: verify = %v, want a finding", name, err)
		return
	}
	if f.Line != line || !strings.Contains(f.Reason, reason) {
		t.Errorf("%s: finding %q at line %d, want line %d containing %q", name, f.Reason, f.Line, line, reason)
	}
}

func TestExport_VerifiesAndEveryKindOfTamperingIsNamed(t *testing.T) {
	db, _ := storetest.New(t)
	seed(t, db, []string{"a.myshopify.com", "b.myshopify.com"}, 10)
	s := signer(t)
	pub := s.Key.Public().(ed25519.PublicKey)
	for _, format := range []string{registry.FormatCSV, registry.FormatJSONL} {
		t.Run(format, func(t *testing.T) {
			b, signed := export(t, db, format, registry.Filter{}, s)
			rep, err := registry.Verify(bytes.NewReader(b), &signed, pub)
			if err != nil || rep.Entries != 20 || rep.Shops != 2 || !rep.KeyWasPinned {
				t.Fatalf("intact export: %+v, %v", rep, err)
			}
			ls := lines(b)
			first := 0 // index of the first entry line
			if format == registry.FormatCSV {
				first = 1
				if strings.TrimSpace(ls[0]) != strings.Join(registry.Columns, ",") {
					t.Fatalf("header %q", ls[0])
				}
			}
			// Line numbers are 1-based: entry k (0-based) is on line first+k+1.
			at := func(k int) int64 { return int64(first + k + 1) }

			modified := append([]string{}, ls...)
			modified[first+4] = strings.Replace(modified[first+4], "review_request", "marketing", 1)
			wantFinding(t, "modified", join(modified), &signed, pub, at(4), "modified")

			deleted := append(append([]string{}, ls[:first+4]...), ls[first+5:]...)
			// Entries alternate shops: entry 6 (same shop as 4) now follows entry 2.
			wantFinding(t, "deleted", join(deleted), &signed, pub, at(5), "deleted, inserted or moved")

			inserted := append(append(append([]string{}, ls[:first+6]...), ls[first+2]), ls[first+6:]...)
			wantFinding(t, "inserted", join(inserted), &signed, pub, at(6), "deleted, inserted or moved")

			reordered := append([]string{}, ls...)
			reordered[first+2], reordered[first+4] = reordered[first+4], reordered[first+2]
			wantFinding(t, "reordered", join(reordered), &signed, pub, at(2), "deleted, inserted or moved")

			truncated := ls[:len(ls)-2]
			wantFinding(t, "truncated", join(truncated), &signed, pub, at(17), "ends before the signed end")

			cut := join(ls)
			wantFinding(t, "cut mid-line", cut[:len(cut)-10], &signed, pub, at(19), "cut off")

			dropFirst := append(append([]string{}, ls[:first]...), ls[first+2:]...)
			wantFinding(t, "first rows deleted", join(dropFirst), &signed, pub, at(0), "where the export began")

			swapShops := append([]string{}, ls...)
			swapShops[first+0], swapShops[first+1] = swapShops[first+1], swapShops[first+0]
			wantFinding(t, "rows of different shops swapped", join(swapShops), &signed, pub, 0, "reordered")

			blank := append([]string{}, ls...)
			e := strings.Split(strings.TrimSpace(ls[first+3]), ",")
			if format == registry.FormatCSV {
				blank[first+3] = fmt.Sprintf(",%s,,,,,,,,,%s,%s\n", e[1], e[len(e)-2], e[len(e)-1])
				wantFinding(t, "row blanked out", join(blank), &signed, pub, at(3), "blanked out")
			}

			// The manifest and the key.
			forged := signed
			forged.Manifest.Lines++
			wantFinding(t, "manifest changed", b, &forged, pub, 0, "signature does not verify")
			other := signer(t)
			wantFinding(t, "another key", b, &signed, other.Key.Public().(ed25519.PublicKey), 0, "given public key")
			if _, err := registry.Verify(bytes.NewReader(b), &signed, nil); err != nil {
				t.Errorf("unpinned verify of an intact file: %v", err)
			}
		})
	}
}

func TestExport_SubjectFilterRedactsOthersAndStillVerifies(t *testing.T) {
	db, _ := storetest.New(t)
	seed(t, db, []string{"a.myshopify.com", "b.myshopify.com"}, 12)
	s := signer(t)
	b, signed := export(t, db, registry.FormatCSV, registry.Filter{Shop: "a.myshopify.com", Subject: "sub_1"}, s)
	rep, err := registry.Verify(bytes.NewReader(b), &signed, s.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	// 12 entries of shop a: i odd -> sub_1 (6); i%4==0 -> "" with ref rq_0,
	// and sub_1's refs are rq_1 and rq_3, so those stay redacted; sub_0 -> redacted.
	if rep.Entries != 12 || rep.Redacted != 6 || signed.Manifest.Redacted != 6 || rep.Shops != 1 {
		t.Fatalf("report %+v, manifest redacted %d", rep, signed.Manifest.Redacted)
	}
	if strings.Contains(string(b), "sub_0") || strings.Contains(string(b), "b.myshopify.com") {
		t.Fatal("the export shows another subject or shop")
	}
	// Blanking one of sub_1's rows is caught by the signed redaction count.
	ls := lines(b)
	for i := 1; i < len(ls); i++ {
		if strings.Contains(ls[i], "sub_1") {
			f := strings.Split(strings.TrimSpace(ls[i]), ",")
			ls[i] = fmt.Sprintf(",%s,,,,,,,,,%s,%s\n", f[1], f[10], f[11])
			break
		}
	}
	wantFinding(t, "subject row blanked", join(ls), &signed, nil, 0, "blanked out")
	if _, err := registry.Export(context.Background(), db.DB, &bytes.Buffer{}, registry.FormatCSV, registry.Filter{Subject: "sub_1"}, s, "ex", nil); err == nil {
		t.Fatal("subject filter without a shop accepted")
	}
}

func TestExport_SinceUntilIsAContiguousSegment(t *testing.T) {
	db, _ := storetest.New(t)
	seed(t, db, []string{"a.myshopify.com"}, 10)
	s := signer(t)
	b, signed := export(t, db, registry.FormatJSONL, registry.Filter{Since: t0.Add(3 * time.Minute), Until: t0.Add(7 * time.Minute)}, s)
	rep, err := registry.Verify(bytes.NewReader(b), &signed, nil)
	if err != nil || rep.Entries != 4 {
		t.Fatalf("segment: %+v, %v", rep, err)
	}
	seg := signed.Manifest.Segments[0]
	if seg.FromSeq != 4 || seg.ToSeq != 7 || seg.FirstPrevHash == registry.GenesisHash || seg.LastHash == seg.HeadAtExport {
		t.Fatalf("segment %+v", seg)
	}
	// Without the manifest a mid-chain segment cannot be anchored, and says so.
	if _, err := registry.Verify(bytes.NewReader(b), nil, nil); err == nil {
		t.Fatal("an unanchored segment verified without its manifest")
	}
	if _, err := registry.Export(context.Background(), db.DB, &bytes.Buffer{}, "xml", registry.Filter{}, s, "ex", nil); err == nil {
		t.Fatal("unknown format accepted")
	}
}

// seedTwoChains appends n entries to shop a, every third one a retention
// deletion (the shop's retention chain), the rest to its main chain, one
// minute apart.
func seedTwoChains(t *testing.T, db *store.DB, n int) (retention []int) {
	t.Helper()
	for i := 0; i < n; i++ {
		e := entry(fmt.Sprintf("rq_%d", i))
		if i%3 == 1 {
			e.Action, e.Purpose, e.LegalBasis = registry.ActionDeleted, registry.PurposeRetention, registry.BasisLegalObligation
			retention = append(retention, i)
		}
		appendAt(t, db, e, t0.Add(time.Duration(i)*time.Minute))
	}
	return retention
}

func TestExport_RetentionChainVerifiesBesideTheMainChain(t *testing.T) {
	db, _ := storetest.New(t)
	ret := seedTwoChains(t, db, 12) // retention: entries 1, 4, 7, 10
	s := signer(t)
	b, signed := export(t, db, registry.FormatCSV, registry.Filter{}, s)
	rep, err := registry.Verify(bytes.NewReader(b), &signed, nil)
	if err != nil || rep.Entries != 12 || rep.Shops != 1 || rep.Chains != 2 {
		t.Fatalf("intact export: %+v, %v", rep, err)
	}
	segs := signed.Manifest.Segments
	if len(segs) != 2 || segs[0].Chain != registry.ChainMain || segs[0].ToSeq != 8 ||
		segs[1].Chain != registry.ChainRetention || segs[1].ToSeq != 4 || segs[1].FirstPrevHash != registry.GenesisHash {
		t.Fatalf("segments %+v", segs)
	}
	// Entry k is on line k+2 (a header, then 1-based lines).
	ls := lines(b)
	at := func(k int) int64 { return int64(k + 2) }

	deleted := append(append([]string{}, ls[:1+ret[1]]...), ls[1+ret[1]+1:]...)
	wantFinding(t, "retention row deleted", join(deleted), &signed, nil, at(ret[2]-1), "deleted, inserted or moved")

	dropFirst := append(append([]string{}, ls[:1+ret[0]]...), ls[1+ret[0]+1:]...)
	wantFinding(t, "first retention row deleted", join(dropFirst), &signed, nil, at(ret[1]-1), "deleted, inserted or moved")

	// Entry 10 is the retention chain's last; 11 is the main chain's.
	noRetentionTail := append(append([]string{}, ls[:1+10]...), ls[1+11])
	wantFinding(t, "retention chain cut short", join(noRetentionTail), &signed, nil, at(ret[2])+1, "ends before the signed end")

	noRetention := []string{ls[0]}
	for i := 0; i < 12; i++ {
		if i%3 != 1 {
			noRetention = append(noRetention, ls[1+i])
		}
	}
	wantFinding(t, "retention chain removed", join(noRetention), &signed, nil, int64(len(noRetention)+1), "retention chain's entries are missing")

	modified := append([]string{}, ls...)
	modified[1+ret[2]] = strings.Replace(modified[1+ret[2]], "deleted", "stored", 1)
	wantFinding(t, "retention row modified", join(modified), &signed, nil, at(ret[2]), "modified")

	// Moving a row across chains keeps both chains linked; the signed
	// digest still catches it.
	moved := append([]string{}, ls...)
	moved[1+0], moved[1+1] = moved[1+1], moved[1+0]
	wantFinding(t, "rows of two chains swapped", join(moved), &signed, nil, 0, "differs from what was signed")

	// Without a manifest each chain still links from the genesis hash.
	if rep, err := registry.Verify(bytes.NewReader(b), nil, nil); err != nil || rep.Entries != 12 {
		t.Fatalf("verify without manifest: %+v, %v", rep, err)
	}
	es, err := registry.Entries(context.Background(), db, "")
	if err != nil || registry.VerifyChain(es) != -1 {
		t.Fatalf("VerifyChain over both chains: %v", err)
	}

	// A time window cuts each chain to its own segment: entries 3..8 hold
	// main 3, 5, 6, 8 and retention 4, 7.
	b, signed = export(t, db, registry.FormatJSONL, registry.Filter{Since: t0.Add(3 * time.Minute), Until: t0.Add(9 * time.Minute)}, s)
	if rep, err := registry.Verify(bytes.NewReader(b), &signed, nil); err != nil || rep.Entries != 6 {
		t.Fatalf("window: %+v, %v", rep, err)
	}
	if segs := signed.Manifest.Segments; len(segs) != 2 || segs[0].FromSeq != 3 || segs[0].ToSeq != 6 || segs[1].FromSeq != 2 || segs[1].ToSeq != 3 {
		t.Fatalf("window segments %+v", segs)
	}
}
