// Package storetest gives each test run its own fresh, migrated Postgres
// database on the server named by DATABASE_URL (default: the local server on
// 127.0.0.1:5432), and drops it afterwards.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the postgres driver

	"github.com/candorhq/candor/store"
)

// ServerURL is the Postgres server tests use.
func ServerURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// New creates a fresh database, migrates it, and returns it with its URL.
// The database is dropped when the test ends.
func New(tb testing.TB) (*store.DB, string) {
	tb.Helper()
	db, url, drop, err := Create(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(drop)
	return db, url
}

// Create makes a fresh, migrated database for callers that outlive one test
// (a TestMain); drop removes it.
func Create(ctx context.Context) (db *store.DB, url string, drop func(), err error) {
	admin, err := sqlx.Open("postgres", ServerURL())
	if err != nil {
		return nil, "", nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, "", nil, fmt.Errorf("postgres is not reachable at %s (start it, or set DATABASE_URL): %w", redact(ServerURL()), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "candor_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		return nil, "", nil, fmt.Errorf("create database: %w", err)
	}
	u, _ := neturl.Parse(ServerURL())
	u.Path = "/" + name
	drop = func() {
		if db != nil {
			db.Close()
		}
		_, _ = admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		admin.Close()
	}
	if db, err = store.Open(ctx, u.String()); err != nil {
		drop()
		return nil, "", nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		drop()
		return nil, "", nil, fmt.Errorf("migrate: %w", err)
	}
	return db, u.String(), drop, nil
}

func redact(s string) string {
	u, err := neturl.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
