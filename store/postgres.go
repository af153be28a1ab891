// Package store is Candor's Postgres layer: connection, embedded migrations,
// and the queries for shops, review requests, webhook dedupe and
// suppressions.
//
// It stores no email address, name, postal address, phone number or price:
// customers appear only as pseudonyms, and secrets only sealed.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the handle every query goes through.
type DB struct {
	*sqlx.DB
}

// Open connects and checks the connection. Unless the URL says otherwise,
// parameters go in binary_parameters mode, which saves a round trip per
// parameterised query (lib/pq otherwise prepares each one first); that
// matters inside the registry's locked section. In that mode a []byte
// argument is sent as binary, so JSON goes in as a string.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := sqlx.Open("postgres", withBinaryParameters(url))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &DB{db}, nil
}

// Migrate applies the embedded migrations that are not yet applied, each in
// its own transaction, under an advisory lock so two processes cannot race.
// It returns the versions it applied.
//
// A migration's version is its file's number, and schema_migrations records
// the versions applied. Versions need not be consecutive: there is no 0008
// (numbers go to parallel branches, and not every branch used its own), and
// a gap is left as it is, because renaming a file gives it a version that
// existing installs have not applied, so it would run there a second time.
// A file whose number is below one already applied still runs, once, in
// number order with the others that are new.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []int
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return applied, fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return applied, err
		}
		did := false
		err = db.InTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7233001)`); err != nil {
				return err
			}
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM schema_migrations WHERE version = $1`, v); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", base, err)
		}
		if did {
			applied = append(applied, v)
		}
	}
	return applied, nil
}

func withBinaryParameters(url string) string {
	if strings.Contains(url, "binary_parameters") {
		return url
	}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		if strings.Contains(url, "?") {
			return url + "&binary_parameters=yes"
		}
		return url + "?binary_parameters=yes"
	}
	return url + " binary_parameters=yes"
}

// InTx runs fn in a transaction, committing if it returns nil.
func (db *DB) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return runTx(ctx, db.BeginTxx, fn)
}

func runTx(ctx context.Context, begin func(context.Context, *sql.TxOptions) (*sqlx.Tx, error), fn func(tx *sqlx.Tx) error) error {
	tx, err := begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// AsyncConn is one connection whose commits do not wait for their WAL to
// reach the disk (synchronous_commit = off for its session), for bulk work
// that redoes its last batches after a crash: the retention sweep. A crash
// can lose only whole transactions, never part of one. Its lock waits end
// in an error after lockTimeout, so bulk work never queues behind a stuck
// transaction for long. Close resets the settings before the pool reuses
// the connection, or discards it.
type AsyncConn struct{ c *sqlx.Conn }

// AsyncConn takes a connection out of the pool for asynchronous commits.
func (db *DB) AsyncConn(ctx context.Context, lockTimeout time.Duration) (*AsyncConn, error) {
	c, err := db.Connx(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf(`SET synchronous_commit = off; SET lock_timeout = %d`, lockTimeout.Milliseconds())); err != nil {
		_ = c.Close()
		return nil, err
	}
	return &AsyncConn{c}, nil
}

// InTx runs fn in a transaction on the connection, as DB.InTx does.
func (a *AsyncConn) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return runTx(ctx, a.c.BeginTxx, fn)
}

// Close gives the connection back with synchronous commits and unbounded
// lock waits again. If they cannot be restored, the connection is closed
// instead: no other caller may get one that loses its commits in a crash.
func (a *AsyncConn) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.c.ExecContext(ctx, `RESET ALL`); err != nil {
		_ = a.c.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = a.c.Close()
}

// ErrNotFound is returned when a row that was asked for does not exist.
var ErrNotFound = errors.New("not found")

// IsUniqueViolation reports a unique-constraint conflict (SQLSTATE 23505).
func IsUniqueViolation(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505"
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
