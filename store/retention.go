package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/retention"
)

// Overrides loads one shop's retention overrides.
func (db *DB) Overrides(ctx context.Context, shop string) (retention.Overrides, error) {
	all, err := overrides(ctx, db, `WHERE shop = $1`, shop)
	return all[shop], err
}

// AllOverrides loads every shop's retention overrides, by shop.
func (db *DB) AllOverrides(ctx context.Context) (map[string]retention.Overrides, error) {
	return overrides(ctx, db, ``)
}

func overrides(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (map[string]retention.Overrides, error) {
	var rows []struct {
		Shop   string `db:"shop"`
		Policy string `db:"policy"`
		Keep   int64  `db:"keep_seconds"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT shop, policy, keep_seconds FROM retention_overrides `+where, args...); err != nil {
		return nil, fmt.Errorf("load retention overrides: %w", err)
	}
	out := map[string]retention.Overrides{}
	for _, r := range rows {
		if out[r.Shop] == nil {
			out[r.Shop] = retention.Overrides{}
		}
		out[r.Shop][r.Policy] = time.Duration(r.Keep) * time.Second
	}
	return out, nil
}

// SetOverride sets a shop's period for one policy, within the policy's
// bounds; a review_requests period must also cover the shop's timing
// (retention.CheckWait). For review requests, the shop's existing rows take the new period
// in the same transaction, so shortening applies to what is already held.
func (db *DB) SetOverride(ctx context.Context, shop, policy string, keep time.Duration) error {
	if err := retention.Check(policy, keep); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockShopFitting(ctx, tx, shop, policy, keep); err != nil {
			return err
		}
		return setOverride(ctx, tx, shop, policy, keep)
	})
}

func setOverride(ctx context.Context, tx *sqlx.Tx, shop, policy string, keep time.Duration) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO retention_overrides (shop, policy, keep_seconds) VALUES ($1, $2, $3)
		ON CONFLICT (shop, policy) DO UPDATE SET keep_seconds = $3, updated_at = now()`, shop, policy, int64(keep/time.Second)); err != nil {
		return err
	}
	return restamp(ctx, tx, shop, policy, keep)
}

// ClearOverride returns a shop to the default period of one policy, if the
// default covers the shop's timing (retention.CheckWait). It reports
// whether there was an override.
func (db *DB) ClearOverride(ctx context.Context, shop, policy string) (bool, error) {
	p, ok := retention.Find(policy)
	if !ok {
		return false, retention.Check(policy, 0)
	}
	var n int64
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockShopFitting(ctx, tx, shop, policy, p.Keep); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM retention_overrides WHERE shop = $1 AND policy = $2`, shop, policy)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return nil
		}
		return restamp(ctx, tx, shop, policy, p.Keep)
	})
	return n > 0, err
}

// lockShopFitting locks the shop's row, which its settings live in, and
// checks that keep as its period of policy covers its timing
// (retention.CheckWait): a *retention.WaitError if not. The lock keeps a
// settings change (SaveSettings) from slipping in between.
func lockShopFitting(ctx context.Context, tx *sqlx.Tx, shop, policy string, keep time.Duration) error {
	var r shopRow
	if err := tx.GetContext(ctx, &r, `SELECT * FROM shops WHERE domain = $1 FOR UPDATE`, shop); err != nil {
		return notFound(err)
	}
	if policy != retention.ReviewRequests {
		return nil
	}
	return retention.CheckWait(keep, r.shop().Timing())
}

// restamp gives a shop's review requests the new period. Their expiry is
// what the sweep (and the review link check) go by.
func restamp(ctx context.Context, tx *sqlx.Tx, shop, policy string, keep time.Duration) error {
	if policy != retention.ReviewRequests {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE review_requests SET expires_at = created_at + make_interval(secs => $2)
		WHERE shop = $1`, shop, float64(keep/time.Second))
	return err
}
