// Package keys derives every key Candor uses from the master key and
// implements the few primitives built on them: sealing secrets at rest,
// pseudonyms for data subjects, opaque request IDs and signed link tokens.
//
// Two families of keys come from the master key, and they rotate
// differently:
//   - the key-encryption key (KEK) seals secrets and wraps data keys. It
//     rotates: a Ring holds the current master key and, during a rotation,
//     the previous ones, opening what any of them sealed and sealing only
//     with the current one.
//   - the identity keys (pseudonyms, request IDs, link tokens, the registry's
//     signing key) name things that must stay the same for years: registry
//     subjects and refs, links already in inboxes, published signatures.
//     They are derived from the first master key once, kept sealed (by
//     package datakeys, in Postgres) under the current KEK, and adopted by
//     every later Ring, so rotation never changes them.
//
// It must never hand out a master key, and it never logs.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Ring holds the keys derived from the master key (and, during a rotation,
// the previous master keys).
type Ring struct {
	id        string // key ID: names the current master key in sealed values
	seal      cipher.AEAD
	open      map[string]cipher.AEAD // every KEK held, by key ID
	pseudonym []byte
	link      []byte
	request   []byte
	// identitySigning is the signing key's seed as the identity holds it.
	identitySigning []byte

	// The rotating keys (rotating.go), replaced while the Ring is in use.
	mu      sync.RWMutex
	login   []byte
	signing ed25519.PrivateKey
}

func derive(master []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, "candor/v1/"+purpose, 32)
	if err != nil {
		panic(err) // only fails for lengths we never ask for
	}
	return k
}

func kek(master []byte) (string, cipher.AEAD, error) {
	if len(master) != 32 {
		return "", nil, fmt.Errorf("master key must be 32 bytes, got %d", len(master))
	}
	block, err := aes.NewCipher(derive(master, "seal"))
	if err != nil {
		return "", nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", nil, err
	}
	kid := sha256.Sum256(derive(master, "key-id"))
	return hex.EncodeToString(kid[:4]), aead, nil
}

// New derives a Ring from a 32-byte master key. Previous master keys, if
// any, are held only to open what they sealed (a rotation in progress).
// Until AdoptIdentity is called, the identity keys are derived from master.
func New(master []byte, previous ...[]byte) (*Ring, error) {
	id, aead, err := kek(master)
	if err != nil {
		return nil, err
	}
	r := &Ring{id: id, seal: aead, open: map[string]cipher.AEAD{id: aead}}
	for i, p := range previous {
		pid, paead, err := kek(p)
		if err != nil {
			return nil, fmt.Errorf("previous master key %d: %w", i+1, err)
		}
		if _, dup := r.open[pid]; !dup {
			r.open[pid] = paead
		}
	}
	r.setIdentity(identityFrom(master))
	return r, nil
}

// identity is the material the identity keys come from: 4 × 32 bytes.
func identityFrom(master []byte) []byte {
	var b []byte
	for _, p := range []string{"pseudonym", "link", "request", "registry-signing"} {
		b = append(b, derive(master, p)...)
	}
	return b
}

// setIdentity takes the identity keys; the rotating keys start as the
// identity's link and signing keys, until UseRotatingKey.
func (r *Ring) setIdentity(b []byte) {
	r.pseudonym, r.link, r.request = b[0:32], b[32:64], b[64:96]
	r.identitySigning = b[96:128]
	r.mu.Lock()
	r.login, r.signing = r.link, ed25519.NewKeyFromSeed(r.identitySigning)
	r.mu.Unlock()
}

func (r *Ring) identity() []byte {
	b := append([]byte{}, r.pseudonym...)
	b = append(b, r.link...)
	b = append(b, r.request...)
	return append(b, r.identitySigning...)
}

const identityAAD = "candor/identity"

// SealIdentity seals the identity keys under the current master key, for
// storage; AdoptIdentity reads them back. That is how pseudonyms, request
// IDs, link tokens and the signing key outlive a master-key rotation.
func (r *Ring) SealIdentity() (string, error) { return r.Seal(r.identity(), identityAAD) }

// AdoptIdentity replaces the identity keys with those SealIdentity sealed,
// under any master key this Ring holds.
func (r *Ring) AdoptIdentity(sealed string) error {
	b, err := r.Open(sealed, identityAAD)
	if err != nil {
		return fmt.Errorf("open the identity keys: %w", err)
	}
	if len(b) != 128 {
		return errors.New("the sealed identity keys have the wrong length")
	}
	r.setIdentity(b)
	return nil
}

// UseIdentityOf makes the identity keys those derived from another master
// key. It is for the first rotation of an installation whose identity was
// never stored: the identity then belongs to the old key.
func (r *Ring) UseIdentityOf(master []byte) error {
	if len(master) != 32 {
		return fmt.Errorf("master key must be 32 bytes, got %d", len(master))
	}
	r.setIdentity(identityFrom(master))
	return nil
}

// KeyID names the current master key; it is safe to show.
func (r *Ring) KeyID() string { return r.id }

// KeyIDs names every master key the Ring can open with, the current one
// first.
func (r *Ring) KeyIDs() []string {
	ids := []string{r.id}
	for id := range r.open {
		if id != r.id {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids[1:])
	return ids
}

// Seal encrypts a secret for storage. The result names the key ID so keys can
// rotate; aad binds the ciphertext to its row (e.g. the shop domain).
func (r *Ring) Seal(plaintext []byte, aad string) (string, error) {
	nonce := make([]byte, r.seal.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := r.seal.Seal(nonce, nonce, plaintext, []byte(aad))
	return "v1." + r.id + "." + base64.RawStdEncoding.EncodeToString(ct), nil
}

// ErrWrongKey means a sealed value was made with a master key this Ring does
// not hold.
var ErrWrongKey = errors.New("sealed with another master key")

// Open decrypts a value made by Seal with the same aad.
func (r *Ring) Open(sealed, aad string) ([]byte, error) {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, errors.New("not a sealed value")
	}
	aead, ok := r.open[parts[1]]
	if !ok {
		return nil, fmt.Errorf("key %s: %w", parts[1], ErrWrongKey)
	}
	return openAEAD(aead, parts[2], aad)
}

func openAEAD(aead cipher.AEAD, b64, aad string) ([]byte, error) {
	ct, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("sealed value is not valid base64")
	}
	ns := aead.NonceSize()
	if len(ct) < ns+aead.Overhead() {
		return nil, errors.New("sealed value is too short")
	}
	pt, err := aead.Open(nil, ct[:ns], ct[ns:], []byte(aad))
	if err != nil {
		return nil, errors.New("sealed value failed authentication")
	}
	return pt, nil
}

// RefreshTokenAAD binds a shop's sealed OAuth refresh token to the shop and
// to its role, so it cannot be passed off as the access token (bound to the
// bare domain).
func RefreshTokenAAD(shop string) string { return shop + "/refresh" }

// SealedKeyID is the key ID a sealed value names, or "" if it is not one.
func SealedKeyID(sealed string) string {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return ""
	}
	return parts[1]
}

// Reseal re-seals a value under the current master key. It reports false,
// and returns the value unchanged, when it already is.
func (r *Ring) Reseal(sealed, aad string) (string, bool, error) {
	if SealedKeyID(sealed) == r.id {
		return sealed, false, nil
	}
	pt, err := r.Open(sealed, aad)
	if err != nil {
		return "", false, err
	}
	out, err := r.Seal(pt, aad)
	return out, err == nil, err
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Subject is the pseudonym of one customer of one shop:
// HMAC(master-derived key, shop, customer ID). It never reveals the ID.
func (r *Ring) Subject(shop string, customerID int64) string {
	return "sub_" + strings.ToLower(b32.EncodeToString(mac(r.pseudonym, shop, "customer", strconv.FormatInt(customerID, 10))[:15]))
}

// GuestSubject is the pseudonym for a checkout without a customer account:
// such a person is known only through the one order.
func (r *Ring) GuestSubject(shop string, orderID int64) string {
	return "sub_" + strings.ToLower(b32.EncodeToString(mac(r.pseudonym, shop, "guest-order", strconv.FormatInt(orderID, 10))[:15]))
}

// AddressKey is the keyed hash of an email address for one shop:
// HMAC(pseudonym key, shop, normalised address), normalised by trimming
// space and lower-casing. It is what an objection is suppressed under, so it
// holds for every order placed with that address, guest checkouts included.
// It is "" for an empty address. It never reveals the address.
func (r *Ring) AddressKey(shop, email string) string {
	a := strings.ToLower(strings.TrimSpace(email))
	if a == "" {
		return ""
	}
	return "adr_" + strings.ToLower(b32.EncodeToString(mac(r.pseudonym, shop, "address", a)[:15]))
}

// RequestID is the opaque, stable ID of the review request for one order. It
// is what the registry and SendGrid see instead of the Shopify order ID.
func (r *Ring) RequestID(shop string, orderID int64) string {
	return "rq_" + strings.ToLower(b32.EncodeToString(mac(r.request, shop, strconv.FormatInt(orderID, 10))[:15]))
}

// ShipmentRequestID is the request ID of the email about one later shipment
// of an order, when a shop emails per shipment: opaque and stable like
// RequestID, and never equal to it. The order's first email keeps
// RequestID.
func (r *Ring) ShipmentRequestID(shop string, orderID, fulfillmentID int64) string {
	return "rq_" + strings.ToLower(b32.EncodeToString(mac(r.request, shop, strconv.FormatInt(orderID, 10), "shipment", strconv.FormatInt(fulfillmentID, 10))[:15]))
}

// SigningKey is the Ed25519 key that signs registry chain heads: the
// current rotating signing key.
func (r *Ring) SigningKey() ed25519.PrivateKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.signing
}
