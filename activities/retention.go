package activities

// What every retention sweep shares: the per-policy result and its receipt.
// Each system's sweep has its own file: retention_postgres.go,
// retention_temporal.go and retention_sendgrid.go (which reads Shopify).

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"
)

// PolicySweep is what one retention sweep did for one policy: how many
// items it deleted, and how it checked they are gone. Counts only.
type PolicySweep struct {
	Policy   string   `json:"policy"`
	Shop     string   `json:"shop,omitempty"` // "" for a policy swept across all shops, or a sum over shops
	System   string   `json:"system"`
	Deleted  int64    `json:"deleted"`
	Asked    string   `json:"asked"`
	Verified string   `json:"verified"`
	Notes    []string `json:"notes,omitempty"` // what could not be done, and why
	// NotDone says the step gave up this sweep (its retries ran out); the
	// next sweep tries again.
	NotDone bool `json:"not_done,omitempty"`
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

// saveReceipt records one policy's sweep (of one shop, or of all) as
// evidence.
func saveReceipt(ctx context.Context, ex sqlx.ExecerContext, runID string, p PolicySweep) error {
	verified := p.Verified
	if len(p.Notes) > 0 {
		verified += "; not done: " + strings.Join(p.Notes, "; ")
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO retention_receipts (run_id, policy, shop, system, asked, deleted, verified) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (run_id, policy, shop) DO UPDATE SET asked = $5, deleted = $6, verified = $7, at = now()`,
		runID, p.Policy, p.Shop, p.System, p.Asked, p.Deleted, verified)
	return err
}

// deleteExpiredRequestsSQL deletes one batch in expiry order. $3 is where
