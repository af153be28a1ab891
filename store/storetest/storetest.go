// Package storetest gives each test run its own fresh, migrated Postgres
// database on the server named by DATABASE_URL (default: the local server on
// 127.0.0.1:5432), and drops it afterwards.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
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
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", ServerURL())
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	if err := admin.PingContext(ctx); err != nil {
		tb.Fatalf("postgres is not reachable at %s (start it, or set DATABASE_URL): %v", redact(ServerURL()), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "candor_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	u, _ := url.Parse(ServerURL())
	u.Path = "/" + name
	db, err := store.Open(ctx, u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		db.Close()
		_, _ = admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		admin.Close()
	})
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return db, u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
