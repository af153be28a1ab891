package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// What a person read, in the access log.
const (
	AccessExport  = "export"  // a registry export
	AccessTrail   = "trail"   // one subject's trail
	AccessReport  = "report"  // a data request's report
	AccessReceipt = "receipt" // an erasure's receipt
	AccessCodec   = "codec"   // Temporal payloads decoded through the codec endpoint
	AccessImpact  = "incident_impact"
	// AccessEvidence: a subject's receipts and reports together (the
	// merchant's privacy page).
	AccessEvidence = "evidence"
)

// Principals that are not API tokens (tok_…).
const (
	// PrincipalCLIPrefix, then the operating-system user, names a person
	// at the command line.
	PrincipalCLIPrefix = "cli:"
	// PrincipalSessionPrefix, then the shop and the session's ID, names a
	// merchant signed in to the merchant pages.
	PrincipalSessionPrefix = "session:"
)

// LogEntry is one row of the access log: principal read what, in shop,
// about subject (or the request ref names), at.
type LogEntry struct {
	At        time.Time `db:"at" json:"at"`
	Principal string    `db:"principal" json:"principal"`
	What      string    `db:"what" json:"what"`
	Shop      string    `db:"shop" json:"shop"`
	Subject   string    `db:"subject" json:"subject,omitempty"`
	Ref       string    `db:"ref" json:"ref"`
}

// AppendAccess appends entries (reads of personal data) inside tx and an
// access-log row for each, naming principal: the same transaction, so a
// read is either recorded with whoever made it or not recorded at all.
func AppendAccess(ctx context.Context, tx *sqlx.Tx, principal, what string, now time.Time, entries ...Entry) error {
	if principal == "" || strings.ContainsAny(principal, "\x00\n\r") {
		return errors.New("registry: an access needs a principal")
	}
	if _, err := Append(ctx, tx, now, entries...); err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, `INSERT INTO access_log (at, principal, what, shop, subject, ref) VALUES ($1, $2, $3, $4, $5, $6)`,
			now.UTC().Truncate(time.Microsecond), principal, what, e.Shop, e.Subject, e.Ref); err != nil {
			return fmt.Errorf("registry: access log: %w", err)
		}
	}
	return nil
}

// Access is a person's read of the registry or of a subject's evidence.
type Access struct {
	Principal string
	What      string   // AccessExport, AccessTrail, …
	Shops     []string // one entry per shop in scope
	Subject   string
	Ref       string // the export or lookup ID
}

// accessBatch is how many shops' chains one transaction of RecordAccess
// appends to, and so how many heads it holds at once.
const accessBatch = 100

// RecordAccess records that the registry was read (an export or a trail
// lookup): one entry per shop in scope, ref being the export or lookup ID,
// and the principal in the access log. Reading the registry reads
// customers' pseudonyms, so it is itself a touch. The caller returns
// nothing until this succeeds.
//
// The entries are appended accessBatch shops per transaction. An auditor's
// export of every shop would otherwise lock every shop's head at once, and
// while it waited for one shop's head, every shop before it would wait
// too: each webhook of every shop, behind the slowest append anywhere. The
// cost: an error part-way leaves the batches already committed, so the
// registry records a read that was not served (the caller serves nothing
// after an error). A read is never served without its record.
func RecordAccess(ctx context.Context, db *sqlx.DB, a Access, now time.Time) error {
	sorted := slices.Sorted(slices.Values(a.Shops)) // each batch a range of the lock order
	for start := 0; start < len(sorted); start += accessBatch {
		batch := sorted[start:min(start+accessBatch, len(sorted))]
		es := make([]Entry, len(batch))
		for i, s := range batch {
			es[i] = Entry{Shop: s, Subject: a.Subject, Datum: DatumPseudonym, System: SystemPostgres, Action: ActionRead,
				Purpose: PurposeAudit, LegalBasis: BasisLegalObligation, ExpiresAt: now, Ref: a.Ref}
		}
		if err := appendInTx(ctx, db, a, now, es); err != nil {
			return fmt.Errorf("record the read of %d shops' registries: %w", len(sorted), err)
		}
	}
	return nil
}

func appendInTx(ctx context.Context, db *sqlx.DB, a Access, now time.Time, es []Entry) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := AppendAccess(ctx, tx, a.Principal, a.What, now, es...); err != nil {
		return err
	}
	return tx.Commit()
}

// AccessLog lists the access log from since (and until, if not zero),
// optionally of one principal, oldest first.
func AccessLog(ctx context.Context, q sqlx.QueryerContext, since, until time.Time, principal string) ([]LogEntry, error) {
	var out []LogEntry
	err := sqlx.SelectContext(ctx, q, &out, `SELECT at, principal, what, shop, subject, ref FROM access_log
		WHERE at >= $1 AND ($2::timestamptz IS NULL OR at < $2) AND ($3 = '' OR principal = $3) ORDER BY id`,
		since, nullTime(until), principal)
	return out, err
}
