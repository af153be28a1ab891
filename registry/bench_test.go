package registry_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/candorhq/candor/prodenv"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// Benchmarks for the registry issue. Run them with
//
//	go test -run '^$' -bench . -benchtime 1x ./registry/
//
// (the 1M-entry ones seed once per run, which takes a while).

const benchShops = 8

func benchEntry(shop string, i int) registry.Entry {
	return registry.Entry{Shop: shop, Subject: fmt.Sprintf("sub_%08d", i%50000), Datum: registry.DatumEmail,
		System: registry.SystemSendGrid, Action: registry.ActionTransmitted, Purpose: registry.PurposeReviewRequest,
		LegalBasis: registry.BasisConsent, ExpiresAt: time.Now().Add(30 * 24 * time.Hour), Ref: fmt.Sprintf("rq_%08d", i)}
}

// appendLoad runs total appends in batches of batch entries per transaction
// from workers goroutines, each on its own shop.
func appendLoad(b *testing.B, db *store.DB, total, batch, workers int, insert func(ctx context.Context, tx *sqlx.Tx, es []registry.Entry) error) {
	var wg sync.WaitGroup
	per := total / workers
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			shop := fmt.Sprintf("bench%d.myshopify.com", w)
			ctx := context.Background()
			for done := 0; done < per; done += batch {
				es := make([]registry.Entry, min(batch, per-done))
				for i := range es {
					es[i] = benchEntry(shop, done+i)
					es[i].At, es[i].ShopSeq = time.Now(), int64(done+i+1)
				}
				if err := db.InTx(ctx, func(tx *sqlx.Tx) error { return insert(ctx, tx, es) }); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	b.ReportMetric(float64(per*workers)/b.Elapsed().Seconds(), "entries/s")
}

func registryAppend(ctx context.Context, tx *sqlx.Tx, es []registry.Entry) error {
	_, err := registry.Append(ctx, tx, time.Now(), es...)
	return err
}

// plainInsert is the baseline: the same rows, batched the same way, into a
// plain table with no chain, no lock and no hashing.
func plainInsert(ctx context.Context, tx *sqlx.Tx, es []registry.Entry) error {
	_, err := tx.NamedExecContext(ctx, `INSERT INTO plain_entries
		(shop_seq, at, shop, subject, datum, system, action, purpose, legal_basis, expires_at, ref, prev_hash, hash)
		VALUES (:shop_seq, :at, :shop, :subject, :datum, :system, :action, :purpose, :legal_basis, :expires_at, :ref, :prev_hash, :hash)`, es)
	return err
}

func benchAppends(b *testing.B, batch, workers int) {
	for _, impl := range []struct {
		name string
		fn   func(context.Context, *sqlx.Tx, []registry.Entry) error
	}{{"registry", registryAppend}, {"baseline_plain_insert", plainInsert}} {
		b.Run(impl.name, func(b *testing.B) {
			db, _ := storetest.New(b)
			if _, err := db.Exec(`CREATE TABLE plain_entries (LIKE registry_entries INCLUDING DEFAULTS)`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			appendLoad(b, db, 50000*b.N, batch, workers, impl.fn)
		})
	}
}

// BenchmarkAppend_Batched100x4: 100 entries per transaction, 4 writers.
func BenchmarkAppend_Batched100x4(b *testing.B) { benchAppends(b, 100, 4) }

// BenchmarkAppend_Single x8: one entry per transaction (a webhook's worth),
// 8 writers: the latency-bound case.
func BenchmarkAppend_Single8(b *testing.B) {
	for _, impl := range []struct {
		name string
		fn   func(context.Context, *sqlx.Tx, []registry.Entry) error
	}{{"registry", registryAppend}, {"baseline_plain_insert", plainInsert}} {
		b.Run(impl.name, func(b *testing.B) {
			db, _ := storetest.New(b)
			if _, err := db.Exec(`CREATE TABLE plain_entries (LIKE registry_entries INCLUDING DEFAULTS)`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			appendLoad(b, db, 8000*b.N, 1, 8, impl.fn)
		})
	}
}

var (
	millionOnce sync.Once
	millionDB   *store.DB
	millionDrop func()
	millionErr  error
	scaleDrop   func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, drop := range []func(){millionDrop, scaleDrop} {
		if drop != nil {
			drop()
		}
	}
	os.Exit(code)
}

// million seeds 1,000,000 valid entries over benchShops shop chains with
// COPY, once per run. The database lives for the whole run.
func million(b *testing.B) *store.DB {
	millionOnce.Do(func() {
		// Shared by the export and verify benchmarks; TestMain drops it.
		millionDB, millionErr = seedMillion(b)
	})
	if millionErr != nil {
		b.Fatal(millionErr)
	}
	return millionDB
}

func seedMillion(tb testing.TB) (*store.DB, error) {
	ctx := context.Background()
	db, _, drop, err := storetest.Create(ctx)
	if err != nil {
		return nil, err
	}
	millionDrop = drop
	txn, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	stmt, err := txn.Prepare(pq.CopyIn("registry_entries", "shop_seq", "at", "shop", "subject", "datum", "system", "action",
		"purpose", "legal_basis", "expires_at", "ref", "prev_hash", "hash"))
	if err != nil {
		return nil, err
	}
	heads := map[string]string{}
	seqs := map[string]int64{}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 1_000_000; i++ {
		shop := fmt.Sprintf("shop%d.myshopify.com", i%benchShops)
		e := benchEntry(shop, i)
		e.At = base.Add(time.Duration(i) * time.Second)
		e.ExpiresAt = e.At.Add(30 * 24 * time.Hour)
		prev, ok := heads[shop]
		if !ok {
			prev = registry.GenesisHash
		}
		seqs[shop]++
		e.PrevHash, e.ShopSeq = prev, seqs[shop]
		e.Hash = registry.ComputeHash(prev, e)
		heads[shop] = e.Hash
		if _, err := stmt.Exec(e.ShopSeq, e.At, e.Shop, e.Subject, e.Datum, e.System, e.Action, e.Purpose, e.LegalBasis, e.ExpiresAt, e.Ref, e.PrevHash, e.Hash); err != nil {
			return nil, err
		}
	}
	if _, err := stmt.Exec(); err != nil {
		return nil, err
	}
	for shop, h := range heads {
		if _, err := txn.Exec(`INSERT INTO registry_heads (shop, seq, hash) VALUES ($1, $2, $3)`, shop, seqs[shop], h); err != nil {
			return nil, err
		}
	}
	if err := txn.Commit(); err != nil {
		return nil, err
	}
	_, err = db.Exec(`VACUUM ANALYZE registry_entries`)
	return db, err
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkExportCSV_1M and its baseline, COPY ... TO STDOUT of the same
// rows, run side by side on the same database.
func BenchmarkExportCSV_1M(b *testing.B) {
	db := million(b)
	_, key, _ := ed25519.GenerateKey(nil)
	b.Run("registry_export", func(b *testing.B) {
		runtime.GC()
		resetPeakRSS(b)
		for i := 0; i < b.N; i++ {
			var w countingWriter
			m, err := registry.Export(context.Background(), db.DB, &w, registry.FormatCSV, registry.Filter{},
				registry.Signer{KeyID: "b", Key: key}, "ex_bench", nil)
			if err != nil || m.Manifest.Lines != 1_000_000 {
				b.Fatalf("%v, %d lines", err, m.Manifest.Lines)
			}
			b.ReportMetric(float64(w.n)/1e6, "MB")
		}
		b.ReportMetric(1_000_000*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		b.ReportMetric(peakRSSMB(b), "peak_rss_MB")
	})
	b.Run("baseline_copy_to_stdout", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n, err := copyOut(db)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/1e6, "MB")
		}
		b.ReportMetric(1_000_000*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// copyOut runs COPY (...) TO STDOUT WITH CSV through psql, the way an
// operator would dump the table, and counts the bytes.
func copyOut(db *store.DB) (int64, error) {
	var name string
	if err := db.Get(&name, `SELECT current_database()`); err != nil {
		return 0, err
	}
	url := storetest.ServerURL()
	cmd := psqlCopy(url, name, `COPY (SELECT at, shop, subject, datum, system, action, purpose, legal_basis, expires_at, ref, prev_hash, hash
		FROM registry_entries ORDER BY seq) TO STDOUT WITH (FORMAT csv, HEADER)`)
	var w countingWriter
	cmd.Stdout = &w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("psql: %v: %s", err, stderr.String())
	}
	return w.n, nil
}

// BenchmarkVerify_1M verifies an export of the million entries.
func BenchmarkVerify_1M(b *testing.B) {
	db := million(b)
	_, key, _ := ed25519.GenerateKey(nil)
	f, err := os.CreateTemp("", "candor-verify-*.csv")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	signed, err := registry.Export(context.Background(), db.DB, f, registry.FormatCSV, registry.Filter{},
		registry.Signer{KeyID: "b", Key: key}, "ex_bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	resetPeakRSS(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		rep, err := registry.Verify(f, &signed, key.Public().(ed25519.PublicKey))
		if err != nil || rep.Entries != 1_000_000 {
			b.Fatalf("%v, %d entries", err, rep.Entries)
		}
	}
	b.ReportMetric(1_000_000*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(peakRSSMB(b), "peak_rss_MB")
}

func psqlCopy(url, dbname, query string) *exec.Cmd {
	u, _ := neturl.Parse(url)
	u.Path = "/" + dbname
	return exec.Command("psql", u.String(), "-X", "-q", "-c", query)
}

// resetPeakRSS restarts the kernel's peak-RSS count for this process, so
// peakRSSMB reports the peak of what ran since.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset peak RSS (%v); the figure includes earlier work", err)
	}
}

func peakRSSMB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// The registry at scale: 10 million entries of 1,000 shops, interleaved as
// webhooks of many shops arrive. Run with
//
//	go test -run '^$' -bench '10M' -benchtime 1x -timeout 2h ./registry/
//
// Seeding takes minutes (one INSERT … SELECT from generate_series, then the
// indexes); the database lives for the run.
const (
	scaleShops   = 1000
	scalePerShop = 10_000
	scaleShop    = "s500.myshopify.com" // seedInterleaved's names
)

var (
	tenMillionOnce sync.Once
	tenMillionDB   *store.DB
	tenMillionErr  error
)

func tenMillion(b *testing.B) *store.DB {
	tenMillionOnce.Do(func() {
		ctx := context.Background()
		db, _, drop, err := storetest.Create(ctx)
		if err != nil {
			tenMillionErr = err
			return
		}
		scaleDrop = drop
		// Every secondary index is built after the load rather than kept
		// up to date row by row: the same indexes, made in a fraction of
		// the time.
		var defs []string
		if err := db.Select(&defs, `SELECT indexdef FROM pg_indexes WHERE tablename = 'registry_entries'
			AND indexname NOT LIKE '%pkey%'`); err != nil {
			tenMillionErr = err
			return
		}
		if _, err := db.Exec(`ALTER TABLE registry_entries DROP CONSTRAINT registry_entries_chain_seq`); err != nil {
			tenMillionErr = err
			return
		}
		for _, name := range []string{"registry_entries_subject", "registry_entries_ref", "registry_entries_at"} {
			if _, err := db.Exec(`DROP INDEX IF EXISTS ` + name); err != nil {
				tenMillionErr = err
				return
			}
		}
		seedInterleaved(b, db, scaleShops, scalePerShop)
		if _, err := db.Exec(`SET maintenance_work_mem = '512MB'`); err != nil {
			tenMillionErr = err
			return
		}
		for _, def := range defs {
			if _, err := db.Exec(def); err != nil {
				tenMillionErr = fmt.Errorf("%s: %w", def, err)
				return
			}
		}
		_, tenMillionErr = db.Exec(`VACUUM ANALYZE registry_entries`)
		tenMillionDB = db
	})
	if tenMillionErr != nil {
		b.Fatal(tenMillionErr)
	}
	return tenMillionDB
}

// BenchmarkExportOneShop_10M exports one shop's 10,000 entries out of the
// 10 million, twice (the first read is from disk), against COPY of the
// same rows.
func BenchmarkExportOneShop_10M(b *testing.B) {
	db := tenMillion(b)
	_, key, _ := ed25519.GenerateKey(nil)
	export := func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var w countingWriter
			m, err := registry.Export(context.Background(), db.DB, &w, registry.FormatCSV, registry.Filter{Shop: scaleShop},
				registry.Signer{KeyID: "b", Key: key}, "ex_bench", nil)
			if err != nil || m.Manifest.Lines != scalePerShop {
				b.Fatalf("%v, %d lines", err, m.Manifest.Lines)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/export")
	}
	b.Run("registry_export", export)
	b.Run("registry_export_again", export)
	b.Run("baseline_copy_to_stdout", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n, err := copyQuery(db, `COPY (SELECT at, shop, subject, datum, system, action, purpose, legal_basis, expires_at, ref, prev_hash, hash
				FROM registry_entries WHERE shop = '`+scaleShop+`' ORDER BY seq) TO STDOUT WITH (FORMAT csv, HEADER)`)
			if err != nil || n < scalePerShop*100 {
				b.Fatalf("%v, %d bytes", err, n)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/export")
	})
}

// BenchmarkIntakeDuringAllShopsExport_10M measures how long a webhook's
// registry append takes (one entry, one transaction, four writers on random
// shops) while nothing else runs, while an auditor exports all 10 million
// entries of every shop (recording the read as RecordAccess does, then
// streaming), and while the read is recorded in one transaction for every
// shop, as RecordAccess did before it batched.
func BenchmarkIntakeDuringAllShopsExport_10M(b *testing.B) {
	db := tenMillion(b)
	_, key, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	shops, err := registry.ShopsInScope(ctx, db, registry.Filter{})
	if err != nil || len(shops) != scaleShops {
		b.Fatalf("%v, %d shops", err, len(shops))
	}
	b.Run("idle", func(b *testing.B) {
		intakeDuring(b, db, func() error { time.Sleep(10 * time.Second); return nil })
	})
	b.Run("all_shops_export", func(b *testing.B) {
		intakeDuring(b, db, func() error {
			if err := registry.RecordAccess(ctx, db.DB, registry.Access{Principal: "cli:bench", What: registry.AccessExport, Shops: shops, Ref: "ex_all"}, time.Now()); err != nil {
				return err
			}
			var w countingWriter
			m, err := registry.Export(ctx, db.DB, &w, registry.FormatCSV, registry.Filter{},
				registry.Signer{KeyID: "b", Key: key}, "ex_all", nil)
			if err == nil && m.Manifest.Lines < scaleShops*scalePerShop {
				err = fmt.Errorf("%d lines", m.Manifest.Lines)
			}
			return err
		})
	})
	b.Run("before_record_every_shop_in_one_tx", func(b *testing.B) {
		intakeDuring(b, db, func() error {
			for i := 0; i < 5; i++ { // five exports' records
				es := make([]registry.Entry, len(shops))
				for j, s := range shops {
					es[j] = registry.Entry{Shop: s, Datum: registry.DatumPseudonym, System: registry.SystemPostgres,
						Action: registry.ActionRead, Purpose: registry.PurposeAudit, LegalBasis: registry.BasisLegalObligation,
						ExpiresAt: time.Now(), Ref: fmt.Sprintf("ex_one_tx_%d", i)}
				}
				if err := db.InTx(ctx, func(tx *sqlx.Tx) error { _, err := registry.Append(ctx, tx, time.Now(), es...); return err }); err != nil {
					return err
				}
				time.Sleep(time.Second)
			}
			return nil
		})
	})
}

// intakeDuring runs webhook-sized appends from four writers until work
// returns, and reports their latency.
func intakeDuring(b *testing.B, db *store.DB, work func() error) {
	ctx := context.Background()
	stop := make(chan struct{})
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := benchEntry(fmt.Sprintf("s%d.myshopify.com", (i*7919+w*131)%scaleShops), i)
				e.Ref = fmt.Sprintf("rq_intake_%d_%d", w, i)
				start := time.Now()
				if err := db.InTx(ctx, func(tx *sqlx.Tx) error { _, err := registry.Append(ctx, tx, time.Now(), e); return err }); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // webhooks arrive, they do not queue
			}
		}(w)
	}
	err := work()
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no appends")
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat)), "appends")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50_ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99_ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max_ms")
}

// copyQuery runs a COPY … TO STDOUT through psql and counts the bytes.
func copyQuery(db *store.DB, query string) (int64, error) {
	var name string
	if err := db.Get(&name, `SELECT current_database()`); err != nil {
		return 0, err
	}
	cmd := psqlCopy(storetest.ServerURL(), name, query)
	var w countingWriter
	cmd.Stdout = &w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("psql: %v: %s", err, stderr.String())
	}
	return w.n, nil
}

// BenchmarkAppend_WebhookBatch appends what the webhook recorder commits:
// batches of 1 delivery (a quiet moment) and of 8 (load), each of another shop (of 50), each
// five entries and one once-touch, from 2 writers, on a registry seeded
// with 60,000 entries. "per_chain" appends the same batch shop by shop in
// the same transaction: the statements the append made per chain before
// it took every chain at once. It reports the Postgres backends' CPU per
// delivery beside the wall time.
//
//	go test -run '^$' -bench Append_WebhookBatch -benchtime 400x -count 3 ./registry/
func BenchmarkAppend_WebhookBatch(b *testing.B) {
	for _, perBatch := range []int{1, 8} {
		b.Run(fmt.Sprintf("deliveries=%d", perBatch), func(b *testing.B) { benchWebhookBatch(b, perBatch) })
	}
}

func benchWebhookBatch(b *testing.B, perBatch int) {
	const shops, writers = 50, 2
	db, _ := storetest.New(b)
	ctx := context.Background()
	var name string
	if err := db.Get(&name, `SELECT current_database()`); err != nil {
		b.Fatal(err)
	}
	seed := make([]registry.Entry, 0, 60000)
	for i := range 60000 {
		seed = append(seed, benchEntry(fmt.Sprintf("wb%02d.myshopify.com", i%shops), 10_000_000+i))
	}
	for from := 0; from < len(seed); from += 5000 {
		if err := db.InTx(ctx, func(tx *sqlx.Tx) error { return registryAppend(ctx, tx, seed[from:from+5000]) }); err != nil {
			b.Fatal(err)
		}
	}
	delivery := func(n int) (entries, once []registry.Entry) {
		shop := fmt.Sprintf("wb%02d.myshopify.com", n%shops)
		ref := fmt.Sprintf("rq_wb_%d_%d", time.Now().UnixNano(), n)
		for _, d := range []string{registry.DatumEmail, registry.DatumName, registry.DatumAddress, registry.DatumPhone, registry.DatumCustomerID} {
			e := benchEntry(shop, n)
			e.Datum, e.System, e.Action, e.Ref = d, registry.SystemCandor, registry.ActionCollected, ref
			entries = append(entries, e)
		}
		o := benchEntry(shop, n)
		o.System, o.Action, o.Ref = registry.SystemTemporal, registry.ActionStored, ref
		return entries, []registry.Entry{o}
	}
	for _, impl := range []struct {
		name     string
		perChain bool
	}{{"all_chains", false}, {"per_chain", true}} {
		b.Run(impl.name, func(b *testing.B) {
			pg0, err := prodenv.PostgresCPU(db.DB, name)
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for {
						first := int(next.Add(int64(perBatch))) - perBatch
						if first >= b.N*perBatch {
							return
						}
						var entries, once [][]registry.Entry
						for n := first; n < first+perBatch; n++ {
							e, o := delivery(n)
							entries, once = append(entries, e), append(once, o)
						}
						err := db.InTx(ctx, func(tx *sqlx.Tx) error {
							if !impl.perChain {
								_, err := registry.AppendWithOnce(ctx, tx, time.Now(), slices.Concat(entries...), slices.Concat(once...))
								return err
							}
							// Shop by shop: three statements each.
							for i := range entries {
								if _, err := registry.AppendWithOnce(ctx, tx, time.Now(), entries[i], once[i]); err != nil {
									return err
								}
							}
							return nil
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			pg, err := prodenv.PostgresCPU(db.DB, name)
			if err != nil {
				b.Fatal(err)
			}
			deliveries := float64(b.N * perBatch)
			b.ReportMetric(float64((pg-pg0).Microseconds())/deliveries, "pg_cpu_µs/delivery")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/deliveries, "µs/delivery")
		})
	}
}
