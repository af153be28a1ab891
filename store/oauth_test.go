package store_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

const refreshShop = "refresh-lock.myshopify.com"

func installExpiring(t *testing.T, db *store.DB) {
	t.Helper()
	if _, err := db.InstallShop(context.Background(), store.Install{Domain: refreshShop, TokenSealed: "v1.k.access-0",
		Grant: store.Grant{TokenExpiresAt: time.Now().Add(time.Minute), RefreshTokenSealed: "v1.k.refresh-0"}}); err != nil {
		t.Fatal(err)
	}
}

// waitForLockWaiters waits until n sessions wait on a lock.
func waitForLockWaiters(t *testing.T, db *store.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait on the refresh lock, want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// While Shopify answers a refresh, the shop's row is not locked: a new
// review request for the shop (a foreign key to it) goes in at once. And
// three workers refreshing at once spend the refresh token once: the ones
// that waited see the stored pair.
func TestRefreshToken_InFlightRefreshLocksNoRowAndSpendsTheTokenOnce(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	installExpiring(t, db)

	inFlight, answer := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	refresh := func(cur store.Shop) (store.Install, error) {
		if calls.Add(1) == 1 {
			close(inFlight)
			<-answer // Shopify is slow to answer
		}
		if cur.RefreshTokenSealed != "v1.k.refresh-0" {
			t.Errorf("refresh called with %q", cur.RefreshTokenSealed)
		}
		return store.Install{Domain: refreshShop, TokenSealed: "v1.k.access-1",
			Grant: store.Grant{TokenExpiresAt: time.Now().Add(time.Hour), RefreshTokenSealed: "v1.k.refresh-1"}}, nil
	}
	var wg sync.WaitGroup
	got := make([]store.Shop, 3)
	errs := make([]error, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = db.RefreshToken(ctx, refreshShop, time.Now().Add(5*time.Minute), refresh)
		}()
		if i == 0 {
			<-inFlight
		}
	}
	waitForLockWaiters(t, db, 2)

	insert, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := db.InTx(insert, func(tx *sqlx.Tx) error {
		_, err := store.CreateRequest(insert, tx, store.Request{RequestID: "rq_during_refresh", Shop: refreshShop,
			OrderID: 1, OrderName: "#1001", ExpiresAt: time.Now().Add(time.Hour)}, nil)
		return err
	})
	if err != nil {
		t.Fatalf("insert a review request while the refresh is in flight: %v", err)
	}

	close(answer)
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].TokenSealed != "v1.k.access-1" || got[i].RefreshTokenSealed != "v1.k.refresh-1" {
			t.Errorf("worker %d: %+v, %v", i, got[i].Grant, errs[i])
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("refresh called %d times by 3 workers, want 1", n)
	}
	var held int
	if err := db.Get(&held, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil || held != 0 {
		t.Fatalf("%d advisory locks still held after the refreshes (%v)", held, err)
	}
}

// An uninstall that lands while the refresh is in flight wins: the
// refreshed pair is not stored over the revoked tokens.
func TestRefreshToken_UninstallDuringTheRefreshWins(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	installExpiring(t, db)
	got, err := db.RefreshToken(ctx, refreshShop, time.Now().Add(5*time.Minute), func(store.Shop) (store.Install, error) {
		uninstall, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := db.ExecContext(uninstall, `UPDATE shops SET `+store.RevokeTokensSet+` WHERE domain = $1`, refreshShop); err != nil {
			t.Fatalf("uninstall during the refresh: %v", err)
		}
		return store.Install{Domain: refreshShop, TokenSealed: "v1.k.access-1",
			Grant: store.Grant{TokenExpiresAt: time.Now().Add(time.Hour), RefreshTokenSealed: "v1.k.refresh-1"}}, nil
	})
	if err != nil || got.TokenSealed != "" || got.RefreshTokenSealed != "" {
		t.Fatalf("after an uninstall during the refresh: %+v, %v; want no tokens", got.Grant, err)
	}
}

// A worker that gives up waiting for another's refresh gets a clear error,
// and no lock is left behind by either.
func TestRefreshToken_AWaiterThatGivesUpLeavesNoLock(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	installExpiring(t, db)
	inFlight, answer := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := db.RefreshToken(ctx, refreshShop, time.Now().Add(5*time.Minute), func(store.Shop) (store.Install, error) {
			close(inFlight)
			<-answer
			return store.Install{Domain: refreshShop, TokenSealed: "v1.k.access-1",
				Grant: store.Grant{TokenExpiresAt: time.Now().Add(time.Hour), RefreshTokenSealed: "v1.k.refresh-1"}}, nil
		})
		first <- err
	}()
	<-inFlight
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := db.RefreshToken(short, refreshShop, time.Now().Add(5*time.Minute), func(store.Shop) (store.Install, error) {
		t.Error("the waiter refreshed")
		return store.Install{}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "token refresh lock") {
		t.Fatalf("a waiter out of time: %v", err)
	}
	close(answer)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	var held int
	if err := db.Get(&held, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil || held != 0 {
		t.Fatalf("%d advisory locks held after both returned (%v)", held, err)
	}
}
