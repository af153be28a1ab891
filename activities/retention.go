package activities

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
)

// SweepResult says what one retention sweep removed and checked.
type SweepResult struct {
	ReviewRequests     int64  `json:"review_requests_deleted"`
	WebhookDeliveries  int64  `json:"webhook_deliveries_deleted"`
	ExpiredLeft        int64  `json:"expired_left"` // read back after the sweep: must be 0
	TemporalRetention  string `json:"temporal_retention"`
	TemporalWithinRule bool   `json:"temporal_within_policy"`
}

// sweepBatch keeps each delete short, so it never holds locks long enough
// to slow webhook intake.
const sweepBatch = 5000

const deleteExpiredRequestsSQL = `
DELETE FROM review_requests WHERE request_id IN (
    SELECT request_id FROM review_requests WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING shop, subject, request_id`

// Sweep deletes what has expired, in batches, recording each deleted review
// request in the registry in the same transaction, then reads back that
// nothing expired is left and checks Temporal's namespace retention.
func (a *Activities) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := a.now()
	for {
		var n int
		err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
			var rows []struct {
				Shop      string `db:"shop"`
				Subject   string `db:"subject"`
				RequestID string `db:"request_id"`
			}
			if err := tx.SelectContext(ctx, &rows, deleteExpiredRequestsSQL, now, sweepBatch); err != nil {
				return err
			}
			n = len(rows)
			if n == 0 {
				return nil
			}
			es := make([]registry.Entry, n)
			for i, r := range rows {
				es[i] = registry.Entry{Shop: r.Shop, Subject: r.Subject, Datum: registry.DatumPurchaseHistory,
					System: registry.SystemPostgres, Action: registry.ActionDeleted, Purpose: registry.PurposeRetention,
					LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: r.RequestID}
			}
			_, err := registry.Append(ctx, tx, now, es...)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("delete expired review requests: %w", err)
		}
		res.ReviewRequests += int64(n)
		activity.RecordHeartbeat(ctx, res.ReviewRequests)
		if n < sweepBatch {
			break
		}
	}
	cutoff := now.Add(-retention.Lookup("webhook_deliveries").Keep)
	for {
		r, err := a.DB.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id IN (
			SELECT webhook_id FROM webhook_deliveries WHERE received_at < $1 LIMIT $2)`, cutoff, sweepBatch)
		if err != nil {
			return res, fmt.Errorf("delete old webhook IDs: %w", err)
		}
		n, _ := r.RowsAffected()
		res.WebhookDeliveries += n
		activity.RecordHeartbeat(ctx, res.ReviewRequests+res.WebhookDeliveries)
		if n < sweepBatch {
			break
		}
	}
	if err := a.DB.GetContext(ctx, &res.ExpiredLeft, `SELECT (SELECT count(*) FROM review_requests WHERE expires_at < $1)
		+ (SELECT count(*) FROM webhook_deliveries WHERE received_at < $2)`, now, cutoff); err != nil {
		return res, err
	}
	if res.ExpiredLeft > 0 {
		return res, temporal.NewApplicationError(fmt.Sprintf("%d expired rows left after the sweep", res.ExpiredLeft), ErrNotYetGone)
	}
	if a.Temporal != nil {
		d, err := a.Temporal.WorkflowService().DescribeNamespace(ctx, describeNamespace(a.namespace()))
		if err != nil {
			return res, fmt.Errorf("read the namespace's retention: %w", err)
		}
		got := d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
		res.TemporalRetention = got.String()
		res.TemporalWithinRule = got <= retention.Lookup("temporal_histories").Keep
		if !res.TemporalWithinRule {
			activity.GetLogger(ctx).Warn("Temporal namespace keeps closed histories longer than the policy",
				"namespace_retention", got.String(), "policy", retention.Lookup("temporal_histories").Keep.String())
		}
	}
	return res, nil
}

func describeNamespace(ns string) *workflowservice.DescribeNamespaceRequest {
	return &workflowservice.DescribeNamespaceRequest{Namespace: ns}
}
