package activities

// Retention's Postgres sweep: batched deletes of rows past their policy,
// with their registry entries, and the read-back.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
)

// sweepBatch is how many rows one sweep transaction deletes. Each batch
// holds its shops' retention-chain heads from its append to its commit;
// nothing but the sweep appends there (registry.ChainRetention), so the size
// trades only the sweep's own round trips against the rows a failed batch
// redoes. Activities.SweepBatch overrides it (the benchmark does).
const sweepBatch = 500

func (a *Activities) sweepBatch() int {
	if a.SweepBatch > 0 {
		return a.SweepBatch
	}
	return sweepBatch
}

// sweepLockTimeout bounds how long a batch waits for a row another
// transaction holds (a send deciding, an erasure): the batch fails, and the
// activity is retried, rather than sit behind a stuck transaction.
const sweepLockTimeout = 10 * time.Second

// the previous batch ended: starting there skips the index entries of rows
// already deleted, which are dead but not yet vacuumed (without it every
// batch would walk all of them, and a large sweep would slow quadratically).
//
// The batch is found by physical row address (ctid) and deleted without
// locking it first: a SELECT … FOR UPDATE would write every row twice, and
// a join back through the primary key would read its index again (1M rows,
// without the data-key trigger: 1.6 s against 4.5 s). It is still safe
// against concurrent writers: a row another transaction updates in between
// has a new ctid and is left for the next pass, and expires_at is checked
// again on the row that is deleted, so a row whose period was just
// extended stays.
//
// A request still waiting to send (store.Waiting, $4) is never deleted, even
// past its expiry: its workflow still runs and needs the row and the row's
// data key. The shop's timing bounds its period (retention.CheckWait), so
// this is the exception; the sweep after the workflow ends deletes it.
const deleteExpiredRequestsSQL = `
DELETE FROM review_requests WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM review_requests WHERE expires_at < $1 AND expires_at >= $3 AND ` + expiredNotWaiting + `
    ORDER BY expires_at LIMIT $2))
  AND expires_at < $1 AND ` + expiredNotWaiting + `
RETURNING shop, subject, request_id, expires_at`

// expiredNotWaiting leaves out the rows whose first or reminder email may
// still go ($4: store.Waiting).
const expiredNotWaiting = `status <> ALL($4) AND reminder_status <> ALL($4)`

// SweepPostgres deletes the rows past their policy: review requests (by
// their expiry, which carries the shop's period), webhook delivery IDs, API
// tokens and uninstalled shops' tokens. Each delete is batched in short
// transactions; each deleted review request gets its `deleted` registry
// entry in its batch's transaction. Then it reads back that nothing past
// policy is left, and records a receipt per policy.
func (a *Activities) SweepPostgres(ctx context.Context, runID string) ([]PolicySweep, error) {
	return retentionStep[[]PolicySweep](ctx, registry.SystemPostgres)(a.sweepPostgres(ctx, runID))
}

func (a *Activities) sweepPostgres(ctx context.Context, runID string) ([]PolicySweep, error) {
	now := a.now()
	rr, err := a.sweepExpiredRequests(ctx, now, sweepScope{}, sweepCursor{})
	if err != nil {
		return nil, err
	}
	shared, err := a.sweepSharedPolicies(ctx, now)
	if err != nil {
		return nil, err
	}
	// Read back, by the policy's own rule.
	var left struct {
		Requests int64 `db:"requests"`
		Waiting  int64 `db:"waiting"`
	}
	notWaiting := strings.ReplaceAll(expiredNotWaiting, "$4", "$2")
	if err := a.DB.GetContext(ctx, &left, `SELECT count(*) FILTER (WHERE `+notWaiting+`) AS requests,
		count(*) FILTER (WHERE NOT (`+notWaiting+`)) AS waiting
		FROM review_requests WHERE expires_at < $1`, now, pq.Array(store.Waiting)); err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	if left.Requests > 0 {
		return nil, temporal.NewApplicationError(fmt.Sprintf("%d rows past policy left after the sweep", left.Requests), ErrNotYetGone)
	}
	rr.Verified = "read back: 0 review requests past their expiry, other than those still waiting to send"
	if left.Waiting > 0 {
		rr.Notes = append(rr.Notes, fmt.Sprintf("%d review requests past their expiry still wait to send (scheduled or sending); kept until their workflow ends", left.Waiting))
	}
	out := append([]PolicySweep{rr}, shared...)
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		for _, p := range out {
			if err := saveReceipt(ctx, tx, runID, p); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// sweepSharedPolicies deletes what is kept by a policy over all shops at
// once: webhook delivery IDs, API tokens and uninstalled shops' tokens; then
// it reads back that nothing past those policies is left.
func (a *Activities) sweepSharedPolicies(ctx context.Context, now time.Time) ([]PolicySweep, error) {
	wh := PolicySweep{Policy: retention.WebhookDeliveries, System: registry.SystemPostgres}
	cutoff := now.Add(-retention.Lookup(retention.WebhookDeliveries).Keep)
	wh.Asked = "delete webhook delivery IDs received before " + cutoff.UTC().Format(time.RFC3339)
	for {
		r, err := a.DB.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id IN (
			SELECT webhook_id FROM webhook_deliveries WHERE received_at < $1 LIMIT $2)`, cutoff, a.sweepBatch())
		if err != nil {
			return nil, fmt.Errorf("delete old webhook IDs: %w", err)
		}
		n, _ := r.RowsAffected()
		wh.Deleted += n
		activity.RecordHeartbeat(ctx, wh.Deleted)
		if n < int64(a.sweepBatch()) {
			break
		}
	}

	tok := PolicySweep{Policy: retention.APITokens, System: registry.SystemPostgres}
	revokedBefore, unusedBefore := now.Add(-retention.Lookup(retention.APITokens).Keep), now.Add(-retention.APITokenUnused)
	tok.Asked = "delete API tokens revoked before " + revokedBefore.UTC().Format(time.RFC3339) + " or unused since " + unusedBefore.UTC().Format(time.RFC3339)
	const expiredTokens = `revoked_at < $1 OR coalesce(last_used_at, created_at) < $2`
	r, err := a.DB.ExecContext(ctx, `DELETE FROM api_tokens WHERE `+expiredTokens, revokedBefore, unusedBefore)
	if err != nil {
		return nil, fmt.Errorf("delete expired API tokens: %w", err)
	}
	tok.Deleted, _ = r.RowsAffected()

	// An uninstall revokes the token at once (PrivacyRequest); this is the
	// bound if that did not happen. A token set after the uninstall (a
	// reinstall moves updated_at) is left alone.
	st := PolicySweep{Policy: retention.ShopToken, System: registry.SystemPostgres}
	uninstalledBefore := now.Add(-retention.Lookup(retention.ShopToken).Keep)
	st.Asked = "delete the sealed Admin API token of shops uninstalled before " + uninstalledBefore.UTC().Format(time.RFC3339)
	const heldAfterUninstall = store.HoldsToken + ` AND EXISTS (SELECT 1 FROM privacy_requests p WHERE p.shop = shops.domain
		AND p.kind = 'uninstall' AND p.received_at < $1 AND p.received_at >= shops.updated_at)`
	r, err = a.DB.ExecContext(ctx, `UPDATE shops SET `+store.RevokeTokensSet+` WHERE `+heldAfterUninstall, uninstalledBefore)
	if err != nil {
		return nil, fmt.Errorf("delete uninstalled shops' tokens: %w", err)
	}
	st.Deleted, _ = r.RowsAffected()

	// Read back, each policy by its own rule.
	var left struct {
		Hooks    int64 `db:"hooks"`
		Tokens   int64 `db:"tokens"`
		ShopToks int64 `db:"shop_tokens"`
	}
	if err := a.DB.GetContext(ctx, &left, `SELECT (SELECT count(*) FROM webhook_deliveries WHERE received_at < $1) AS hooks,
		(SELECT count(*) FROM api_tokens WHERE `+strings.NewReplacer("$1", "$2", "$2", "$3").Replace(expiredTokens)+`) AS tokens,
		(SELECT count(*) FROM shops WHERE `+strings.ReplaceAll(heldAfterUninstall, "$1", "$4")+`) AS shop_tokens`,
		cutoff, revokedBefore, unusedBefore, uninstalledBefore); err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	if n := left.Hooks + left.Tokens + left.ShopToks; n > 0 {
		return nil, temporal.NewApplicationError(fmt.Sprintf("%d rows past policy left after the sweep", n), ErrNotYetGone)
	}
	wh.Verified = "read back: 0 webhook delivery IDs past 7 days"
	tok.Verified = "read back: 0 API tokens revoked or unused past policy"
	st.Verified = "read back: 0 uninstalled shops hold a token past policy"
	return []PolicySweep{wh, tok, st}, nil
}

// deleteShopExpiredRequestsSQL is deleteExpiredRequestsSQL for one shop
// ($5): the per-shop sweep's batches walk review_requests_shop_expires_at.
// With $6 it keeps the rows whose recipients are still due for SendGrid
// erasure (SweepShopInput.KeepSendGridDue).
var deleteShopExpiredRequestsSQL = strings.ReplaceAll(strings.ReplaceAll(deleteExpiredRequestsSQL,
	"expires_at < $1 AND", "shop = $5 AND expires_at < $1 AND"),
	expiredNotWaiting, expiredNotWaiting+` AND NOT ($6 AND `+sendGridDue+`)`)

// sendGridDue is a sent request whose recipient was not yet named to
// SendGrid for erasure.
const sendGridDue = `sent_at IS NOT NULL AND sendgrid_erased_at IS NULL`

// sweepScope is what a sweep of expired review requests covers: every
// shop (Shop ""), or one, then maybe keeping its rows due for SendGrid.
type sweepScope struct {
	Shop            string
	KeepSendGridDue bool
}

// sweepCursor is where a sweep of expired review requests stands: its
// heartbeat details, from which the next attempt resumes.
type sweepCursor struct {
	Pass    int       `json:"pass"`
	From    time.Time `json:"from"` // the latest expiry deleted so far in this pass
	Deleted int64     `json:"deleted"`
}

// sweepExpiredRequests deletes the review requests past their expiry (of
// one shop, or of all: scope), in batches on a connection of its
// own, from cursor on, and says what it asked and deleted. After each batch
// it heartbeats its cursor.
func (a *Activities) sweepExpiredRequests(ctx context.Context, now time.Time, scope sweepScope, cur sweepCursor) (PolicySweep, error) {
	rr := PolicySweep{Policy: retention.ReviewRequests, System: registry.SystemPostgres, Shop: scope.Shop,
		Asked: fmt.Sprintf("delete review requests past their expiry (the shop's review_requests period), in batches of %d", a.sweepBatch())}
	// The batches commit without waiting for their WAL flush, so the sweep
	// neither waits on the disk nor crowds intake's flushes. A crash can
	// lose the last batches, but only whole: the rows come back with their
	// registry entries gone too, and the next sweep redoes them.
	conn, err := a.DB.AsyncConn(ctx, sweepLockTimeout)
	if err != nil {
		return rr, fmt.Errorf("delete expired review requests: %w", err)
	}
	defer conn.Close()
	// Keyset passes from the oldest expiry; a second pass from the start
	// picks up rows the first skipped because another transaction changed
	// them meanwhile.
	rr.Deleted = cur.Deleted
	for ; cur.Pass < 2; cur.Pass, cur.From = cur.Pass+1, (time.Time{}) {
		for {
			n, last, err := a.deleteExpiredBatch(ctx, conn, now, cur.From, scope)
			if err != nil {
				return rr, fmt.Errorf("delete expired review requests: %w", err)
			}
			rr.Deleted += int64(n)
			if n == 0 { // a short batch may only have lost rows to a writer
				break
			}
			cur.From, cur.Deleted = last, rr.Deleted
			if scope.Shop == "" {
				activity.RecordHeartbeat(ctx, rr.Deleted)
			} else {
				activity.RecordHeartbeat(ctx, cur)
			}
		}
	}
	return rr, nil
}

// deleteExpiredBatch deletes up to a batch of review requests past their
// expiry, from expiry `from` on, with a `deleted` registry entry each in the
// same transaction. It returns how many, and the latest expiry deleted.
func (a *Activities) deleteExpiredBatch(ctx context.Context, conn *store.AsyncConn, now, from time.Time, scope sweepScope) (int, time.Time, error) {
	var n int
	var last time.Time
	err := conn.InTx(ctx, func(tx *sqlx.Tx) error {
		var rows []struct {
			Shop      string    `db:"shop"`
			Subject   string    `db:"subject"`
			RequestID string    `db:"request_id"`
			ExpiresAt time.Time `db:"expires_at"`
		}
		q, args := deleteExpiredRequestsSQL, []any{now, a.sweepBatch(), from, pq.Array(store.Waiting)}
		if scope.Shop != "" {
			q, args = deleteShopExpiredRequestsSQL, append(args, scope.Shop, scope.KeepSendGridDue)
		}
		if err := tx.SelectContext(ctx, &rows, q, args...); err != nil {
			return err
		}
		if n = len(rows); n == 0 {
			return nil
		}
		es := make([]registry.Entry, n)
		for i, r := range rows {
			es[i] = registry.Entry{Shop: r.Shop, Subject: r.Subject, Datum: registry.DatumPurchaseHistory,
				System: registry.SystemPostgres, Action: registry.ActionDeleted, Purpose: registry.PurposeRetention,
				LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: r.RequestID}
			if r.ExpiresAt.After(last) {
				last = r.ExpiresAt
			}
		}
		_, err := registry.Append(ctx, tx, now, es...)
		return err
	})
	return n, last, err
}
