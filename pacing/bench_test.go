package pacing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/candorhq/candor/pacing"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// BenchmarkTake is the time of one take from a bucket that always holds
// enough (one caller, so no call waits): a Wait that returns at once, and
// an Observe, each one round trip to Postgres. Beside them, in the same
// run: the bare round trip (SELECT 1), and the same take on a connection
// that commits without waiting for its WAL flush (synchronous_commit=off),
// which shows what of a take's time is the flush of its write. Run with
//
//	go test -run '^$' -bench Take -benchtime 2000x -count 3 ./pacing/
func BenchmarkTake(b *testing.B) {
	db, url := storetest.New(b)
	ctx := context.Background()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	// lib/pq sends connection-string keys it does not know to the server
	// as run-time parameters.
	async, err := store.Open(ctx, url+sep+"synchronous_commit=off")
	if err != nil {
		b.Fatal(err)
	}
	defer async.Close()
	var sc string
	if err := async.Get(&sc, `SHOW synchronous_commit`); err != nil || sc != "off" {
		b.Fatalf("synchronous_commit on the async pool: %q (%v)", sc, err)
	}
	never := pacing.Budget{Capacity: 1e12, Rate: 1e12}
	b.Run("wait", func(b *testing.B) {
		l := pacing.New(db.DB)
		for i := 0; i < b.N; i++ {
			if err := l.Wait(ctx, "shopify:bench", 12, never); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("observe", func(b *testing.B) {
		l := pacing.New(db.DB)
		for i := 0; i < b.N; i++ {
			if err := l.Observe(ctx, "shopify:bench", never, 1e9, 193); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wait_async_commit", func(b *testing.B) {
		l := pacing.New(async.DB)
		for i := 0; i < b.N; i++ {
			if err := l.Wait(ctx, "shopify:bench", 12, never); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline_select_1", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := db.ExecContext(ctx, `SELECT 1`); err != nil {
				b.Fatal(err)
			}
		}
	})
}
