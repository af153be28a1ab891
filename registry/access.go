package registry

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
)

// ShopsInScope lists the shops with entries that f selects.
func ShopsInScope(ctx context.Context, q sqlx.QueryerContext, f Filter) ([]string, error) {
	var shops []string
	err := sqlx.SelectContext(ctx, q, &shops, `SELECT DISTINCT shop FROM registry_heads WHERE ($1 = '' OR shop = $1) AND seq > 0 ORDER BY shop`, f.Shop)
	return shops, err
}

// NewLookupID is the ref of a lookup that reads a subject's entries or
// evidence (a trail, a receipt, a report): prefix, then random.
func NewLookupID(prefix string) string { return prefix + "_" + NewExportID()[3:] }

// RecordAccess records that the registry was read (an export or a trail
// lookup): one entry per shop in scope, ref being the export or lookup ID.
// Reading the registry reads customers' pseudonyms, so it is itself a touch.
func RecordAccess(ctx context.Context, db *sqlx.DB, shops []string, subject, ref string, now time.Time) error {
	if len(shops) == 0 {
		return nil
	}
	es := make([]Entry, len(shops))
	for i, s := range shops {
		es[i] = Entry{Shop: s, Subject: subject, Datum: DatumPseudonym, System: SystemPostgres, Action: ActionRead,
			Purpose: PurposeAudit, LegalBasis: BasisLegalObligation, ExpiresAt: now, Ref: ref}
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := Append(ctx, tx, now, es...); err != nil {
		return err
	}
	return tx.Commit()
}
