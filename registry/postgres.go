package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
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

// lockHeadsSQL takes the head row locks of several chains and reads their
// heads in one round trip, creating a chain at the genesis hash on first
// use. The rows are taken in the order given, which the caller sorts: a
// fixed lock order, so appenders never deadlock.
const lockHeadsSQL = `INSERT INTO registry_heads AS h (shop, chain, seq, hash)
SELECT u.shop, u.chain, 0, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(shop, chain, n) ORDER BY u.n
ON CONFLICT (shop, chain) DO UPDATE SET shop = h.shop RETURNING shop, chain, seq, hash`

const entryColumns = "chain, shop_seq, at, shop, subject, datum, system, action, purpose, legal_basis, expires_at, ref, prev_hash, hash"

// insertSQL writes entries from one array per column and moves each
// chain's head to its last entry, in one statement however many entries
// and chains there are: Postgres parses and binds 18 parameters far faster
// than a VALUES list of thousands (the retention sweep appends thousands at
// once), and a webhook batch over many shops costs one statement, not one a
// shop. The rows go in in array order, so seq follows each chain's order.
const insertSQL = `WITH ins AS (INSERT INTO registry_entries (` + entryColumns + `)
    SELECT u.* FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
        $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::text[], $14::text[]) AS u)
UPDATE registry_heads AS h SET seq = m.seq, hash = m.hash
    FROM unnest($15::text[], $16::text[], $17::bigint[], $18::text[]) AS m(shop, chain, seq, hash)
    WHERE h.shop = m.shop AND h.chain = m.chain`

// pgTime is how a timestamp travels in a text array: microseconds, UTC, as
// the entry's hash saw it.
const pgTime = "2006-01-02T15:04:05.999999Z07:00"

// insertAndMove writes es (grouped by chain, each chain in its order) and
// moves each chain's head to its last entry.
func insertAndMove(ctx context.Context, tx *sqlx.Tx, es []Entry) error {
	// The array literals are written here rather than by pq.Array from a
	// []string per column: that allocated every cell twice and formatted
	// every timestamp, and the sweep appends a million entries, most of a
	// batch sharing its times.
	var at, expires cachedTime
	row := func(e Entry) [13]string {
		return [13]string{e.Chain, at.format(e.At), e.Shop, e.Subject, e.Datum, e.System, e.Action, e.Purpose,
			e.LegalBasis, expires.format(e.ExpiresAt), e.Ref, e.PrevHash, e.Hash}
	}
	var cols [13]arrayLiteral
	for j, v := range row(es[0]) {
		cols[j].b = make([]byte, 0, len(es)*(len(v)+4)+2) // sized from the first entry: few regrowths
	}
	var heads [4]arrayLiteral // shop, chain, seq, hash of each chain's last entry
	seq := make([]byte, 0, len(es)*8)
	for i, e := range es {
		if i > 0 {
			seq = append(seq, ',')
		}
		seq = strconv.AppendInt(seq, e.ShopSeq, 10)
		for j, v := range row(e) {
			cols[j].add(v)
		}
		if i == len(es)-1 || es[i+1].Shop != e.Shop || es[i+1].Chain != e.Chain {
			heads[0].add(e.Shop)
			heads[1].add(e.Chain)
			heads[2].add(strconv.FormatInt(e.ShopSeq, 10))
			heads[3].add(e.Hash)
		}
	}
	args := make([]any, 0, 18)
	args = append(args, cols[0].String(), "{"+string(seq)+"}")
	for i := 1; i < len(cols); i++ {
		args = append(args, cols[i].String())
	}
	for i := range heads {
		args = append(args, heads[i].String())
	}
	if _, err := tx.ExecContext(ctx, insertSQL, args...); err != nil {
		return fmt.Errorf("registry: insert: %w", err)
	}
	return nil
}

// arrayLiteral builds a Postgres array literal, every element quoted.
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
type touch struct{ shop, ref, system, action, datum string }

func touchOf(e Entry) touch { return touch{e.Shop, e.Ref, e.System, e.Action, e.Datum} }

// recordedSQL lists the touches the registry holds for some refs, in any
// shop and chain; recorded keeps those of the shops asked about. A ref names
// one shop's request, so few rows come back, through the index on ref.
const recordedSQL = `SELECT shop, ref, system, action, datum FROM registry_entries WHERE ref = ANY($1)`

// recorded reads which of the touches of entries[idx] the registry holds,
// in any of their shop's chains.
func recorded(ctx context.Context, tx *sqlx.Tx, entries []Entry, idx []int) (map[touch]bool, error) {
	type pair struct{ shop, ref string }
	asked := map[pair]bool{}
	var refs []string
	for _, i := range idx {
		p := pair{entries[i].Shop, entries[i].Ref}
		if !asked[p] {
			asked[p] = true
			refs = append(refs, p.ref)
		}
	}
	rows, err := tx.QueryContext(ctx, recordedSQL, pq.Array(refs))
	if err != nil {
		return nil, fmt.Errorf("registry: read recorded touches: %w", err)
	}
	defer rows.Close()
	seen := map[touch]bool{}
	for rows.Next() {
		var t touch
		if err := rows.Scan(&t.shop, &t.ref, &t.system, &t.action, &t.datum); err != nil {
			return nil, fmt.Errorf("registry: read recorded touches: %w", err)
		}
		if asked[pair{t.shop, t.ref}] {
			seen[t] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: read recorded touches: %w", err)
	}
	return seen, nil
}

// appendEntries appends entries[:onceFrom] always, and of entries[onceFrom:]
// the touches the registry does not hold yet. However many chains the
// entries fall in, that is three statements: lock the heads, read what is
// recorded (only with once entries), insert and move the heads.
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
	shops, chains := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		shops[i], chains[i] = k.shop, k.chain
	}

	obs := observerOf(ctx)
	locking := time.Now()
	rows, err := tx.QueryxContext(ctx, lockHeadsSQL, pq.Array(shops), pq.Array(chains), GenesisHash)
	if err != nil {
		return Proof{}, fmt.Errorf("registry: lock heads: %w", err)
	}
	heads := make(map[key]Head, len(keys))
	for rows.Next() {
		var h Head
		if err := rows.StructScan(&h); err != nil {
			rows.Close()
			return Proof{}, fmt.Errorf("registry: lock heads: %w", err)
		}
		heads[key{h.Shop, h.Chain}] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Proof{}, fmt.Errorf("registry: lock heads: %w", err)
	}
	if len(heads) != len(keys) {
		return Proof{}, fmt.Errorf("registry: lock heads: %d of %d chains answered", len(heads), len(keys))
	}
	if obs != nil {
		obs.HeadLockWaited(time.Since(locking))
	}

	var seen map[touch]bool
	if onceFrom < len(entries) {
		once := make([]int, 0, len(entries)-onceFrom)
		for i := onceFrom; i < len(entries); i++ {
			once = append(once, i)
		}
		if seen, err = recorded(ctx, tx, entries, once); err != nil {
			return Proof{}, err
		}
	}
	out := make([]Entry, 0, len(entries))
	for _, k := range keys {
		head := heads[k]
		for _, i := range byChain[k] {
			e := entries[i]
			if i >= onceFrom {
				// Once per touch: not if the registry holds it, nor twice
				// within this append.
				t := touchOf(e)
				if seen[t] {
					continue
				}
				seen[t] = true
			}
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
		}
	}
	if len(out) == 0 {
		return Proof{}, nil
	}
	if err := insertAndMove(ctx, tx, out); err != nil {
		return Proof{}, err
	}
	if obs != nil {
		for _, e := range out {
			obs.Appended(e.System, e.Action)
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
