package registry

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Checkpoints. An export proves its own rows; it cannot prove the rows
// nobody exported. A checkpoint is every chain's head (the newest entry's
// seq and hash) at a moment, signed with the registry's key and published
// (GET /api/registry/checkpoints, `candor registry checkpoints -o FILE`).
// Anyone who can write the tables, the owner role included, can rewrite
// an entry and recompute every hash after it, but the rewritten chain no
// longer reaches the hash a checkpoint signed at that seq: VerifyCheckpoints
// finds it. The schedule (workflows.RegistryCheckpoint) makes one hourly.

// CheckpointVersion is the format of Checkpoint.
const CheckpointVersion = 1

// ChainHead is one chain's newest entry at a checkpoint.
type ChainHead struct {
	Shop  string `json:"shop" db:"shop"`
	Chain string `json:"chain,omitempty" db:"chain"`
	Seq   int64  `json:"seq" db:"shop_seq"`
	Hash  string `json:"hash" db:"hash"`
}

// Checkpoint is what is signed.
type Checkpoint struct {
	Version   int         `json:"version"`
	At        time.Time   `json:"at"`
	KeyID     string      `json:"key_id"`
	PublicKey string      `json:"public_key"`
	Heads     []ChainHead `json:"heads"`
}

// SignedCheckpoint is a checkpoint and the Ed25519 signature over its JSON.
type SignedCheckpoint struct {
	Checkpoint Checkpoint `json:"checkpoint"`
	Signature  string     `json:"signature"`
}

// headsSQL reads each chain's newest entry from the entries themselves,
// not from registry_heads, which only serialises appends.
const headsSQL = `SELECT DISTINCT ON (shop, chain) shop, chain, shop_seq, hash FROM registry_entries ORDER BY shop, chain, shop_seq DESC`

// MakeCheckpoint checks every chain from the last checkpoint's head (or
// from genesis) to its head now, so a checkpoint never vouches for a chain
// already broken, then signs the heads and stores the checkpoint.
func MakeCheckpoint(ctx context.Context, db *sqlx.DB, s Signer, now time.Time) (SignedCheckpoint, error) {
	// One snapshot for the heads and the segments checked.
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return SignedCheckpoint{}, err
	}
	defer tx.Rollback()
	var heads []ChainHead
	if err := tx.SelectContext(ctx, &heads, headsSQL); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("registry: read chain heads: %w", err)
	}
	prev := map[[2]string]ChainHead{}
	last, err := latestCheckpoint(ctx, tx)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	if last != nil {
		if err := last.verifySignature(append([]ed25519.PublicKey{s.Key.Public().(ed25519.PublicKey)}, s.Earlier...)); err != nil {
			return SignedCheckpoint{}, fmt.Errorf("registry: the last checkpoint: %w", err)
		}
		for _, h := range last.Checkpoint.Heads {
			prev[[2]string{h.Shop, h.Chain}] = h
		}
	}
	now = now.UTC().Truncate(time.Microsecond)
	for _, h := range heads {
		k := [2]string{h.Shop, h.Chain}
		from := prev[k]
		delete(prev, k)
		if err := checkSegment(ctx, tx, h.Shop, h.Chain, from, h.Seq); err != nil {
			return SignedCheckpoint{}, err
		}
	}
	for _, gone := range prev {
		return SignedCheckpoint{}, fmt.Errorf("registry: %s has no entries, but the last checkpoint signed it at seq %d", chainName(gone.Shop, gone.Chain), gone.Seq)
	}
	if heads == nil {
		heads = []ChainHead{}
	}
	cp := Checkpoint{Version: CheckpointVersion, At: now, KeyID: s.KeyID, PublicKey: s.PublicKey(), Heads: heads}
	b, err := json.Marshal(cp)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	signed := SignedCheckpoint{Checkpoint: cp, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, b))}
	body, err := json.Marshal(signed)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO registry_checkpoints (at, checkpoint) VALUES ($1, $2)`, now, string(body)); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("registry: store checkpoint: %w", err)
	}
	return signed, tx.Commit()
}

// checkSegment checks the entries after from up to seq of one chain: each
// in its place, linked to the one before and hashing to its own hash.
func checkSegment(ctx context.Context, q sqlx.QueryerContext, shop, chain string, from ChainHead, to int64) error {
	prevHash := from.Hash
	if from.Seq == 0 {
		prevHash = GenesisHash
	}
	if to < from.Seq {
		return fmt.Errorf("registry: %s ends at seq %d, before the last checkpoint's %d", chainName(shop, chain), to, from.Seq)
	}
	if from.Seq > 0 {
		// The checkpointed entry itself must still be what was signed.
		var h string
		err := sqlx.GetContext(ctx, q, &h, `SELECT hash FROM registry_entries WHERE shop = $1 AND chain = $2 AND shop_seq = $3`, shop, chain, from.Seq)
		if err != nil || h != from.Hash {
			return &TamperError{Shop: shop, Chain: chain, Seq: from.Seq, Why: "differs from the hash the last checkpoint signed"}
		}
	}
	rows, err := q.QueryxContext(ctx, `SELECT * FROM registry_entries WHERE shop = $1 AND chain = $2 AND shop_seq > $3 AND shop_seq <= $4 ORDER BY shop_seq`,
		shop, chain, from.Seq, to)
	if err != nil {
		return fmt.Errorf("registry: read chain %s: %w", chainName(shop, chain), err)
	}
	defer rows.Close()
	want := from.Seq + 1
	for rows.Next() {
		var e Entry
		if err := rows.StructScan(&e); err != nil {
			return err
		}
		switch {
		case e.ShopSeq != want:
			return &TamperError{Shop: shop, Chain: chain, Seq: want, Why: "is missing"}
		case e.PrevHash != prevHash || ComputeHash(prevHash, e) != e.Hash:
			return &TamperError{Shop: shop, Chain: chain, Seq: e.ShopSeq, Why: "does not fit the chain"}
		}
		prevHash, want = e.Hash, want+1
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if want != to+1 {
		return &TamperError{Shop: shop, Chain: chain, Seq: want, Why: "is missing"}
	}
	return nil
}

// TamperError names the first entry that contradicts the chain or a
// signed checkpoint.
type TamperError struct {
	Shop, Chain string
	Seq         int64
	Why         string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("registry: entry %d of %s %s", e.Seq, chainName(e.Shop, e.Chain), e.Why)
}

func latestCheckpoint(ctx context.Context, q sqlx.QueryerContext) (*SignedCheckpoint, error) {
	var body string
	err := sqlx.GetContext(ctx, q, &body, `SELECT checkpoint FROM registry_checkpoints ORDER BY at DESC, id DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: read the last checkpoint: %w", err)
	}
	var s SignedCheckpoint
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		return nil, fmt.Errorf("registry: the last checkpoint is not one: %w", err)
	}
	return &s, nil
}

// Checkpoints lists the stored checkpoints made at or after since, oldest
// first.
func Checkpoints(ctx context.Context, q sqlx.QueryerContext, since time.Time) ([]SignedCheckpoint, error) {
	var bodies []string
	if err := sqlx.SelectContext(ctx, q, &bodies, `SELECT checkpoint FROM registry_checkpoints WHERE at >= $1 ORDER BY at, id`, since); err != nil {
		return nil, err
	}
	out := make([]SignedCheckpoint, 0, len(bodies))
	for _, b := range bodies {
		var s SignedCheckpoint
		if err := json.Unmarshal([]byte(b), &s); err != nil {
			return nil, fmt.Errorf("registry: a stored checkpoint is not one: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

func (s SignedCheckpoint) verifySignature(pinned []ed25519.PublicKey) error {
	b, err := json.Marshal(s.Checkpoint)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err == nil {
		for _, pub := range pinned {
			if ed25519.Verify(pub, b, sig) {
				return nil
			}
		}
	}
	return fmt.Errorf("checkpoint of %s: signature does not verify with a pinned key", s.Checkpoint.At.Format(time.RFC3339))
}

// VerifyCheckpoints checks the registry in db against checkpoints signed by
// pub (kept apart from the database: a file, the endpoint's answer). Every
// chain a checkpoint names must still lead, entry by entry from genesis,
// to the hash it signed at that seq. It returns the number of heads
// checked, and a *TamperError for the first entry that does not fit.
func VerifyCheckpoints(ctx context.Context, db *sqlx.DB, cps []SignedCheckpoint, pinned ...ed25519.PublicKey) (int, error) {
	type key struct{ shop, chain string }
	want := map[key]map[int64]string{}
	for _, cp := range cps {
		if err := cp.verifySignature(pinned); err != nil {
			return 0, err
		}
		for _, h := range cp.Checkpoint.Heads {
			k := key{h.Shop, h.Chain}
			if want[k] == nil {
				want[k] = map[int64]string{}
			}
			want[k][h.Seq] = h.Hash
		}
	}
	checked := 0
	for k, seqs := range want {
		var top int64
		for s := range seqs {
			top = max(top, s)
		}
		rows, err := db.QueryxContext(ctx, `SELECT * FROM registry_entries WHERE shop = $1 AND chain = $2 AND shop_seq <= $3 ORDER BY shop_seq`, k.shop, k.chain, top)
		if err != nil {
			return checked, err
		}
		prev, next := GenesisHash, int64(1)
		for rows.Next() {
			var e Entry
			if err := rows.StructScan(&e); err != nil {
				rows.Close()
				return checked, err
			}
			var why string
			switch {
			case e.ShopSeq != next:
				why, e.ShopSeq = "is missing", next
			case e.PrevHash != prev || ComputeHash(prev, e) != e.Hash:
				why = "does not fit the chain"
			case seqs[e.ShopSeq] != "" && seqs[e.ShopSeq] != e.Hash:
				why = "differs from the hash a signed checkpoint holds"
			}
			if why != "" {
				rows.Close()
				return checked, &TamperError{Shop: k.shop, Chain: k.chain, Seq: e.ShopSeq, Why: why}
			}
			if seqs[e.ShopSeq] != "" {
				checked++
			}
			prev, next = e.Hash, next+1
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return checked, err
		}
		if next <= top {
			return checked, &TamperError{Shop: k.shop, Chain: k.chain, Seq: next, Why: "is missing"}
		}
	}
	return checked, nil
}
