package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/candorhq/candor/integrations/shopify"
)

// Roles of API tokens.
const (
	RoleAuditor  = "auditor"  // any shop's registry
	RoleMerchant = "merchant" // their own shop only
	RoleOperator = "operator" // operations; no registry exports
)

// Token is an API token's record; the token itself is never stored.
type Token struct {
	ID   string `db:"id"`
	Role string `db:"role"`
	Shop string `db:"shop"`
}

// ErrBadToken means the bearer token is unknown or revoked.
var ErrBadToken = errors.New("unknown or revoked token")

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// CreateToken makes a token for role (and shop, for a merchant) and returns
// it: this is the only time it exists in clear.
func (db *DB) CreateToken(ctx context.Context, role, shop string) (string, Token, error) {
	switch role {
	case RoleMerchant:
		if !shopify.ValidShopDomain(shop) {
			return "", Token{}, errors.New("a merchant token needs --shop, a *.myshopify.com domain")
		}
	case RoleAuditor, RoleOperator:
		if shop != "" {
			return "", Token{}, fmt.Errorf("an %s token is not scoped to a shop; leave out --shop", role)
		}
	default:
		return "", Token{}, fmt.Errorf("role must be auditor, merchant or operator, not %q", role)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Token{}, err
	}
	tok := "cnd_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	t := Token{ID: "tok_" + tokenHash(tok)[:12], Role: role, Shop: shop}
	_, err := db.ExecContext(ctx, `INSERT INTO api_tokens (id, token_sha256, role, shop) VALUES ($1, $2, $3, $4)`,
		t.ID, tokenHash(tok), role, shop)
	if err != nil {
		return "", Token{}, fmt.Errorf("store token: %w", err)
	}
	return tok, t, nil
}

// Authenticate looks a bearer token up by its hash.
func (db *DB) Authenticate(ctx context.Context, tok string) (Token, error) {
	if !strings.HasPrefix(tok, "cnd_") || len(tok) > 100 {
		return Token{}, ErrBadToken
	}
	var t Token
	err := db.GetContext(ctx, &t, `UPDATE api_tokens SET last_used_at = now()
		WHERE token_sha256 = $1 AND revoked_at IS NULL RETURNING id, role, shop`, tokenHash(tok))
	if errors.Is(notFound(err), ErrNotFound) {
		return Token{}, ErrBadToken
	}
	return t, err
}

// RevokeToken stops a token from authenticating; retention deletes it
// later (docs/retention.md).
func (db *DB) RevokeToken(ctx context.Context, id string) error {
	_, err := db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	return err
}
