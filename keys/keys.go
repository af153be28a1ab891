// Package keys derives every key Candor uses from the one master key and
// implements the few primitives built on them: sealing secrets at rest,
// pseudonyms for data subjects, opaque request IDs and signed link tokens.
//
// It must never hand out the master key itself, and it never logs.
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
	"strconv"
	"strings"
)

// Ring holds the keys derived from one master key.
type Ring struct {
	id        string // key ID: names the master key in sealed values
	seal      cipher.AEAD
	pseudonym []byte
	link      []byte
	request   []byte
	signing   ed25519.PrivateKey
}

// New derives a Ring from a 32-byte master key.
func New(master []byte) (*Ring, error) {
	if len(master) != 32 {
		return nil, fmt.Errorf("master key must be 32 bytes, got %d", len(master))
	}
	derive := func(purpose string) []byte {
		k, err := hkdf.Key(sha256.New, master, nil, "candor/v1/"+purpose, 32)
		if err != nil {
			panic(err) // only fails for lengths we never ask for
		}
		return k
	}
	block, err := aes.NewCipher(derive("seal"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	kid := sha256.Sum256(derive("key-id"))
	return &Ring{
		id:        hex.EncodeToString(kid[:4]),
		seal:      aead,
		pseudonym: derive("pseudonym"),
		link:      derive("link"),
		request:   derive("request"),
		signing:   ed25519.NewKeyFromSeed(derive("registry-signing")),
	}, nil
}

// KeyID names the master key; it is safe to show.
func (r *Ring) KeyID() string { return r.id }

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
	if parts[1] != r.id {
		return nil, fmt.Errorf("key %s: %w", parts[1], ErrWrongKey)
	}
	ct, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("sealed value is not valid base64")
	}
	ns := r.seal.NonceSize()
	if len(ct) < ns+r.seal.Overhead() {
		return nil, errors.New("sealed value is too short")
	}
	pt, err := r.seal.Open(nil, ct[:ns], ct[ns:], []byte(aad))
	if err != nil {
		return nil, errors.New("sealed value failed authentication")
	}
	return pt, nil
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

// RequestID is the opaque, stable ID of the review request for one order. It
// is what the registry and SendGrid see instead of the Shopify order ID.
func (r *Ring) RequestID(shop string, orderID int64) string {
	return "rq_" + strings.ToLower(b32.EncodeToString(mac(r.request, shop, strconv.FormatInt(orderID, 10))[:15]))
}

// SigningKey is the Ed25519 key that signs registry chain heads.
func (r *Ring) SigningKey() ed25519.PrivateKey { return r.signing }
