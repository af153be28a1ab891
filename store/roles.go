package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Two database roles (docs/security.md): the owner, which `candor migrate`
// uses and which owns every table, and the app role, which `serve` and
// `worker` use. The app role may append to the registry and the access log
// but never change or remove what they hold: it has no UPDATE, DELETE or
// TRUNCATE on them, and ALTER (or turning their triggers off) is the
// owner's alone. Retention never deletes registry rows (docs/retention.md),
// so the app role needs nothing more.

// appendOnly are the tables the app role may only read and append to.
var appendOnly = []string{"registry_entries", "access_log", "registry_checkpoints"}

// headTables move forward on every append: no DELETE or TRUNCATE. A head
// moved by hand breaks the next entry's link, which verify finds.
var headTables = []string{"registry_heads"}

// ErrOwnerAsApp: the app role given to GrantApp is the owner or a
// superuser, so no grant could restrict it.
var ErrOwnerAsApp = errors.New("the app role must be neither the tables' owner nor a superuser")

// GrantApp gives role what `serve` and `worker` need on every table, and no
// more on the registry's: run as the owner after migrations (each
// `candor migrate`), so tables a migration adds are covered.
func (db *DB) GrantApp(ctx context.Context, role string) error {
	var super, owner bool
	err := db.QueryRowContext(ctx, `SELECT r.rolsuper, r.rolname = current_user FROM pg_roles r WHERE r.rolname = $1`, role).Scan(&super, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("app role %q does not exist (CREATE ROLE %s LOGIN PASSWORD '…', as the owner)", role, pq.QuoteIdentifier(role))
	}
	if err != nil {
		return fmt.Errorf("read app role: %w", err)
	}
	if super || owner {
		return fmt.Errorf("app role %q: %w", role, ErrOwnerAsApp)
	}
	r := pq.QuoteIdentifier(role)
	stmts := []string{
		`GRANT USAGE ON SCHEMA public TO ` + r,
		`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ` + r,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + r,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + r,
		`REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM ` + r,
	}
	for _, t := range appendOnly {
		stmts = append(stmts, `REVOKE UPDATE, DELETE ON `+t+` FROM `+r)
	}
	for _, t := range headTables {
		stmts = append(stmts, `REVOKE DELETE ON `+t+` FROM `+r)
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("grant app role: %s: %w", s, err)
			}
		}
		return nil
	})
}

// EnsureAppRole creates role (LOGIN) if it is missing, gives it a new
// random password, and returns ownerURL with that user and password: for
// `candor dev`, which runs both roles on a database it administers.
func (db *DB) EnsureAppRole(ctx context.Context, ownerURL, role string) (string, error) {
	u, err := url.Parse(ownerURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("the database URL must be a postgres:// URL to derive the app role's")
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(b)
	r := pq.QuoteIdentifier(role)
	// A role is cluster-wide; two dev runs creating it at once must not fail.
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7233002)`); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, role); err != nil {
			return err
		}
		if n == 0 {
			if _, err := tx.ExecContext(ctx, `CREATE ROLE `+r+` LOGIN`); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `ALTER ROLE `+r+` LOGIN PASSWORD `+pq.QuoteLiteral(pw))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create app role %s: %w", role, err)
	}
	u.User = url.UserPassword(role, pw)
	return u.String(), nil
}

// URLUser is the user a postgres:// URL names ("" if none or not a URL).
func URLUser(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return ""
	}
	return u.User.Username()
}
