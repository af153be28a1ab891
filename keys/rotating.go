package keys

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Two keys rotate on their own, apart from the identity keys: the key that
// signs merchants' login links and the key that signs registry exports.
// Until their first rotation they are the identity link and signing keys,
// derived from the first master key. A rotation replaces one with random
// bytes (package datakeys keeps them sealed in Postgres), so whoever holds an
// old master key can no longer derive the key in use: their login links stop
// opening and their signatures stop matching the pinned keys.
//
// Review and unsubscribe links keep the identity link key: they wait in
// inboxes for years, and a rotation must not break them.

// Purposes of the rotating keys, as stored.
const (
	PurposeLogin   = "login-link"
	PurposeSigning = "registry-signing"
)

// RotatingKeySize is the length of a rotating key's material: an HMAC key,
// or an Ed25519 seed.
const RotatingKeySize = 32

// RotatingKeyAAD binds a sealed rotating key to its purpose.
func RotatingKeyAAD(purpose string) string { return "candor/rotating/" + purpose }

// UseRotatingKey makes material the current key for purpose.
func (r *Ring) UseRotatingKey(purpose string, material []byte) error {
	if len(material) != RotatingKeySize {
		return fmt.Errorf("%s key must be %d bytes, got %d", purpose, RotatingKeySize, len(material))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch purpose {
	case PurposeLogin:
		r.login = append([]byte{}, material...)
	case PurposeSigning:
		r.signing = ed25519.NewKeyFromSeed(material)
	default:
		return fmt.Errorf("no rotating key for %q", purpose)
	}
	return nil
}

func (r *Ring) loginKey() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.login
}

// SigningKeyID names a registry signing key by its public key: what an
// export's manifest records, and what `candor registry pubkey` shows.
func SigningKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "sk_" + hex.EncodeToString(sum[:6])
}

// SigningKeyID names the current signing key.
func (r *Ring) SigningKeyID() string {
	return SigningKeyID(r.SigningKey().Public().(ed25519.PublicKey))
}

// LoginKeyID names the current login-link key without revealing it.
func (r *Ring) LoginKeyID() string { return loginKeyID(r.loginKey()) }

func loginKeyID(k []byte) string {
	sum := sha256.Sum256(append([]byte("candor/login-key-id\x00"), k...))
	return "lk_" + hex.EncodeToString(sum[:6])
}

// RotatingKeyID names a rotating key's material, and gives a signing key's
// public key (nil for a login key).
func RotatingKeyID(purpose string, material []byte) (string, ed25519.PublicKey) {
	if purpose == PurposeSigning {
		pub := ed25519.NewKeyFromSeed(material).Public().(ed25519.PublicKey)
		return SigningKeyID(pub), pub
	}
	return loginKeyID(material), nil
}

// IdentitySigningPublicKey is the public half of the signing key derived
// from the identity: the key in use until the first rotation.
func (r *Ring) IdentitySigningPublicKey() ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(r.identitySigning).Public().(ed25519.PublicKey)
}
