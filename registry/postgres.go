package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
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

// Head is the newest entry of one shop's chain.
type Head struct {
	Shop string `db:"shop"`
	Seq  int64  `db:"seq"`
	Hash string `db:"hash"`
}

var validActions = map[string]bool{ActionCollected: true, ActionStored: true, ActionRead: true,
	ActionTransmitted: true, ActionDeleted: true, ActionErased: true}

func (e Entry) validate() error {
	switch {
	case e.Shop == "" || e.Datum == "" || e.Purpose == "" || e.LegalBasis == "" || e.Ref == "":
		return errors.New("registry entry needs shop, datum, purpose, legal_basis and ref")
	case !KnownSystem(e.System):
		return fmt.Errorf("registry entry: unknown system %q", e.System)
	case !validActions[e.Action]:
		return fmt.Errorf("registry entry: unknown action %q", e.Action)
	case strings.Contains(e.Subject, "@") || strings.Contains(e.Ref, "@"):
		return errors.New("registry entry: subject and ref must be pseudonyms, not addresses")
	case strings.ContainsAny(e.Shop+e.Subject+e.Datum+e.Purpose+e.LegalBasis+e.Ref, "\x1f\n\r"):
		return errors.New("registry entry: fields must not contain control characters")
	case e.ExpiresAt.IsZero():
		return errors.New("registry entry needs expires_at")
	}
	return nil
}

const insertEntrySQL = `INSERT INTO registry_entries
    (shop_seq, at, shop, subject, datum, system, action, purpose, legal_basis, expires_at, ref, prev_hash, hash)
VALUES (:shop_seq, :at, :shop, :subject, :datum, :system, :action, :purpose, :legal_basis, :expires_at, :ref, :prev_hash, :hash)`

// insertBatch bounds one INSERT's parameters (13 per row) well under
// Postgres's 65535.
const insertBatch = 2000

// Append writes entries at the heads of their shops' chains inside tx. Each
// shop's head row is locked until tx ends, so concurrent appends from any
// number of processes keep every chain consistent; the entries become
// visible only if tx commits, together with the data movement they
// describe.
func Append(ctx context.Context, tx *sqlx.Tx, now time.Time, entries ...Entry) (Proof, error) {
	if len(entries) == 0 {
		return Proof{}, errors.New("registry: nothing to append")
	}
	at := now.UTC().Truncate(time.Microsecond)
	byShop := map[string][]int{}
	for i, e := range entries {
		if err := e.validate(); err != nil {
			return Proof{}, err
		}
		byShop[e.Shop] = append(byShop[e.Shop], i)
	}
	shops := make([]string, 0, len(byShop))
	for s := range byShop {
		shops = append(shops, s)
	}
	sort.Strings(shops) // a fixed lock order: no deadlocks between appenders

	out := make([]Entry, len(entries))
	for _, shop := range shops {
		if _, err := tx.ExecContext(ctx, `INSERT INTO registry_heads (shop, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING`, shop, GenesisHash); err != nil {
			return Proof{}, fmt.Errorf("registry: create head: %w", err)
		}
		var head Head
		if err := tx.GetContext(ctx, &head, `SELECT shop, seq, hash FROM registry_heads WHERE shop = $1 FOR UPDATE`, shop); err != nil {
			return Proof{}, fmt.Errorf("registry: lock head: %w", err)
		}
		for _, i := range byShop[shop] {
			e := entries[i]
			if e.At.IsZero() {
				e.At = at
			}
			e.At = e.At.UTC().Truncate(time.Microsecond)
			e.ExpiresAt = e.ExpiresAt.UTC().Truncate(time.Microsecond)
			head.Seq++
			e.ShopSeq = head.Seq
			e.PrevHash = head.Hash
			e.Hash = ComputeHash(e.PrevHash, e)
			head.Hash = e.Hash
			out[i] = e
		}
		if _, err := tx.ExecContext(ctx, `UPDATE registry_heads SET seq = $2, hash = $3 WHERE shop = $1`, shop, head.Seq, head.Hash); err != nil {
			return Proof{}, fmt.Errorf("registry: move head: %w", err)
		}
	}
	for start := 0; start < len(out); start += insertBatch {
		end := min(start+insertBatch, len(out))
		if _, err := tx.NamedExecContext(ctx, insertEntrySQL, out[start:end]); err != nil {
			return Proof{}, fmt.Errorf("registry: insert: %w", err)
		}
	}
	return Proof{entries: out}, nil
}

// Entries lists entries in append order, optionally for one shop.
func Entries(ctx context.Context, q sqlx.QueryerContext, shop string) ([]Entry, error) {
	var es []Entry
	err := sqlx.SelectContext(ctx, q, &es, `SELECT * FROM registry_entries WHERE ($1 = '' OR shop = $1) ORDER BY seq`, shop)
	return es, err
}

// VerifyChain checks entries in append order, any mix of shops, chain by
// chain from the genesis hash. It returns the index of the first entry that
// does not fit, or -1 if all do.
func VerifyChain(es []Entry) int {
	prev := map[string]string{}
	for i, e := range es {
		p, ok := prev[e.Shop]
		if !ok {
			p = GenesisHash
		}
		if e.PrevHash != p || ComputeHash(p, e) != e.Hash {
			return i
		}
		prev[e.Shop] = e.Hash
	}
	return -1
}
