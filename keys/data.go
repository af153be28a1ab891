package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// DataKey is a random 256-bit key that encrypts the data of one review
// request or one data subject. It is stored only wrapped (WrapDataKey), so
// deleting the wrapped copy makes everything it encrypted unreadable:
// crypto-shredding.
type DataKey struct {
	ID   string // "dk_…", named in everything the key encrypts
	aead cipher.AEAD
	raw  []byte
}

// DataKeyPrefix starts every data key ID, so a sealed value says whether a
// master key or a data key made it.
const DataKeyPrefix = "dk_"

// NewDataKey makes a fresh random key with a fresh random ID.
func NewDataKey() (DataKey, error) {
	id := make([]byte, 15)
	raw := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return DataKey{}, err
	}
	if _, err := rand.Read(raw); err != nil {
		return DataKey{}, err
	}
	return dataKey(DataKeyPrefix+strings.ToLower(b32.EncodeToString(id)), raw)
}

func dataKey(id string, raw []byte) (DataKey, error) {
	if len(raw) != 32 {
		return DataKey{}, fmt.Errorf("data key %s: must be 32 bytes, got %d", id, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return DataKey{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return DataKey{}, err
	}
	return DataKey{ID: id, aead: aead, raw: raw}, nil
}

// DataKeyAAD is what a wrapped data key is bound to: its ID.
func DataKeyAAD(id string) string { return "candor/data-key/" + id }

// WrapDataKey seals a data key under the current master key, bound to its
// ID, for storage.
func (r *Ring) WrapDataKey(k DataKey) (string, error) { return r.Seal(k.raw, DataKeyAAD(k.ID)) }

// UnwrapDataKey opens a wrapped data key with any master key the Ring holds.
func (r *Ring) UnwrapDataKey(id, wrapped string) (DataKey, error) {
	raw, err := r.Open(wrapped, DataKeyAAD(id))
	if err != nil {
		return DataKey{}, fmt.Errorf("unwrap data key %s: %w", id, err)
	}
	return dataKey(id, raw)
}

// Encrypt returns nonce‖ciphertext of plaintext, bound to aad.
func (k DataKey) Encrypt(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Decrypt reverses Encrypt.
func (k DataKey) Decrypt(ct, aad []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(ct) < ns+k.aead.Overhead() {
		return nil, errors.New("ciphertext is too short")
	}
	pt, err := k.aead.Open(nil, ct[:ns], ct[ns:], aad)
	if err != nil {
		return nil, fmt.Errorf("ciphertext under data key %s failed authentication", k.ID)
	}
	return pt, nil
}

// Seal is Encrypt in the text form Ring.Seal uses: "v1.<key ID>.<base64>".
func (k DataKey) Seal(plaintext []byte, aad string) (string, error) {
	ct, err := k.Encrypt(plaintext, []byte(aad))
	if err != nil {
		return "", err
	}
	return "v1." + k.ID + "." + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open reverses Seal.
func (k DataKey) Open(sealed, aad string) ([]byte, error) {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, errors.New("not a sealed value")
	}
	if parts[1] != k.ID {
		return nil, fmt.Errorf("sealed with data key %s, not %s", parts[1], k.ID)
	}
	return openAEAD(k.aead, parts[2], aad)
}
