package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Proof is what Append hands back: evidence that these touches were written
// in the caller's transaction. Code that moves data outside Candor (the
// SendGrid mailer) demands a Proof that covers the move, so a send without
// its registry entry does not compile or does not run.
type Proof struct {
	entries []Entry
}

// Covers reports whether the proof holds an entry for this move.
func (p Proof) Covers(system, action, datum, ref string) bool {
	for _, e := range p.entries {
		if e.System == system && e.Action == action && e.Datum == datum && e.Ref == ref {
			return true
		}
	}
	return false
}

// Head is the newest entry's position and hash.
type Head struct {
	Seq  int64  `db:"seq"`
	Hash string `db:"hash"`
}

var validActions = map[string]bool{ActionCollected: true, ActionStored: true, ActionRead: true,
	ActionTransmitted: true, ActionDeleted: true, ActionErased: true}
var validSystems = map[string]bool{SystemShopify: true, SystemPostgres: true, SystemTemporal: true,
	SystemSendGrid: true, SystemCandor: true}

func (e Entry) validate() error {
	switch {
	case e.Shop == "" || e.Datum == "" || e.Purpose == "" || e.LegalBasis == "" || e.Ref == "":
		return errors.New("registry entry needs shop, datum, purpose, legal_basis and ref")
	case !validSystems[e.System]:
		return fmt.Errorf("registry entry: unknown system %q", e.System)
	case !validActions[e.Action]:
		return fmt.Errorf("registry entry: unknown action %q", e.Action)
	case strings.Contains(e.Subject, "@") || strings.Contains(e.Ref, "@"):
		return errors.New("registry entry: subject and ref must be pseudonyms, not addresses")
	case e.ExpiresAt.IsZero():
		return errors.New("registry entry needs expires_at")
	}
	return nil
}

const insertEntrySQL = `INSERT INTO registry_entries
    (seq, at, shop, subject, datum, system, action, purpose, legal_basis, expires_at, ref, prev_hash, hash)
VALUES (:seq, :at, :shop, :subject, :datum, :system, :action, :purpose, :legal_basis, :expires_at, :ref, :prev_hash, :hash)`

// Append writes entries at the head of the chain inside tx. The head row is
// locked until tx ends, which keeps one consistent chain across every
// process; the entries become visible only if tx commits, together with the
// data movement they describe.
func Append(ctx context.Context, tx *sqlx.Tx, now time.Time, entries ...Entry) (Proof, error) {
	if len(entries) == 0 {
		return Proof{}, errors.New("registry: nothing to append")
	}
	var head Head
	if err := tx.GetContext(ctx, &head, `SELECT seq, hash FROM registry_head WHERE id = 1 FOR UPDATE`); err != nil {
		return Proof{}, fmt.Errorf("registry: lock head: %w", err)
	}
	at := now.UTC().Truncate(time.Microsecond)
	out := make([]Entry, len(entries))
	for i, e := range entries {
		if err := e.validate(); err != nil {
			return Proof{}, err
		}
		if e.At.IsZero() {
			e.At = at
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.ExpiresAt = e.ExpiresAt.UTC().Truncate(time.Microsecond)
		head.Seq++
		e.Seq = head.Seq
		e.PrevHash = head.Hash
		e.Hash = ComputeHash(e.PrevHash, e)
		head.Hash = e.Hash
		out[i] = e
	}
	if _, err := tx.NamedExecContext(ctx, insertEntrySQL, out); err != nil {
		return Proof{}, fmt.Errorf("registry: insert: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE registry_head SET seq = $1, hash = $2 WHERE id = 1`, head.Seq, head.Hash); err != nil {
		return Proof{}, fmt.Errorf("registry: move head: %w", err)
	}
	return Proof{entries: out}, nil
}

// Entries lists entries in chain order, optionally for one shop.
func Entries(ctx context.Context, q sqlx.QueryerContext, shop string) ([]Entry, error) {
	var es []Entry
	err := sqlx.SelectContext(ctx, q, &es, `SELECT * FROM registry_entries WHERE ($1 = '' OR shop = $1) ORDER BY seq`, shop)
	return es, err
}

// VerifyChain recomputes every hash of a full, ordered chain and returns the
// sequence number of the first entry that does not match (0 if intact).
func VerifyChain(es []Entry) int64 {
	prev := GenesisHash
	for _, e := range es {
		if e.PrevHash != prev || ComputeHash(prev, e) != e.Hash {
			return e.Seq
		}
		prev = e.Hash
	}
	return 0
}
