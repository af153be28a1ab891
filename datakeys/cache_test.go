package datakeys_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/lib/pq"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// seedKeys stores n request keys wrapped under r in one statement and
// returns their owners and IDs.
func seedKeys(t testing.TB, db *store.DB, r *keys.Ring, n int) (owners, ids []string) {
	t.Helper()
	owners, ids = make([]string, n), make([]string, n)
	wrapped := make([]string, n)
	for i := range owners {
		owners[i] = fmt.Sprintf("rq_%06d", i)
		dk, err := keys.NewDataKey()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = dk.ID
		if wrapped[i], err = r.WrapDataKey(dk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO data_keys (id, shop, owner, wrapped)
		SELECT u.id, $1, u.owner, u.wrapped FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, owner, wrapped)`,
		shop, pq.Array(ids), pq.Array(owners), pq.Array(wrapped)); err != nil {
		t.Fatal(err)
	}
	return owners, ids
}

// ownConnection is a process whose database can be closed, to see what its
// cache serves without Postgres.
func ownConnection(t *testing.T, url string, r *keys.Ring) (*store.DB, *datakeys.Keys) {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, datakeys.New(db, r)
}

func TestKeys_MoreThanTenThousandLiveRequestsStayCached(t *testing.T) {
	db, url := storetest.New(t)
	ctx := context.Background()
	r := process(t, db, master(1)).Ring()
	_, ids := seedKeys(t, db, r, 12_000)
	own, k := ownConnection(t, url, r)
	for _, id := range ids {
		if _, err := k.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	own.Close()
	missed := 0
	for _, id := range ids {
		if _, err := k.Get(ctx, id); err != nil {
			missed++
		}
	}
	if missed > 0 {
		t.Fatalf("%d of %d keys had left the cache", missed, len(ids))
	}
}

func TestKeys_TheCacheIsBoundedAndDropsTheLeastRecentlyUsed(t *testing.T) {
	db, url := storetest.New(t)
	ctx := context.Background()
	r := process(t, db, master(1)).Ring()
	owners, _ := seedKeys(t, db, r, 4)
	own, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	k := datakeys.NewWithCacheSize(own, r, 3)
	for _, o := range []string{owners[0], owners[1], owners[2], owners[0], owners[3]} {
		if _, err := k.For(ctx, shop, o); err != nil {
			t.Fatal(err)
		}
	}
	own.Close()
	for i, o := range owners {
		_, err := k.For(ctx, shop, o)
		if evicted := i == 1; evicted != (err != nil) {
			t.Errorf("%s: evicted %v, lookup without the database: %v", o, evicted, err)
		}
	}
}
