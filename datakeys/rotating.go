package datakeys

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
)

// LoadRotatingKeys makes ring use the newest login-link and signing keys
// stored in Postgres (keys/rotating.go); a purpose never rotated keeps the
// identity's key. Every process calls it at start, and the server before it
// accepts a login link or signs an export, so a rotation done by
// `candor keys rotate-login|rotate-signing` holds on every replica at once.
func LoadRotatingKeys(ctx context.Context, db sqlx.QueryerContext, ring *keys.Ring) error {
	var rows []struct {
		Purpose string `db:"purpose"`
		Sealed  string `db:"sealed"`
	}
	if err := sqlx.SelectContext(ctx, db, &rows, `SELECT DISTINCT ON (purpose) purpose, sealed FROM rotating_keys
		ORDER BY purpose, created_at DESC, id`); err != nil {
		return fmt.Errorf("read the rotating keys: %w", err)
	}
	for _, r := range rows {
		b, err := ring.Open(r.Sealed, keys.RotatingKeyAAD(r.Purpose))
		if err != nil {
			return fmt.Errorf("open the %s key: %w", r.Purpose, err)
		}
		if err := ring.UseRotatingKey(r.Purpose, b); err != nil {
			return err
		}
	}
	return nil
}

// RotateKey replaces the key for purpose (keys.PurposeLogin or
// keys.PurposeSigning) with fresh random material, sealed under the current
// master key, and makes ring use it. It returns the new key's ID and, for a
// signing key, its public key (base64) to publish and pin.
func RotateKey(ctx context.Context, db sqlx.ExecerContext, ring *keys.Ring, purpose string) (id, publicKey string, err error) {
	b := make([]byte, keys.RotatingKeySize)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	if purpose != keys.PurposeLogin && purpose != keys.PurposeSigning {
		return "", "", fmt.Errorf("no rotating key for %q", purpose)
	}
	id, pub := keys.RotatingKeyID(purpose, b)
	if pub != nil {
		publicKey = base64.StdEncoding.EncodeToString(pub)
	}
	sealed, err := ring.Seal(b, keys.RotatingKeyAAD(purpose))
	if err != nil {
		return "", "", err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO rotating_keys (id, purpose, sealed, public_key) VALUES ($1, $2, $3, $4)`,
		id, purpose, sealed, publicKey); err != nil {
		return "", "", fmt.Errorf("store the new %s key: %w", purpose, err)
	}
	return id, publicKey, ring.UseRotatingKey(purpose, b)
}

// Signer is the registry signer of ring's current signing key, with every
// signing key this deployment used before it (the identity's, then each
// rotation's), so checkpoints signed before a rotation are still trusted.
// It loads the newest rotating keys first.
func Signer(ctx context.Context, db sqlx.QueryerContext, ring *keys.Ring) (registry.Signer, error) {
	if err := LoadRotatingKeys(ctx, db, ring); err != nil {
		return registry.Signer{}, err
	}
	var pubs []string
	if err := sqlx.SelectContext(ctx, db, &pubs, `SELECT public_key FROM rotating_keys WHERE purpose = $1 ORDER BY created_at, id`,
		keys.PurposeSigning); err != nil {
		return registry.Signer{}, fmt.Errorf("read the signing keys: %w", err)
	}
	s := registry.NewSigner(ring.SigningKey())
	s.Earlier = append(s.Earlier, ring.IdentitySigningPublicKey())
	for _, p := range pubs {
		b, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return registry.Signer{}, fmt.Errorf("a stored signing key's public key is not an Ed25519 key")
		}
		s.Earlier = append(s.Earlier, ed25519.PublicKey(b))
	}
	return s, nil
}
