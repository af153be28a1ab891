package datakeys_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lib/pq"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// liveRequests is the number of review requests whose keys a worker keeps
// asking for: twice the 10,000 at which the cache used to wipe itself.
const liveRequests = 20_000

// BenchmarkFor_20kLiveRequests asks a process for the keys of 20,000 live
// requests in random order, as a worker encoding their activities does.
// It reports the time per lookup and the cache's hit rate afterwards: the
// share of the 20,000 keys the process still serves once its database is
// closed. Run it with
//
//	go test -run '^$' -bench For_20k -benchtime 200000x ./datakeys/
func BenchmarkFor_20kLiveRequests(b *testing.B) {
	ctx := context.Background()
	db, url := storetest.New(b)
	seed := process(b, db, master(1))
	owners := make([]string, liveRequests)
	ids, wrapped := make([]string, liveRequests), make([]string, liveRequests)
	for i := range owners {
		owners[i] = fmt.Sprintf("rq_%06d", i)
		dk, err := keys.NewDataKey()
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = dk.ID
		if wrapped[i], err = seed.Ring().WrapDataKey(dk); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO data_keys (id, shop, owner, wrapped)
		SELECT u.id, $1, u.owner, u.wrapped FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, owner, wrapped)`,
		shop, pq.Array(ids), pq.Array(owners), pq.Array(wrapped)); err != nil {
		b.Fatal(err)
	}
	own, err := store.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	k := datakeys.New(own, seed.Ring())
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.For(ctx, shop, owners[rng.IntN(liveRequests)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	own.Close()
	hits := 0
	for _, o := range owners {
		if _, err := k.For(ctx, shop, o); err == nil {
			hits++
		}
	}
	b.ReportMetric(100*float64(hits)/liveRequests, "%cached")
}
