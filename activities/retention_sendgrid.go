package activities

// Retention's SendGrid sweep: recipients' data erasure jobs, with each
// address read from Shopify just in time.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/shoptoken"
	"github.com/candorhq/candor/store"
)

// eraseBatch bounds the Shopify reads between two SendGrid erasure jobs.
const eraseBatch = 500

// dueForErasure selects a shop's sent requests whose last email is older
// than the shop's sendgrid_activity period, or whose row is past its expiry
// (it is about to be deleted, and with it the way to name the recipient).
const dueForErasure = `shop = $1 AND sent_at IS NOT NULL AND sendgrid_erased_at IS NULL
	AND (coalesce(reminder_sent_at, sent_at) < $2 OR expires_at < $3)`

// SweepSendGrid asks SendGrid's Recipients' Data Erasure API to erase the
// recipients of requests past the shop's sendgrid_activity period. Candor
// does not store addresses, so it reads each from Shopify just in time, as
// the send does, records the read and the erasure in the registry before
// the call, and never returns or keeps the address. A shop whose token is
// revoked cannot be asked about: the result says so, and SendGrid's own
// retention applies.
func (a *Activities) SweepSendGrid(ctx context.Context, runID string) (PolicySweep, error) {
	return retentionStep[PolicySweep](ctx, registry.SystemSendGrid)(a.sweepSendGrid(ctx, runID))
}

func (a *Activities) sweepSendGrid(ctx context.Context, runID string) (PolicySweep, error) {
	res := PolicySweep{Policy: retention.SendGridActivity, System: registry.SystemSendGrid,
		Asked: fmt.Sprintf("erase, through SendGrid's Recipients' Data Erasure API, the recipients of requests last emailed longer ago than the shop's period (default %s); addresses read from Shopify just in time",
			retention.Human(retention.Lookup(retention.SendGridActivity).Keep))}
	now := a.now()
	all, err := a.DB.AllOverrides(ctx)
	if err != nil {
		return res, err
	}
	shops, err := a.DB.Shops(ctx)
	if err != nil {
		return res, fmt.Errorf("list shops: %w", err)
	}
	var jobs []string
	var missing int
	for _, sh := range shops {
		cutoff := now.Add(-all[sh.Domain].Keep(retention.SendGridActivity))
		done, note, err := a.eraseShopRecipients(ctx, sh, cutoff, now, &jobs, &missing, func(done int64) { activity.RecordHeartbeat(ctx, done) })
		res.Deleted += done
		if err != nil {
			return res, err
		}
		if note != "" {
			res.Notes = append(res.Notes, note)
			continue
		}
		var left int
		if err := a.DB.GetContext(ctx, &left, `SELECT count(*) FROM review_requests WHERE `+dueForErasure, sh.Domain, cutoff, now); err != nil {
			return res, fmt.Errorf("read back: %w", err)
		}
		if left > 0 {
			return res, temporal.NewApplicationError(fmt.Sprintf("%d requests still due for SendGrid erasure", left), ErrNotYetGone)
		}
	}
	if missing > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d sent requests' recipients are no longer in Shopify, so they could not be named to SendGrid; its own 30-day activity retention applies", missing))
	}
	res.Verified = fmt.Sprintf("SendGrid accepted %d erasure jobs (HTTP 202", len(jobs))
	if len(jobs) > 0 {
		res.Verified += ": " + strings.Join(jobs, ", ")
	}
	res.Verified += "); SendGrid offers no read-back of erasure jobs. Read back: no request past policy is left unasked, except as noted"
	return res, saveReceipt(ctx, a.DB, runID, res)
}

// eraseShopRecipients works through one shop's due requests, calling beat
// with its progress. A non-empty note means the shop could not be done, and
// why.
func (a *Activities) eraseShopRecipients(ctx context.Context, sh store.Shop, cutoff, now time.Time, jobs *[]string, missing *int, beat func(done int64)) (int64, string, error) {
	var done int64
	var admin *shopify.Admin
	for {
		var due []struct {
			RequestID string `db:"request_id"`
			OrderID   int64  `db:"order_id"`
			Subject   string `db:"subject"`
		}
		if err := a.DB.SelectContext(ctx, &due, `SELECT request_id, order_id, subject FROM review_requests WHERE `+dueForErasure+`
			ORDER BY request_id LIMIT `+strconv.Itoa(eraseBatch), sh.Domain, cutoff, now); err != nil {
			return done, "", fmt.Errorf("list requests due for SendGrid erasure: %w", err)
		}
		if len(due) == 0 {
			return done, "", nil
		}
		if admin == nil {
			var note string
			var err error
			if admin, note, err = a.erasureAdmin(ctx, sh, cutoff, now); admin == nil {
				return done, note, err
			}
		}
		var addresses, ids []string
		var entries []registry.Entry
		seen := map[string]bool{}
		for _, d := range due {
			to, err := admin.Recipient(ctx, d.OrderID)
			var se *shopify.Error
			if errors.As(err, &se) && !se.Retryable {
				return done, fmt.Sprintf("%s: Shopify refused to name the recipients (%s); SendGrid's own 30-day activity retention applies", sh.Domain, se.Error()), nil
			}
			if err != nil {
				return done, "", temporalError(err)
			}
			beat(done) // the SDK throttles these
			ids = append(ids, d.RequestID)
			if to == "" {
				*missing++
				continue
			}
			if !seen[to] {
				seen[to] = true
				addresses = append(addresses, to)
			}
			for _, e := range []registry.Entry{
				{System: registry.SystemShopify, Action: registry.ActionRead},
				{System: registry.SystemSendGrid, Action: registry.ActionErased},
			} {
				e.Shop, e.Subject, e.Datum, e.Ref, e.ExpiresAt = sh.Domain, d.Subject, registry.DatumEmail, d.RequestID, now
				e.Purpose, e.LegalBasis = registry.PurposeRetention, registry.BasisLegalObligation
				entries = append(entries, e)
			}
		}
		job := ""
		if len(addresses) > 0 {
			// Write ahead: the read and the erasure request are recorded
			// before the addresses leave for SendGrid.
			var proof registry.Proof
			err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
				var err error
				proof, err = registry.Append(ctx, tx, now, entries...)
				return err
			})
			if err != nil {
				return done, "", fmt.Errorf("record the erasure request: %w", err)
			}
			if job, err = a.Mailer.Erase(ctx, proof, entries[1].Ref, addresses); err != nil {
				return done, "", temporalError(err)
			}
			*jobs = append(*jobs, job)
		}
		if _, err := a.DB.ExecContext(ctx, `UPDATE review_requests SET sendgrid_erased_at = $2 WHERE request_id = ANY($1)`, pq.Array(ids), now); err != nil {
			return done, "", fmt.Errorf("mark requests erased at SendGrid: %w", err)
		}
		done += int64(len(entries) / 2)
		beat(done)
	}
}

// erasureAdmin opens the shop's Admin API to read the recipients by. With no
// Admin, a non-empty note says why the shop cannot be done.
func (a *Activities) erasureAdmin(ctx context.Context, sh store.Shop, cutoff, now time.Time) (*shopify.Admin, string, error) {
	if sh.TokenSealed == "" || a.Mailer == nil {
		var n int
		_ = a.DB.GetContext(ctx, &n, `SELECT count(*) FROM review_requests WHERE `+dueForErasure, sh.Domain, cutoff, now)
		return nil, fmt.Sprintf("%s: %d requests' recipients not erased at SendGrid: the shop's token is revoked, so Candor cannot read the addresses to name them; SendGrid's own 30-day activity retention applies", sh.Domain, n), nil
	}
	admin, err := a.shopAdmin(ctx, sh)
	if errors.Is(err, shoptoken.ErrDisconnected) {
		return nil, fmt.Sprintf("%s: recipients not erased at SendGrid: %s, so Candor cannot read the addresses to name them; SendGrid's own 30-day activity retention applies", sh.Domain, err), nil
	}
	if err != nil {
		return nil, "", temporalError(err)
	}
	return admin, "", nil
}
