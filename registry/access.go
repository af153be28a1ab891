package registry

import (
	"context"
	"fmt"
	"slices"
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

// accessBatch is how many shops' chains one transaction of RecordAccess
// appends to, and so how many heads it holds at once.
const accessBatch = 100

// RecordAccess records that the registry was read (an export or a trail
// lookup): one entry per shop in scope, ref being the export or lookup ID.
// Reading the registry reads customers' pseudonyms, so it is itself a touch.
//
// The entries are appended accessBatch shops per transaction. An auditor's
// export of every shop would otherwise lock every shop's head at once, and
// while it waited for one shop's head, every shop before it would wait
// too: each webhook of every shop, behind the slowest append anywhere. The
// cost: an error part-way leaves the batches already committed, so the
// registry records a read that was not served (the caller serves nothing
// after an error). A read is never served without its record.
func RecordAccess(ctx context.Context, db *sqlx.DB, shops []string, subject, ref string, now time.Time) error {
	sorted := slices.Sorted(slices.Values(shops)) // each batch a range of the lock order
	for start := 0; start < len(sorted); start += accessBatch {
		batch := sorted[start:min(start+accessBatch, len(sorted))]
		es := make([]Entry, len(batch))
		for i, s := range batch {
			es[i] = Entry{Shop: s, Subject: subject, Datum: DatumPseudonym, System: SystemPostgres, Action: ActionRead,
				Purpose: PurposeAudit, LegalBasis: BasisLegalObligation, ExpiresAt: now, Ref: ref}
		}
		if err := appendInTx(ctx, db, now, es); err != nil {
			return fmt.Errorf("record the read of %d shops' registries: %w", len(sorted), err)
		}
	}
	return nil
}

func appendInTx(ctx context.Context, db *sqlx.DB, now time.Time, es []Entry) error {
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
