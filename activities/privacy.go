package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// Privacy request activities take only the request's ID and return only
// counts: order IDs and the address stay in Postgres (sealed), so the
// erasure workflow's own history names nobody.

// StepResult is what one step did.
type StepResult struct {
	Found    int
	Done     int
	Verified bool
}

// Errors privacy workflows see.
const ErrNotYetGone = "NotYetGone"

// reviewScope selects the review requests a privacy request covers: the
// customer's (by pseudonym), the orders Shopify named, and those sent to the
// customer's address (by its key), which reaches their guest checkouts.
func reviewScope(r store.PrivacyRequest) (string, []any) {
	if r.Kind == store.KindCustomerRedact || r.Kind == store.KindDataRequest {
		return `shop = $1 AND ((subject <> '' AND subject = $2) OR order_id = ANY($3) OR (address_key <> '' AND address_key = $4))`,
			[]any{r.Shop, r.Subject, pq.Array([]int64(r.OrderIDs)), r.AddressKey}
	}
	return `shop = $1`, []any{r.Shop}
}

// requestRefs lists the request IDs a customer's privacy request covers:
// the rows in its scope, and the orders Shopify named, whose rows may be gone.
func (a *Activities) requestRefs(ctx context.Context, r store.PrivacyRequest) ([]string, error) {
	where, args := reviewScope(r)
	var ids []string
	if err := a.DB.SelectContext(ctx, &ids, `SELECT request_id FROM review_requests WHERE `+where, args...); err != nil {
		return nil, fmt.Errorf("find the covered requests: %w", err)
	}
	for _, o := range r.OrderIDs {
		ids = append(ids, a.Keys.RequestID(r.Shop, o))
	}
	return ids, nil
}

func (a *Activities) privacyRequest(ctx context.Context, id string) (store.PrivacyRequest, error) {
	r, err := a.DB.PrivacyRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, temporal.NewNonRetryableApplicationError("privacy request not found", review.ErrInternal, nil)
	}
	return r, err
}

// workflowOrders lists the orders whose review workflows the request covers:
// the orders of matching request rows and the orders Shopify named.
func (a *Activities) workflowOrders(ctx context.Context, r store.PrivacyRequest) ([]int64, error) {
	where, args := reviewScope(r)
	var ids []int64
	if err := a.DB.SelectContext(ctx, &ids, `SELECT order_id FROM review_requests WHERE `+where, args...); err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var out []int64
	for _, id := range append(ids, r.OrderIDs...) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// StopReviews terminates the covered review workflows and, for erasure,
// deletes their histories; then it checks that each is gone (or, for an
// uninstall, closed).
func (a *Activities) StopReviews(ctx context.Context, requestID string) (StepResult, error) {
	return erasureStep(ctx, registry.SystemTemporal)(a.stopReviews(ctx, requestID))
}

func (a *Activities) stopReviews(ctx context.Context, requestID string) (StepResult, error) {
	r, err := a.privacyRequest(ctx, requestID)
	if err != nil {
		return StepResult{}, err
	}
	if r.Kind == store.KindShopRedact {
		return a.stopShopReviews(ctx, r) // by visibility, not one look-up per order
	}
	orders, err := a.workflowOrders(ctx, r)
	if err != nil {
		return StepResult{}, err
	}
	erase := r.Kind == store.KindCustomerRedact || r.Kind == store.KindShopRedact
	asked := time.Now()
	res := StepResult{}
	for _, order := range orders {
		id := review.WorkflowID(r.Shop, order)
		desc, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("describe a review workflow: %w", err)
		}
		res.Found++
		if desc.GetWorkflowExecutionInfo().GetCloseTime() == nil {
			if err := a.Temporal.TerminateWorkflow(ctx, id, "", "privacy request "+requestID); err != nil && !errors.As(err, &nf) {
				return res, fmt.Errorf("terminate a review workflow: %w", err)
			}
		}
		if erase {
			_, err := a.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
				Namespace:         a.namespace(),
				WorkflowExecution: desc.GetWorkflowExecutionInfo().GetExecution(),
			})
			if err != nil && !errors.As(err, &nf) {
				return res, fmt.Errorf("delete a review workflow: %w", err)
			}
		}
		res.Done++
	}
	// Read back. Deletion is asynchronous in Temporal: until every history
	// is gone the activity fails and is retried.
	left := 0
	for _, order := range orders {
		desc, err := a.Temporal.DescribeWorkflowExecution(ctx, review.WorkflowID(r.Shop, order), "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
		case err != nil:
			return res, fmt.Errorf("read back a review workflow: %w", err)
		case erase || desc.GetWorkflowExecutionInfo().GetCloseTime() == nil:
			left++
		}
	}
	if left > 0 {
		return res, temporal.NewApplicationError(fmt.Sprintf("%d review workflows not yet gone", left), ErrNotYetGone)
	}
	// Every attempt acts on what is still there, so report the scope and
	// the read-back, not this attempt's share of the work.
	res = StepResult{Found: len(orders), Done: len(orders), Verified: true}
	what, verified := "terminate", fmt.Sprintf("read back: all %d are closed; their histories expire with the namespace retention", len(orders))
	if erase {
		what, verified = "terminate and delete the histories of", fmt.Sprintf("read back: none of the %d exists any more (DescribeWorkflowExecution: not found)", len(orders))
	}
	return res, a.finishStep(ctx, r, registry.SystemTemporal, registry.DatumPurchaseHistory, len(orders) > 0, store.Receipt{
		System: registry.SystemTemporal, Asked: fmt.Sprintf("%s the %d review workflows of the request's orders", what, len(orders)), Verified: verified, AskedAt: asked,
	})
}

// ErasePostgres deletes the covered rows and checks that none is left.
func (a *Activities) ErasePostgres(ctx context.Context, requestID string) (StepResult, error) {
	return erasureStep(ctx, registry.SystemPostgres)(a.erasePostgres(ctx, requestID))
}

func (a *Activities) erasePostgres(ctx context.Context, requestID string) (StepResult, error) {
	r, err := a.privacyRequest(ctx, requestID)
	if err != nil {
		return StepResult{}, err
	}
	asked := time.Now()
	where, args := reviewScope(r)
	var deletes []string
	res := StepResult{}
	batched := 0
	if r.Kind == store.KindShopRedact {
		// A shop's requests go first, in batches: there may be a great
		// many. The transaction below deletes what came in meanwhile.
		if batched, err = a.deleteShopRequests(ctx, r.Shop); err != nil {
			return res, err
		}
	}
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		n, err := execCount(ctx, tx, `DELETE FROM review_requests WHERE `+where, args...)
		n += batched
		res.Found += n
		deletes = append(deletes, fmt.Sprintf("%d review requests", n))
		if err != nil {
			return err
		}
		switch r.Kind {
		case store.KindCustomerRedact:
			n, err = execCount(ctx, tx, `DELETE FROM subject_reports WHERE shop = $1 AND subject = $2`, r.Shop, r.Subject)
			res.Found += n
			deletes = append(deletes, fmt.Sprintf("%d data-request reports", n))
		case store.KindShopRedact:
			for _, q := range []struct{ what, sql string }{
				{"suppression entries", `DELETE FROM suppressions WHERE shop = $1`},
				{"data-request reports", `DELETE FROM subject_reports WHERE shop = $1`},
				{"webhook delivery IDs", `DELETE FROM webhook_deliveries WHERE shop = $1`},
				{"API tokens", `DELETE FROM api_tokens WHERE shop = $1`},
				{"shop connection (sealed token, settings)", `DELETE FROM shops WHERE domain = $1`},
			} {
				n, err = execCount(ctx, tx, q.sql, r.Shop)
				if err != nil {
					return err
				}
				res.Found += n
				deletes = append(deletes, fmt.Sprintf("%d %s", n, q.what))
			}
		}
		return err
	})
	if err != nil {
		return res, fmt.Errorf("erase Postgres rows: %w", err)
	}
	// Read back.
	var left int
	if err := a.DB.GetContext(ctx, &left, `SELECT count(*) FROM review_requests WHERE `+where, args...); err != nil {
		return res, err
	}
	if r.Kind == store.KindShopRedact {
		var more int
		if err := a.DB.GetContext(ctx, &more, `SELECT (SELECT count(*) FROM shops WHERE domain = $1) + (SELECT count(*) FROM suppressions WHERE shop = $1)
			+ (SELECT count(*) FROM api_tokens WHERE shop = $1) + (SELECT count(*) FROM webhook_deliveries WHERE shop = $1)`, r.Shop); err != nil {
			return res, err
		}
		left += more
	}
	if left > 0 {
		return res, temporal.NewApplicationError(fmt.Sprintf("%d rows still present", left), ErrNotYetGone)
	}
	res.Done, res.Verified = res.Found, true
	return res, a.finishStep(ctx, r, registry.SystemPostgres, registry.DatumPurchaseHistory, res.Found > 0, store.Receipt{
		System: registry.SystemPostgres, Asked: "delete " + strings.Join(deletes, ", "), AskedAt: asked,
		Verified: "read back: no row of the request's scope is left",
	})
}

func execCount(ctx context.Context, tx *sqlx.Tx, q string, args ...any) (int, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// EraseSendGrid asks SendGrid to erase the customer's address, if the
// registry shows it ever received it, then deletes Candor's sealed copy.
func (a *Activities) EraseSendGrid(ctx context.Context, requestID string) (StepResult, error) {
	return erasureStep(ctx, registry.SystemSendGrid)(a.eraseSendGrid(ctx, requestID))
}

func (a *Activities) eraseSendGrid(ctx context.Context, requestID string) (StepResult, error) {
	r, err := a.privacyRequest(ctx, requestID)
	if err != nil {
		return StepResult{}, err
	}
	asked := a.now()
	if r.Kind == store.KindShopRedact {
		return StepResult{Verified: true}, a.finishStep(ctx, r, registry.SystemSendGrid, registry.DatumEmail, false, store.Receipt{
			System: registry.SystemSendGrid, AskedAt: asked,
			Asked:    "nothing: Candor keeps no customer addresses to name in an erasure job",
			Verified: "SendGrid's email activity for the shop's sends expires 30 days after each send",
		})
	}
	// The customer's transmissions, and those of the requests the erasure
	// covers: a guest checkout's are under another pseudonym.
	refs, err := a.requestRefs(ctx, r)
	if err != nil {
		return StepResult{}, err
	}
	var sent int
	if err := a.DB.GetContext(ctx, &sent, `SELECT count(*) FROM registry_entries WHERE shop = $1
		AND ((subject = $2 AND subject <> '') OR ref = ANY($3)) AND system = 'sendgrid' AND action = 'transmitted'`,
		r.Shop, r.Subject, pq.Array(refs)); err != nil {
		return StepResult{}, err
	}
	if sent == 0 || r.EmailSealed == "" {
		what := "nothing: the registry shows no address of this customer sent to SendGrid"
		if sent > 0 {
			what = "nothing could be asked: the request carried no address"
		}
		return StepResult{Verified: sent == 0}, a.finishStep(ctx, r, registry.SystemSendGrid, registry.DatumEmail, false, store.Receipt{
			System: registry.SystemSendGrid, AskedAt: asked, Asked: what, Verified: fmt.Sprintf("registry: %d transmissions to SendGrid", sent),
		})
	}
	if a.DataKeys == nil {
		return StepResult{}, temporal.NewNonRetryableApplicationError("no data keys configured", review.ErrInternal, nil)
	}
	email, err := a.DataKeys.Open(ctx, r.EmailSealed, r.ID)
	if err != nil {
		return StepResult{}, fmt.Errorf("open the sealed address: %w", err)
	}
	var proof registry.Proof
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		proof, err = registry.Append(ctx, tx, asked, registry.Entry{Shop: r.Shop, Subject: r.Subject, Datum: registry.DatumEmail,
			System: registry.SystemSendGrid, Action: registry.ActionErased, Purpose: registry.PurposeErasure,
			LegalBasis: registry.BasisLegalObligation, ExpiresAt: asked, Ref: r.ID})
		return err
	})
	if err != nil {
		return StepResult{}, fmt.Errorf("record the erasure request: %w", err)
	}
	// The suppression lists first: they can be read back, so a retry
	// starts over until none holds the address. Then the erasure job for
	// the rest (email activity), which SendGrid does not report on.
	if _, err := a.Mailer.PurgeSuppressions(ctx, proof, r.ID, string(email)); err != nil {
		return StepResult{}, temporalError(err)
	}
	job, err := a.Mailer.Erase(ctx, proof, r.ID, []string{string(email)})
	if err != nil {
		return StepResult{}, temporalError(err)
	}
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE privacy_requests SET email_sealed = '' WHERE id = $1`, r.ID); err != nil {
			return err
		}
		if _, err := registry.Append(ctx, tx, a.now(), registry.Entry{Shop: r.Shop, Subject: r.Subject, Datum: registry.DatumEmail,
			System: registry.SystemPostgres, Action: registry.ActionDeleted, Purpose: registry.PurposeErasure,
			LegalBasis: registry.BasisLegalObligation, ExpiresAt: a.now(), Ref: r.ID}); err != nil {
			return err
		}
		return store.SaveReceipt(ctx, tx, store.Receipt{RequestID: r.ID, System: registry.SystemSendGrid, AskedAt: asked, VerifiedAt: a.now(),
			Asked: "delete the address from SendGrid's suppression lists (" + strings.Join(sendgrid.SuppressionLists, ", ") +
				"); erase the customer's email data (Recipients' Data Erasure API, job " + job + ")",
			Verified: "suppression lists read back after the deletes: none holds the address. SendGrid accepted job " + job +
				" (HTTP 202) for the email activity; SendGrid offers no read-back of erasure jobs. Candor's sealed copy of the address is deleted."})
	})
	if err != nil {
		return StepResult{}, fmt.Errorf("record SendGrid's erasure: %w", err)
	}
	return StepResult{Found: 1, Done: 1, Verified: true}, nil
}

// RevokeToken makes an uninstalled shop's Admin API tokens unusable at once:
// the access token and the refresh token that could mint another.
func (a *Activities) RevokeToken(ctx context.Context, requestID string) (StepResult, error) {
	return erasureStep(ctx, "token")(a.revokeToken(ctx, requestID))
}

func (a *Activities) revokeToken(ctx context.Context, requestID string) (StepResult, error) {
	r, err := a.privacyRequest(ctx, requestID)
	if err != nil {
		return StepResult{}, err
	}
	asked := time.Now()
	// A token from an install after the uninstall (the merchant came back)
	// is not the uninstalled one: it stays.
	res, err := a.DB.ExecContext(ctx, `UPDATE shops SET `+store.RevokeTokensSet+`
		WHERE domain = $1 AND (installed_at IS NULL OR installed_at < $2) AND `+store.HoldsToken, r.Shop, r.ReceivedAt)
	if err != nil {
		return StepResult{}, err
	}
	rows, _ := res.RowsAffected()
	var left int
	if err := a.DB.GetContext(ctx, &left, `SELECT count(*) FROM shops WHERE domain = $1 AND `+store.HoldsToken+`
		AND (installed_at IS NULL OR installed_at < $2)`, r.Shop, r.ReceivedAt); err != nil {
		return StepResult{}, err
	}
	if left > 0 {
		return StepResult{}, temporal.NewApplicationError("token still present", ErrNotYetGone)
	}
	return StepResult{Found: int(rows), Done: int(rows), Verified: true}, store.SaveReceipt(ctx, a.DB, store.Receipt{
		RequestID: r.ID, System: "shopify_token", AskedAt: asked, VerifiedAt: time.Now(),
		Asked: "revoke the shop's Admin API access token and its refresh token", Verified: fmt.Sprintf("read back: %d shops hold a token for %s", left, r.Shop),
	})
}

// BuildReport answers a data request: the subject's trail, kept for the
// merchant.
func (a *Activities) BuildReport(ctx context.Context, requestID string) (StepResult, error) {
	r, err := a.privacyRequest(ctx, requestID)
	if err != nil {
		return StepResult{}, err
	}
	now := a.now()
	tr, err := registry.SubjectTrail(ctx, a.DB, r.Shop, r.Subject, now)
	if err != nil {
		return StepResult{}, err
	}
	where, args := reviewScope(r)
	var held int
	if err := a.DB.GetContext(ctx, &held, `SELECT count(*) FROM review_requests WHERE `+where, args...); err != nil {
		return StepResult{}, err
	}
	report, _ := json.Marshal(map[string]any{"trail": tr, "review_requests_held": held,
		"note": "Candor holds no name, address or phone. The email address is read from Shopify only to send and is not stored."})
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO subject_reports (request_id, shop, subject, report) VALUES ($1, $2, $3, $4)
			ON CONFLICT (request_id) DO UPDATE SET report = $4`, r.ID, r.Shop, r.Subject, string(report)); err != nil {
			return err
		}
		if _, err := registry.Append(ctx, tx, now, registry.Entry{Shop: r.Shop, Subject: r.Subject, Datum: registry.DatumPseudonym,
			System: registry.SystemPostgres, Action: registry.ActionRead, Purpose: registry.PurposeDataRequest,
			LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: r.ID}); err != nil {
			return err
		}
		return store.SaveReceipt(ctx, tx, store.Receipt{RequestID: r.ID, System: registry.SystemPostgres, AskedAt: now, VerifiedAt: now,
			Asked:    "report what is held about the customer",
			Verified: fmt.Sprintf("report stored: %d registry entries over %d datum/system pairs; %d review requests held", tr.Entries, len(tr.Rows), held)})
	})
	return StepResult{Found: tr.Entries, Done: 1, Verified: true}, err
}

// PrivacyStarter starts a request's PrivacyRequest workflow, the way
// compliance intake does; false means its workflow ID was already used (it
// runs, or ran). Package workflows provides it (workflows.PrivacyStarter).
type PrivacyStarter func(ctx context.Context, kind, shop, requestID string) (bool, error)

// PrivacyRedriveGrace is how long a received request is left to intake,
// which starts its workflow before it answers Shopify, before a re-drive
// starts it.
const PrivacyRedriveGrace = 5 * time.Minute

// privacyRedriveBatch bounds one re-drive; the next run takes the rest.
const privacyRedriveBatch = 500

// RedriveResult is what one re-drive found and did.
type RedriveResult struct {
	Stalled int `json:"stalled"` // received, and older than the grace period
	Started int `json:"started"` // their workflow had never started
}

// RedrivePrivacyRequests starts the workflow of every privacy request still
// received after the grace period. Intake stores a request before it starts
// the workflow; if Temporal was down, Shopify's retries (8 over 4 hours) may
// all fail too, and nothing else would start it. Starting is idempotent by
// workflow ID, so any number of runs, from any number of workers, start each
// request once.
func (a *Activities) RedrivePrivacyRequests(ctx context.Context) (RedriveResult, error) {
	var res RedriveResult
	if a.StartPrivacy == nil {
		return res, errors.New("redrive: no PrivacyStarter wired")
	}
	rs, err := a.DB.StalledPrivacyRequests(ctx, a.now().Add(-PrivacyRedriveGrace), privacyRedriveBatch)
	if err != nil {
		return res, fmt.Errorf("list stalled privacy requests: %w", err)
	}
	res.Stalled = len(rs)
	for _, r := range rs {
		activity.RecordHeartbeat(ctx, res.Started)
		started, err := a.StartPrivacy(ctx, r.Kind, r.Shop, r.ID)
		if err != nil {
			return res, fmt.Errorf("start privacy request %s: %w", r.ID, err)
		}
		if started {
			res.Started++
		}
	}
	return res, nil
}

// FinishPrivacy clears what identified the person from the request row and
// marks it done; the receipts stay as evidence.
func (a *Activities) FinishPrivacy(ctx context.Context, requestID string) error {
	r, err := a.privacyRequest(ctx, requestID)
	if err != nil {
		return err
	}
	_, err = a.DB.ExecContext(ctx, `UPDATE privacy_requests SET order_ids = '{}', email_sealed = '', status = 'done',
		completed_at = coalesce(completed_at, now()) WHERE id = $1`, r.ID)
	return err
}

// finishStep saves a step's receipt and, when it removed something, the
// registry entry saying so, in one transaction.
func (a *Activities) finishStep(ctx context.Context, r store.PrivacyRequest, system, datum string, removed bool, rc store.Receipt) error {
	rc.RequestID, rc.VerifiedAt = r.ID, a.now()
	if rc.AskedAt.IsZero() {
		rc.AskedAt = rc.VerifiedAt
	}
	return a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		if removed {
			action := registry.ActionErased
			if r.Kind == store.KindUninstall {
				action = registry.ActionDeleted
			}
			if _, err := registry.Append(ctx, tx, rc.VerifiedAt, registry.Entry{Shop: r.Shop, Subject: r.Subject, Datum: datum,
				System: system, Action: action, Purpose: registry.PurposeErasure, LegalBasis: registry.BasisLegalObligation,
				ExpiresAt: rc.VerifiedAt, Ref: r.ID}); err != nil {
				return err
			}
		}
		return store.SaveReceipt(ctx, tx, rc)
	})
}

func (a *Activities) namespace() string {
	if a.Namespace != "" {
		return a.Namespace
	}
	return "default"
}
