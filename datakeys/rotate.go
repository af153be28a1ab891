package datakeys

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
)

// sealedColumn is a column of values sealed under the master key: each is
// re-sealed by Rotate. aad is the SQL expression of the value's binding;
// bind, if set, turns it into the binding the value was sealed with.
type sealedColumn struct {
	what, table, key, column, aad string
	bind                          func(string) string
}

// wrappedKeys are the data keys, each wrapped under the master key and bound
// to its ID.
var wrappedKeys = sealedColumn{what: "data keys", table: "data_keys", key: "id", column: "wrapped", aad: "id", bind: keys.DataKeyAAD}

// Everything sealed directly under the master key. Values sealed under a
// data key (dk_…) are skipped: re-wrapping their data key is enough.
var sealedColumns = []sealedColumn{
	{what: "shop tokens", table: "shops", key: "domain", column: "access_token_sealed", aad: "domain"},
	{what: "shop refresh tokens", table: "shops", key: "domain", column: "refresh_token_sealed", aad: "domain", bind: keys.RefreshTokenAAD},
	{what: "sealed addresses", table: "privacy_requests", key: "id", column: "email_sealed", aad: "id"},
	{what: "login and signing keys", table: "rotating_keys", key: "id", column: "sealed", aad: "purpose", bind: keys.RotatingKeyAAD},
}

// ErrUnknownKey means a value was sealed under a master key the ring does
// not hold: set it in CANDOR_MASTER_KEY_PREVIOUS.
var ErrUnknownKey = errors.New("sealed under a master key that is neither CANDOR_MASTER_KEY nor in CANDOR_MASTER_KEY_PREVIOUS")

// RotateResult counts what a rotation re-sealed and what is left under other
// keys (0 when it is done).
type RotateResult struct {
	DataKeys, Sealed, Identity int
	Left                       map[string]int
}

// Rotate re-wraps every data key, re-seals every master-sealed secret and
// the identity keys under ring's current master key, in batches, each batch
// its own transaction. It is idempotent: a second run finds nothing to do,
// and a run stopped half-way is finished by the next. progress is told after
// each batch.
func Rotate(ctx context.Context, db *store.DB, ring *keys.Ring, batch int, progress func(what string, n int)) (RotateResult, error) {
	if batch <= 0 {
		batch = 1000
	}
	res := RotateResult{Left: map[string]int{}}
	current := ring.KeyID()

	// The identity keys first: every other process adopts them at start.
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var sealed string
		if err := tx.GetContext(ctx, &sealed, `SELECT sealed FROM key_identity FOR UPDATE`); err != nil {
			return fmt.Errorf("read the identity keys: %w", err)
		}
		out, changed, err := ring.Reseal(sealed, "candor/identity")
		if errors.Is(err, keys.ErrWrongKey) {
			return unknownKey("identity keys", "", keys.SealedKeyID(sealed))
		}
		if err != nil || !changed {
			return err
		}
		res.Identity = 1
		_, err = tx.ExecContext(ctx, `UPDATE key_identity SET sealed = $1, updated_at = now()`, out)
		return err
	})
	if err != nil {
		return res, err
	}

	// Data keys, then the master-sealed columns.
	if res.DataKeys, err = resealColumn(ctx, db, ring, wrappedKeys, batch, progress); err != nil {
		return res, err
	}
	for _, c := range sealedColumns {
		n, err := resealColumn(ctx, db, ring, c, batch, progress)
		res.Sealed += n
		if err != nil {
			return res, err
		}
	}

	// Read back: what is still under another master key.
	left, err := KeyUse(ctx, db)
	if err != nil {
		return res, err
	}
	for _, u := range left {
		if u.KeyID != current {
			res.Left[u.What] += u.Count
		}
	}
	return res, nil
}

// Use counts values sealed under one master key.
type Use struct {
	What  string `db:"what"`
	KeyID string `db:"key_id"`
	Count int    `db:"n"`
}

// KeyUse counts, per kind of value, how many are sealed under each master
// key ID: what a rotation still has to do, and what an old key still opens.
func KeyUse(ctx context.Context, db *store.DB) ([]Use, error) {
	parts := []string{
		`SELECT 'identity keys' AS what, split_part(sealed, '.', 2) AS key_id, count(*) AS n FROM key_identity GROUP BY 2`,
		`SELECT 'data keys', split_part(wrapped, '.', 2), count(*) FROM data_keys GROUP BY 2`,
	}
	for _, c := range sealedColumns {
		parts = append(parts, fmt.Sprintf(`SELECT '%s', split_part(%[2]s, '.', 2), count(*) FROM %[3]s
			WHERE %[2]s <> '' AND %[2]s NOT LIKE 'v1.dk\_%%' GROUP BY 2`, c.what, c.column, c.table))
	}
	var us []Use
	err := db.SelectContext(ctx, &us, strings.Join(parts, " UNION ALL ")+` ORDER BY 1, 2`)
	return us, err
}

func unknownKey(what, name, kid string) error {
	return fmt.Errorf("%s %s: key %s: %w", what, name, kid, ErrUnknownKey)
}

// resealColumn re-seals column c under ring's current key, by key order
// (keyset pagination: no offset scans), a batch per transaction, and returns
// how many values it changed. A value changes only if it is unchanged
// meanwhile, so it never races an erasure.
func resealColumn(ctx context.Context, db *store.DB, ring *keys.Ring, c sealedColumn, batch int, progress func(string, int)) (int, error) {
	total, last := 0, ""
	for {
		var rows []struct {
			Key    string `db:"k"`
			Sealed string `db:"sealed"`
			AAD    string `db:"aad"`
		}
		q := fmt.Sprintf(`SELECT %[2]s AS k, %[3]s AS sealed, %[4]s AS aad FROM %[1]s
			WHERE %[2]s > $1 AND %[3]s <> '' AND %[3]s NOT LIKE 'v1.dk\_%%' ORDER BY %[2]s LIMIT $2`, c.table, c.key, c.column, c.aad)
		if err := db.SelectContext(ctx, &rows, q, last, batch); err != nil {
			return total, fmt.Errorf("read %s: %w", c.what, err)
		}
		if len(rows) == 0 {
			return total, nil
		}
		last = rows[len(rows)-1].Key
		n := 0
		err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			for _, r := range rows {
				aad := r.AAD
				if c.bind != nil {
					aad = c.bind(aad)
				}
				out, changed, err := ring.Reseal(r.Sealed, aad)
				if errors.Is(err, keys.ErrWrongKey) {
					return unknownKey(c.what, "of "+r.Key, keys.SealedKeyID(r.Sealed))
				}
				if err != nil {
					return fmt.Errorf("%s of %s: %w", c.what, r.Key, err)
				}
				if !changed {
					continue
				}
				ct, err := tx.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s = $3 WHERE %s = $1 AND %s = $2`, c.table, c.column, c.key, c.column),
					r.Key, r.Sealed, out)
				if err != nil {
					return err
				}
				k, _ := ct.RowsAffected()
				n += int(k)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if progress != nil {
			progress(c.what, total)
		}
	}
}
