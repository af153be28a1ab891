package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
)

// PolicySweep is what one retention sweep did for one policy: how many
// items it deleted, and how it checked they are gone. Counts only.
type PolicySweep struct {
	Policy   string   `json:"policy"`
	System   string   `json:"system"`
	Deleted  int64    `json:"deleted"`
	Asked    string   `json:"asked"`
	Verified string   `json:"verified"`
	Notes    []string `json:"notes,omitempty"` // what could not be done, and why
}

// SweepResult says what one retention sweep removed and checked, per
// policy.
type SweepResult struct {
	Policies           []PolicySweep `json:"policies"`
	TemporalRetention  string        `json:"temporal_retention"`
	TemporalWithinRule bool          `json:"temporal_within_policy"`
}

// Deleted is the count of one policy's deletions.
func (r SweepResult) Deleted(policy string) int64 {
	for _, p := range r.Policies {
		if p.Policy == policy {
			return p.Deleted
		}
	}
	return -1
}

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

// reviewWorkflowType is the ReviewRequest workflow's registered name
// (package workflows, which imports this one).
const reviewWorkflowType = "ReviewRequest"

// saveReceipt records one policy's sweep as evidence.
func saveReceipt(ctx context.Context, ex sqlx.ExecerContext, runID string, p PolicySweep) error {
	verified := p.Verified
	if len(p.Notes) > 0 {
		verified += "; not done: " + strings.Join(p.Notes, "; ")
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO retention_receipts (run_id, policy, system, asked, deleted, verified) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (run_id, policy) DO UPDATE SET asked = $4, deleted = $5, verified = $6, at = now()`,
		runID, p.Policy, p.System, p.Asked, p.Deleted, verified)
	return err
}

// deleteExpiredRequestsSQL deletes one batch in expiry order. $3 is where
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
	now := a.now()
	rr := PolicySweep{Policy: retention.ReviewRequests, System: registry.SystemPostgres,
		Asked: fmt.Sprintf("delete review requests past their expiry (the shop's review_requests period), in batches of %d", a.sweepBatch())}
	// The batches commit without waiting for their WAL flush, so the sweep
	// neither waits on the disk nor crowds intake's flushes. A crash can
	// lose the last batches, but only whole: the rows come back with their
	// registry entries gone too, and the next sweep redoes them.
	conn, err := a.DB.AsyncConn(ctx, sweepLockTimeout)
	if err != nil {
		return nil, fmt.Errorf("delete expired review requests: %w", err)
	}
	defer conn.Close()
	// Keyset passes from the oldest expiry; a second pass from the start
	// picks up rows the first skipped because another transaction changed
	// them meanwhile.
	for pass := 0; pass < 2; pass++ {
		from := time.Time{}
		for {
			n, last, err := a.deleteExpiredBatch(ctx, conn, now, from)
			if err != nil {
				return nil, fmt.Errorf("delete expired review requests: %w", err)
			}
			rr.Deleted += int64(n)
			activity.RecordHeartbeat(ctx, rr.Deleted)
			if n == 0 { // a short batch may only have lost rows to a writer
				break
			}
			from = last
		}
	}

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
		activity.RecordHeartbeat(ctx, rr.Deleted+wh.Deleted)
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
		Requests int64 `db:"requests"`
		Waiting  int64 `db:"waiting"`
		Hooks    int64 `db:"hooks"`
		Tokens   int64 `db:"tokens"`
		ShopToks int64 `db:"shop_tokens"`
	}
	if err := a.DB.GetContext(ctx, &left, `SELECT (SELECT count(*) FROM review_requests WHERE expires_at < $1 AND `+strings.ReplaceAll(expiredNotWaiting, "$4", "$6")+`) AS requests,
		(SELECT count(*) FROM review_requests WHERE expires_at < $1 AND NOT (`+strings.ReplaceAll(expiredNotWaiting, "$4", "$6")+`)) AS waiting,
		(SELECT count(*) FROM webhook_deliveries WHERE received_at < $2) AS hooks,
		(SELECT count(*) FROM api_tokens WHERE `+strings.NewReplacer("$1", "$3", "$2", "$4").Replace(expiredTokens)+`) AS tokens,
		(SELECT count(*) FROM shops WHERE `+strings.ReplaceAll(heldAfterUninstall, "$1", "$5")+`) AS shop_tokens`,
		now, cutoff, revokedBefore, unusedBefore, uninstalledBefore, pq.Array(store.Waiting)); err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	if n := left.Requests + left.Hooks + left.Tokens + left.ShopToks; n > 0 {
		return nil, temporal.NewApplicationError(fmt.Sprintf("%d rows past policy left after the sweep", n), ErrNotYetGone)
	}
	rr.Verified = "read back: 0 review requests past their expiry, other than those still waiting to send"
	if left.Waiting > 0 {
		rr.Notes = append(rr.Notes, fmt.Sprintf("%d review requests past their expiry still wait to send (scheduled or sending); kept until their workflow ends", left.Waiting))
	}
	wh.Verified = "read back: 0 webhook delivery IDs past 7 days"
	tok.Verified = "read back: 0 API tokens revoked or unused past policy"
	st.Verified = "read back: 0 uninstalled shops hold a token past policy"
	out := []PolicySweep{rr, wh, tok, st}
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

// TemporalSweep adds the namespace check to the policy's sweep.
type TemporalSweep struct {
	PolicySweep
	NamespaceRetention string `json:"namespace_retention"`
	WithinPolicy       bool   `json:"within_policy"`
}

// SweepTemporal deletes closed review workflows whose close is older than
// their shop's temporal_histories period, reads back that each is gone, and
// records a `deleted` entry per history. It then checks the namespace's
// retention against the default policy.
func (a *Activities) SweepTemporal(ctx context.Context, runID string) (TemporalSweep, error) {
	var out TemporalSweep
	res := PolicySweep{Policy: retention.TemporalHistories, System: registry.SystemTemporal}
	if a.Temporal == nil {
		res.Notes = append(res.Notes, "no Temporal client: nothing swept")
		out.PolicySweep = res
		return out, saveReceipt(ctx, a.DB, runID, res)
	}
	now := a.now()
	all, err := a.DB.AllOverrides(ctx)
	if err != nil {
		return out, err
	}
	def := retention.Lookup(retention.TemporalHistories).Keep
	shortest := def
	for _, ov := range all {
		shortest = min(shortest, ov.Keep(retention.TemporalHistories))
	}
	listBefore := now.Add(-shortest)
	res.Asked = fmt.Sprintf("delete closed %s workflows closed longer ago than their shop's period (default %s); listed closed before %s",
		reviewWorkflowType, retention.Human(def), listBefore.UTC().Format(time.RFC3339))
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'Running' AND CloseTime < '%s'",
		reviewWorkflowType, listBefore.UTC().Format(time.RFC3339Nano))

	var deleted []closedReview
	var token []byte
	for {
		page, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: a.namespace(), Query: query, NextPageToken: token, PageSize: 1000})
		if err != nil {
			return out, fmt.Errorf("list closed review workflows: %w", err)
		}
		for _, e := range page.Executions {
			shop, order, ok := parseReviewID(e.GetExecution().GetWorkflowId())
			if !ok {
				continue
			}
			if e.GetCloseTime().AsTime().After(now.Add(-all[shop].Keep(retention.TemporalHistories))) {
				continue // the shop keeps it longer than the shortest period
			}
			req := &workflowservice.DeleteWorkflowExecutionRequest{Namespace: a.namespace(), WorkflowExecution: e.GetExecution()}
			var nf *serviceerror.NotFound
			if _, err := a.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, req); err != nil && !errors.As(err, &nf) {
				return out, fmt.Errorf("delete a closed review workflow: %w", err)
			}
			deleted = append(deleted, closedReview{shop, order, req})
		}
		activity.RecordHeartbeat(ctx, len(deleted))
		if token = page.NextPageToken; len(token) == 0 {
			break
		}
	}

	// Read back. Deletion is asynchronous in Temporal; wait a little, then
	// record what is verified gone and let the activity retry for the rest.
	var verified []closedReview
	pending := deleted
	for wait := 0; len(pending) > 0 && wait < 30; wait++ {
		var still []closedReview
		for _, g := range pending {
			_, err := a.Temporal.WorkflowService().DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
				Namespace: a.namespace(), Execution: g.exec.WorkflowExecution})
			var nf *serviceerror.NotFound
			switch {
			case errors.As(err, &nf):
				verified = append(verified, g)
			case err != nil:
				return out, fmt.Errorf("read back a review workflow: %w", err)
			default:
				still = append(still, g)
			}
		}
		if pending = still; len(pending) > 0 {
			select {
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(time.Second):
			}
			activity.RecordHeartbeat(ctx, len(verified))
		}
	}
	if err := a.recordTemporalDeletions(ctx, now, verified); err != nil {
		return out, err
	}
	if len(pending) > 0 {
		return out, temporal.NewApplicationError(fmt.Sprintf("%d deleted review workflows not yet gone", len(pending)), ErrNotYetGone)
	}
	res.Deleted = int64(len(verified))
	res.Verified = fmt.Sprintf("read back: none of the %d exists any more (DescribeWorkflowExecution: not found)", len(verified))

	d, err := a.Temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: a.namespace()})
	if err != nil {
		return out, fmt.Errorf("read the namespace's retention: %w", err)
	}
	got := d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
	within := got <= def
	res.Verified += fmt.Sprintf("; namespace retention %s (policy %s)", retention.Human(got), retention.Human(def))
	if !within {
		res.Notes = append(res.Notes, "the namespace keeps closed histories longer than the policy; the sweep deletes review workflows, but other workflows follow the namespace")
		activity.GetLogger(ctx).Warn("Temporal namespace keeps closed histories longer than the policy",
			"namespace_retention", got.String(), "policy", def.String())
	}
	out.PolicySweep, out.NamespaceRetention, out.WithinPolicy = res, got.String(), within
	return out, saveReceipt(ctx, a.DB, runID, res)
}

// closedReview is a review workflow the sweep deleted.
type closedReview struct {
	shop  string
	order int64
	exec  *workflowservice.DeleteWorkflowExecutionRequest
}

// recordTemporalDeletions writes a `deleted` entry per verified history,
// under the request's opaque ID and the customer's pseudonym when the
// request row still names it.
func (a *Activities) recordTemporalDeletions(ctx context.Context, now time.Time, gs []closedReview) error {
	for start := 0; start < len(gs); start += sweepBatch {
		chunk := gs[start:min(start+sweepBatch, len(gs))]
		refs := make([]string, len(chunk))
		for i, g := range chunk {
			refs[i] = a.Keys.RequestID(g.shop, g.order)
		}
		err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
			var subjects []struct {
				RequestID string `db:"request_id"`
				Subject   string `db:"subject"`
			}
			if err := tx.SelectContext(ctx, &subjects, `SELECT request_id, subject FROM review_requests WHERE request_id = ANY($1)`, pq.Array(refs)); err != nil {
				return err
			}
			bySubject := map[string]string{}
			for _, s := range subjects {
				bySubject[s.RequestID] = s.Subject
			}
			es := make([]registry.Entry, len(chunk))
			for i, g := range chunk {
				es[i] = registry.Entry{Shop: g.shop, Subject: bySubject[refs[i]], Datum: registry.DatumPurchaseHistory,
					System: registry.SystemTemporal, Action: registry.ActionDeleted, Purpose: registry.PurposeRetention,
					LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: refs[i]}
			}
			_, err := registry.Append(ctx, tx, now, es...)
			return err
		})
		if err != nil {
			return fmt.Errorf("record deleted histories: %w", err)
		}
	}
	return nil
}

// parseReviewID splits review/{shop}/{order}.
func parseReviewID(id string) (string, int64, bool) {
	rest, ok := strings.CutPrefix(id, "review/")
	if !ok {
		return "", 0, false
	}
	shop, order, ok := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(order, 10, 64)
	return shop, n, ok && err == nil && shopify.ValidShopDomain(shop)
}

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
		done, note, err := a.eraseShopRecipients(ctx, sh, cutoff, now, &jobs, &missing)
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

// eraseShopRecipients works through one shop's due requests. A non-empty
// note means the shop could not be done, and why.
func (a *Activities) eraseShopRecipients(ctx context.Context, sh store.Shop, cutoff, now time.Time, jobs *[]string, missing *int) (int64, string, error) {
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
			if sh.TokenSealed == "" || a.Mailer == nil {
				var n int
				_ = a.DB.GetContext(ctx, &n, `SELECT count(*) FROM review_requests WHERE `+dueForErasure, sh.Domain, cutoff, now)
				return done, fmt.Sprintf("%s: %d requests' recipients not erased at SendGrid: the shop's token is revoked, so Candor cannot read the addresses to name them; SendGrid's own 30-day activity retention applies", sh.Domain, n), nil
			}
			var err error
			admin, err = a.shopAdmin(ctx, sh)
			if errors.Is(err, ErrShopDisconnected) {
				return done, fmt.Sprintf("%s: recipients not erased at SendGrid: %s, so Candor cannot read the addresses to name them; SendGrid's own 30-day activity retention applies", sh.Domain, err), nil
			}
			if err != nil {
				return done, "", temporalError(err)
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
			activity.RecordHeartbeat(ctx, done) // the SDK throttles these
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
		activity.RecordHeartbeat(ctx, done)
	}
}

// deleteExpiredBatch deletes up to a batch of review requests past their
// expiry, from expiry `from` on, with a `deleted` registry entry each in the
// same transaction. It returns how many, and the latest expiry deleted.
func (a *Activities) deleteExpiredBatch(ctx context.Context, conn *store.AsyncConn, now, from time.Time) (int, time.Time, error) {
	var n int
	var last time.Time
	err := conn.InTx(ctx, func(tx *sqlx.Tx) error {
		var rows []struct {
			Shop      string    `db:"shop"`
			Subject   string    `db:"subject"`
			RequestID string    `db:"request_id"`
			ExpiresAt time.Time `db:"expires_at"`
		}
		if err := tx.SelectContext(ctx, &rows, deleteExpiredRequestsSQL, now, a.sweepBatch(), from, pq.Array(store.Waiting)); err != nil {
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
