package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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

// Head is the newest entry of one chain.
type Head struct {
	Shop  string `db:"shop"`
	Chain string `db:"chain"`
	Seq   int64  `db:"seq"`
	Hash  string `db:"hash"`
}

// Chains. A shop's registry is two hash chains: the retention sweep's
// entries, and everything else. Append picks the chain from the entry's
// purpose. The sweep appends hundreds of entries per batch and holds its
// chain's head until the batch commits; on a chain of its own it never
// holds up a webhook, and a webhook never holds up the sweep.
const (
	ChainMain      = ""
	ChainRetention = "retention"
)

// chainOf is the chain an entry is appended to.
func chainOf(e Entry) string {
	if e.Purpose == PurposeRetention {
		return ChainRetention
	}
	return ChainMain
}

var validActions = map[string]bool{ActionCollected: true, ActionStored: true, ActionRead: true,
	ActionTransmitted: true, ActionDeleted: true, ActionErased: true, ActionRefused: true}

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
	case e.ExpiresAt.IsZero():
		return errors.New("registry entry needs expires_at")
	}
	for _, f := range [...]string{e.Shop, e.Subject, e.Datum, e.Purpose, e.LegalBasis, e.Ref} {
		if strings.ContainsAny(f, "\x1f\n\r") {
			return errors.New("registry entry: fields must not contain control characters")
		}
	}
	return nil
}

// lockHeadSQL takes the chain's head row lock and reads the head in one
// round trip, creating the chain at the genesis hash on first use.
const lockHeadSQL = `INSERT INTO registry_heads AS h (shop, chain, seq, hash) VALUES ($1, $2, 0, $3)
ON CONFLICT (shop, chain) DO UPDATE SET shop = h.shop RETURNING seq, hash`

// insertBatch bounds one INSERT's parameters (14 per row) well under
// Postgres's 65535.
const insertBatch = 2000

const entryColumns = "chain, shop_seq, at, shop, subject, datum, system, action, purpose, legal_basis, expires_at, ref, prev_hash, hash"

// bulkFrom is the chain length from which insertAndMove sends columns as
// arrays: one statement with 17 parameters, however many entries, which
// Postgres parses and binds far faster than a VALUES list of thousands of
// parameters (the retention sweep appends thousands at once).
const bulkFrom = 256

// insertBulkSQL unnests one array per column.
const insertBulkSQL = `WITH ins AS (INSERT INTO registry_entries (` + entryColumns + `)
    SELECT $17::text, u.* FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::text[]) AS u)
UPDATE registry_heads SET seq = $14, hash = $15 WHERE shop = $16 AND chain = $17`

// pgTime is how a timestamp travels in a text array: microseconds, UTC, as
// the entry's hash saw it.
const pgTime = "2006-01-02T15:04:05.999999Z07:00"

func insertBulk(ctx context.Context, tx *sqlx.Tx, es []Entry) error {
	// The array literals are written here rather than by pq.Array from a
	// []string per column: that allocated every cell twice and formatted
	// every timestamp, and the sweep appends a million entries, most of a
	// batch sharing its times.
	var at, expires cachedTime
	row := func(e Entry) [12]string {
		return [12]string{at.format(e.At), e.Shop, e.Subject, e.Datum, e.System, e.Action, e.Purpose,
			e.LegalBasis, expires.format(e.ExpiresAt), e.Ref, e.PrevHash, e.Hash}
	}
	var cols [12]arrayLiteral
	for j, v := range row(es[0]) {
		cols[j].b = make([]byte, 0, len(es)*(len(v)+4)+2) // sized from the first entry: few regrowths
	}
	seq := make([]byte, 0, len(es)*8)
	for i, e := range es {
		if i > 0 {
			seq = append(seq, ',')
		}
		seq = strconv.AppendInt(seq, e.ShopSeq, 10)
		for j, v := range row(e) {
			cols[j].add(v)
		}
	}
	args := make([]any, 0, 17)
	args = append(args, "{"+string(seq)+"}")
	for i := range cols {
		args = append(args, cols[i].String())
	}
	tail := es[len(es)-1]
	args = append(args, tail.ShopSeq, tail.Hash, tail.Shop, tail.Chain)
	if _, err := tx.ExecContext(ctx, insertBulkSQL, args...); err != nil {
		return fmt.Errorf("registry: insert: %w", err)
	}
	return nil
}

// arrayLiteral builds a Postgres text[] literal, every element quoted.
type arrayLiteral struct{ b []byte }

func (a *arrayLiteral) add(s string) {
	if len(a.b) == 0 {
		a.b = append(a.b, '{')
	} else {
		a.b = append(a.b, ',')
	}
	a.b = append(a.b, '"')
	if !strings.ContainsAny(s, `"\`) {
		a.b = append(a.b, s...)
	} else {
		for i := 0; i < len(s); i++ {
			if s[i] == '"' || s[i] == '\\' {
				a.b = append(a.b, '\\')
			}
			a.b = append(a.b, s[i])
		}
	}
	a.b = append(a.b, '"')
}

func (a *arrayLiteral) String() string {
	if len(a.b) == 0 {
		return "{}"
	}
	return string(append(a.b, '}'))
}

// cachedTime formats a timestamp as pgTime, once per distinct value.
type cachedTime struct {
	t time.Time
	s string
}

func (c *cachedTime) format(t time.Time) string {
	if c.s == "" || !t.Equal(c.t) {
		c.t, c.s = t, t.UTC().Format(pgTime)
	}
	return c.s
}

// insertAndMove writes es (one chain's, in chain order) and moves the head to
// the last of them. The last chunk and the head update are one statement, so
// the locked section costs two round trips however many entries there are.
func insertAndMove(ctx context.Context, tx *sqlx.Tx, es []Entry) error {
	if len(es) >= bulkFrom {
		return insertBulk(ctx, tx, es)
	}
	for start := 0; start < len(es); start += insertBatch {
		chunk := es[start:min(start+insertBatch, len(es))]
		last := start+insertBatch >= len(es)
		var q strings.Builder
		args := make([]any, 0, len(chunk)*14+4)
		if last {
			q.WriteString("WITH ins AS (")
		}
		q.WriteString("INSERT INTO registry_entries (" + entryColumns + ") VALUES ")
		for i, e := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)",
				n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12, n+13, n+14)
			args = append(args, e.Chain, e.ShopSeq, e.At, e.Shop, e.Subject, e.Datum, e.System, e.Action, e.Purpose,
				e.LegalBasis, e.ExpiresAt, e.Ref, e.PrevHash, e.Hash)
		}
		if last {
			tail := chunk[len(chunk)-1]
			n := len(args)
			fmt.Fprintf(&q, ") UPDATE registry_heads SET seq = $%d, hash = $%d WHERE shop = $%d AND chain = $%d", n+1, n+2, n+3, n+4)
			args = append(args, tail.ShopSeq, tail.Hash, tail.Shop, tail.Chain)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("registry: insert: %w", err)
		}
	}
	return nil
}

// Append writes entries at the heads of their chains inside tx (each
// shop's main chain, or its retention chain for purpose retention). Each
// chain's head row is locked until tx ends, so concurrent appends from any
// number of processes keep every chain consistent; the entries become
// visible only if tx commits, together with the data movement they
// describe.
func Append(ctx context.Context, tx *sqlx.Tx, now time.Time, entries ...Entry) (Proof, error) {
	return appendEntries(ctx, tx, now, entries, len(entries))
}

// AppendOnce is Append for touches that happen once per ref, written by a
// caller that may have to write them again after a failure it cannot see
// the end of (a workflow start whose registry commit failed). It leaves out
// every entry whose touch the registry already holds, anywhere in the shop's
// chains: the same shop, ref, system, action and datum. The check runs under
// the chain's head lock, so of any number of concurrent writers of one touch
// exactly one appends it. The Proof covers only what this call appended.
func AppendOnce(ctx context.Context, tx *sqlx.Tx, now time.Time, entries ...Entry) (Proof, error) {
	return appendEntries(ctx, tx, now, entries, 0)
}

// AppendWithOnce is Append of entries and AppendOnce of once in one pass:
// each chain's head is locked and moved once, as a caller with both kinds
// (webhook intake) would otherwise do twice.
func AppendWithOnce(ctx context.Context, tx *sqlx.Tx, now time.Time, entries, once []Entry) (Proof, error) {
	all := make([]Entry, 0, len(entries)+len(once))
	all = append(append(all, entries...), once...)
	return appendEntries(ctx, tx, now, all, len(entries))
}

// touch is what makes two entries the same touch for AppendOnce.
type touch struct{ ref, system, action, datum string }

// recordedSQL lists the touches a shop's registry holds for some refs.
const recordedSQL = `SELECT ref, system, action, datum FROM registry_entries WHERE shop = $1 AND ref = ANY($2)`

// unrecorded leaves out of idx (entries' indexes, one chain's) the touches
// the shop's registry already holds, and repeats within idx.
func unrecorded(ctx context.Context, tx *sqlx.Tx, shop string, entries []Entry, idx []int) ([]int, error) {
	refs := make([]string, 0, len(idx))
	for _, i := range idx {
		refs = append(refs, entries[i].Ref)
	}
	rows, err := tx.QueryContext(ctx, recordedSQL, shop, pq.Array(refs))
	if err != nil {
		return nil, fmt.Errorf("registry: read recorded touches: %w", err)
	}
	defer rows.Close()
	seen := map[touch]bool{}
	for rows.Next() {
		var t touch
		if err := rows.Scan(&t.ref, &t.system, &t.action, &t.datum); err != nil {
			return nil, fmt.Errorf("registry: read recorded touches: %w", err)
		}
		seen[t] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: read recorded touches: %w", err)
	}
	out := idx[:0:0]
	for _, i := range idx {
		e := entries[i]
		t := touch{e.Ref, e.System, e.Action, e.Datum}
		if !seen[t] {
			seen[t] = true
			out = append(out, i)
		}
	}
	return out, nil
}

// appendEntries appends entries[:onceFrom] always, and of entries[onceFrom:]
// the touches the shop's registry does not hold yet.
func appendEntries(ctx context.Context, tx *sqlx.Tx, now time.Time, entries []Entry, onceFrom int) (Proof, error) {
	if len(entries) == 0 {
		return Proof{}, errors.New("registry: nothing to append")
	}
	at := now.UTC().Truncate(time.Microsecond)
	type key struct{ shop, chain string }
	byChain := map[key][]int{}
	for i, e := range entries {
		if err := e.validate(); err != nil {
			return Proof{}, err
		}
		k := key{e.Shop, chainOf(e)}
		byChain[k] = append(byChain[k], i)
	}
	keys := make([]key, 0, len(byChain))
	for k := range byChain {
		keys = append(keys, k)
	}
	// A fixed lock order: no deadlocks between appenders.
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(strings.Compare(a.shop, b.shop), strings.Compare(a.chain, b.chain))
	})

	obs := observerOf(ctx)
	out := make([]Entry, 0, len(entries))
	for _, k := range keys {
		var head Head
		locking := time.Now()
		if err := tx.QueryRowxContext(ctx, lockHeadSQL, k.shop, k.chain, GenesisHash).Scan(&head.Seq, &head.Hash); err != nil {
			return Proof{}, fmt.Errorf("registry: lock head: %w", err)
		}
		if obs != nil {
			obs.HeadLockWaited(time.Since(locking))
		}
		idx := byChain[k]
		if split := sort.SearchInts(idx, onceFrom); split < len(idx) {
			fresh, err := unrecorded(ctx, tx, k.shop, entries, idx[split:])
			if err != nil {
				return Proof{}, err
			}
			idx = append(idx[:split:split], fresh...)
			if len(idx) == 0 {
				continue
			}
		}
		chain := make([]Entry, 0, len(idx))
		for _, i := range idx {
			e := entries[i]
			e.Chain = k.chain
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
			out = append(out, e)
			chain = append(chain, e)
		}
		if err := insertAndMove(ctx, tx, chain); err != nil {
			return Proof{}, err
		}
		if obs != nil {
			for _, e := range chain {
				obs.Appended(e.System, e.Action)
			}
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

// VerifyChain checks entries as read from the database, in append order,
// any mix of shops and chains, chain by chain from the genesis hash. It
// returns the index of the first entry that does not fit, or -1 if all do.
func VerifyChain(es []Entry) int {
	type key struct{ shop, chain string }
	prev := map[key]string{}
	for i, e := range es {
		k := key{e.Shop, e.Chain}
		p, ok := prev[k]
		if !ok {
			p = GenesisHash
		}
		if e.PrevHash != p || ComputeHash(p, e) != e.Hash {
			return i
		}
		prev[k] = e.Hash
	}
	return -1
}
