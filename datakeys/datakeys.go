// Package datakeys owns Candor's data keys: random 256-bit keys, one per
// review request (rq_…) and one per data subject (sub_…), plus one service
// key. They encrypt Temporal payloads (codec.go) and the personal data
// Candor must keep for a while (the address of a customer being erased).
//
// A data key is stored only wrapped under the master key's KEK, in Postgres
// table data_keys. Erasure deletes the row (Shred): from then on every copy
// of what the key encrypted, in a backup, a replica or a leftover workflow
// history, is ciphertext nobody can open. That is crypto-shredding.
//
// It never logs, and it never returns a key's bytes.
package datakeys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
)

// ServiceOwner owns the key for payloads tied to no customer (privacy and
// retention workflows, schedules).
const ServiceOwner = "service"

// ErrShredded means the data key no longer exists: what it encrypted is
// gone for good. For a review request's key it also means no new key is
// made for that request (For), so nothing more about it can be written.
var ErrShredded = errors.New("data key destroyed by an erasure (crypto-shredded)")

// ShreddedErrorType is the Temporal application error type of a workflow
// that ended because its data key was destroyed: not retried, since no
// retry can bring the key back.
const ShreddedErrorType = "DataKeyShredded"

// cacheFor bounds how long an unwrapped key stays in a process's memory. An
// erasure forgets its keys at once in the process that runs it; other
// processes drop them within this time.
const cacheFor = 30 * time.Second

// CacheSize bounds how many unwrapped keys a process keeps: the least
// recently used goes first. A worker asks for the key of every live request
// whose workflow it runs (each activity's payloads are encrypted under it),
// so the cache holds five times the 10,000 live requests at which a
// process's lookups would otherwise start going to Postgres. An entry (the
// AES-GCM state of one key, its IDs) takes about 1.2 KiB of heap: a full
// cache measured 57.5 MiB (2026-12-02).
const CacheSize = 50_000

// Keys finds, creates and destroys data keys.
type Keys struct {
	db   *store.DB
	ring *keys.Ring
	now  func() time.Time

	mu      sync.Mutex
	byID    *simplelru.LRU[string, cached]
	byOwner map[string]string // shop + "\x00" + owner → ID, of the keys in byID
}

type cached struct {
	key         keys.DataKey
	shop, owner string
	at          time.Time
}

// New returns the data keys kept in db, wrapped under ring's master key.
func New(db *store.DB, ring *keys.Ring) *Keys {
	return newKeys(db, ring, CacheSize)
}

func newKeys(db *store.DB, ring *keys.Ring, size int) *Keys {
	k := &Keys{db: db, ring: ring, now: time.Now, byOwner: map[string]string{}}
	// Whatever leaves byID (evicted, expired or forgotten) leaves byOwner
	// with it. The callback runs inside byID's methods, under k.mu.
	k.byID, _ = simplelru.NewLRU(size, func(id string, c cached) {
		if o := ownerKey(c.shop, c.owner); k.byOwner[o] == id {
			delete(k.byOwner, o)
		}
	})
	return k
}

// Ring is the key ring that wraps the data keys.
func (k *Keys) Ring() *keys.Ring { return k.ring }

func ownerKey(shop, owner string) string { return shop + "\x00" + owner }

func (k *Keys) cachedByID(id string) (cached, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.byID.Get(id)
	if ok && k.now().Sub(c.at) > cacheFor {
		k.byID.Remove(id)
		return cached{}, false
	}
	return c, ok
}

func (k *Keys) cachedByOwner(shop, owner string) (keys.DataKey, bool) {
	k.mu.Lock()
	id, ok := k.byOwner[ownerKey(shop, owner)]
	k.mu.Unlock()
	if !ok {
		return keys.DataKey{}, false
	}
	c, ok := k.cachedByID(id)
	return c.key, ok
}

func (k *Keys) remember(shop, owner string, dk keys.DataKey) cached {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := cached{key: dk, shop: shop, owner: owner, at: k.now()}
	k.byID.Add(dk.ID, c)
	if owner != "" {
		k.byOwner[ownerKey(shop, owner)] = dk.ID
	}
	return c
}

// Forget drops keys from this process's cache (after they were shredded).
func (k *Keys) Forget(ids ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range ids {
		k.byID.Remove(id)
	}
}

// ForgetOwners drops these owners' keys from this process's cache, however
// they were destroyed (a request's key goes with its row, by trigger).
// owners nil forgets every key of the shop.
func (k *Keys) ForgetOwners(shop string, owners []string) {
	drop := map[string]bool{}
	for _, o := range owners {
		drop[o] = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range k.byID.Keys() {
		if c, _ := k.byID.Peek(id); c.shop == shop && (owners == nil || drop[c.owner]) {
			k.byID.Remove(id)
		}
	}
}

type row struct {
	ID      string `db:"id"`
	Shop    string `db:"shop"`
	Owner   string `db:"owner"`
	Wrapped string `db:"wrapped"`
}

// For returns owner's key in shop, creating it on first use. Owners are
// request IDs (rq_…), subjects (sub_…) or ServiceOwner (shop ""). A
// request's key that was destroyed is never created again (migration 0013
// records it): For returns an error wrapping ErrShredded.
func (k *Keys) For(ctx context.Context, shop, owner string) (keys.DataKey, error) {
	if owner == "" {
		return keys.DataKey{}, errors.New("a data key needs an owner")
	}
	if dk, ok := k.cachedByOwner(shop, owner); ok {
		return dk, nil
	}
	// Most owners are new when first asked (a webhook starting a request):
	// try to insert a fresh key first, one round trip; read the stored one
	// when it exists already (or another process won the race).
	fresh, err := keys.NewDataKey()
	if err != nil {
		return keys.DataKey{}, err
	}
	wrapped, err := k.ring.WrapDataKey(fresh)
	if err != nil {
		return keys.DataKey{}, err
	}
	var r row
	err = k.db.GetContext(ctx, &r, `INSERT INTO data_keys (id, shop, owner, wrapped)
		SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM shredded_data_keys WHERE shop = $2 AND owner = $3)
		ON CONFLICT (shop, owner) DO NOTHING RETURNING id, shop, owner, wrapped`, fresh.ID, shop, owner, wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		err = k.db.GetContext(ctx, &r, `SELECT id, shop, owner, wrapped FROM data_keys WHERE shop = $1 AND owner = $2`, shop, owner)
		if errors.Is(err, sql.ErrNoRows) { // neither made nor found: it was destroyed
			return keys.DataKey{}, fmt.Errorf("data key of %s: %w", owner, ErrShredded)
		}
	}
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("read a data key: %w", err)
	}
	dk, err := k.ring.UnwrapDataKey(r.ID, r.Wrapped)
	if err != nil {
		return keys.DataKey{}, err
	}
	k.remember(shop, owner, dk)
	return dk, nil
}

// Existing returns owner's key in shop if it exists, and never creates one:
// ok false when there is none. A request's key that was destroyed is an
// error wrapping ErrShredded, as with For.
func (k *Keys) Existing(ctx context.Context, shop, owner string) (dk keys.DataKey, ok bool, err error) {
	if dk, ok := k.cachedByOwner(shop, owner); ok {
		return dk, true, nil
	}
	var r row
	err = k.db.GetContext(ctx, &r, `SELECT id, shop, owner, wrapped FROM data_keys WHERE shop = $1 AND owner = $2`, shop, owner)
	if errors.Is(err, sql.ErrNoRows) {
		var shredded bool
		if err := k.db.GetContext(ctx, &shredded, `SELECT EXISTS (SELECT 1 FROM shredded_data_keys WHERE shop = $1 AND owner = $2)`, shop, owner); err != nil {
			return keys.DataKey{}, false, fmt.Errorf("read a data key: %w", err)
		}
		if shredded {
			return keys.DataKey{}, false, fmt.Errorf("data key of %s: %w", owner, ErrShredded)
		}
		return keys.DataKey{}, false, nil
	}
	if err != nil {
		return keys.DataKey{}, false, fmt.Errorf("read a data key: %w", err)
	}
	if dk, err = k.ring.UnwrapDataKey(r.ID, r.Wrapped); err != nil {
		return keys.DataKey{}, false, err
	}
	k.remember(shop, owner, dk)
	return dk, true, nil
}

// Get returns the key with this ID, or ErrShredded if it was destroyed.
func (k *Keys) Get(ctx context.Context, id string) (keys.DataKey, error) {
	c, err := k.get(ctx, id)
	return c.key, err
}

func (k *Keys) get(ctx context.Context, id string) (cached, error) {
	if c, ok := k.cachedByID(id); ok {
		return c, nil
	}
	var r row
	err := k.db.GetContext(ctx, &r, `SELECT id, shop, owner, wrapped FROM data_keys WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return cached{}, fmt.Errorf("data key %s: %w", id, ErrShredded)
	}
	if err != nil {
		return cached{}, fmt.Errorf("read data key %s: %w", id, err)
	}
	dk, err := k.ring.UnwrapDataKey(r.ID, r.Wrapped)
	if err != nil {
		return cached{}, err
	}
	return k.remember(r.Shop, r.Owner, dk), nil
}

// OwnerOf says whose key id is (shop, owner), or ErrShredded.
func (k *Keys) OwnerOf(ctx context.Context, id string) (string, string, error) {
	c, err := k.get(ctx, id)
	if err != nil {
		return "", "", err
	}
	return c.shop, c.owner, nil
}

// Seal encrypts personal data that must be stored under owner's key;
// aad binds it to its row.
func (k *Keys) Seal(ctx context.Context, shop, owner string, plaintext []byte, aad string) (string, error) {
	dk, err := k.For(ctx, shop, owner)
	if err != nil {
		return "", err
	}
	return dk.Seal(plaintext, aad)
}

// Open decrypts a value made by Seal, or by the key ring's Seal (values
// from before data keys, and secrets that belong to no person).
func (k *Keys) Open(ctx context.Context, sealed, aad string) ([]byte, error) {
	id := keys.SealedKeyID(sealed)
	if !strings.HasPrefix(id, keys.DataKeyPrefix) {
		return k.ring.Open(sealed, aad)
	}
	dk, err := k.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return dk.Open(sealed, aad)
}

// Shred destroys the keys of these owners in shop, inside the caller's
// transaction (which also records the erasure), and returns their IDs.
// Call Forget with them once the transaction commits.
func Shred(ctx context.Context, tx *sqlx.Tx, shop string, owners []string) ([]string, error) {
	var ids []string
	err := tx.SelectContext(ctx, &ids, `DELETE FROM data_keys WHERE shop = $1 AND owner = ANY($2) RETURNING id`,
		shop, pq.Array(owners))
	return ids, err
}

// ShredShop destroys every data key of a shop.
func ShredShop(ctx context.Context, tx *sqlx.Tx, shop string) ([]string, error) {
	var ids []string
	err := tx.SelectContext(ctx, &ids, `DELETE FROM data_keys WHERE shop = $1 RETURNING id`, shop)
	return ids, err
}

// LoadIdentity makes ring use the installation's identity keys (pseudonyms,
// request IDs, link tokens, registry signing), stored sealed in Postgres.
// The first process to run stores the identity its master key derives, or,
// when previous master keys are configured (a rotation of an installation
// that never stored it), the identity of the oldest of them.
func LoadIdentity(ctx context.Context, db sqlx.ExtContext, ring *keys.Ring, previous ...[]byte) error {
	var sealed string
	err := sqlx.GetContext(ctx, db, &sealed, `SELECT sealed FROM key_identity`)
	if err == nil {
		if err := ring.AdoptIdentity(sealed); err != nil {
			return err
		}
		return LoadRotatingKeys(ctx, db, ring)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the identity keys: %w", err)
	}
	if len(previous) > 0 {
		if err := ring.UseIdentityOf(previous[len(previous)-1]); err != nil {
			return err
		}
	}
	if sealed, err = ring.SealIdentity(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO key_identity (sealed) VALUES ($1) ON CONFLICT DO NOTHING`, sealed); err != nil {
		return fmt.Errorf("store the identity keys: %w", err)
	}
	// Another process may have won the race: adopt what is stored.
	if err := sqlx.GetContext(ctx, db, &sealed, `SELECT sealed FROM key_identity`); err != nil {
		return fmt.Errorf("read the identity keys: %w", err)
	}
	if err := ring.AdoptIdentity(sealed); err != nil {
		return err
	}
	return LoadRotatingKeys(ctx, db, ring)
}
