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
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
)

// Roles of API tokens.
const (
	RoleAuditor  = "auditor"  // any shop's registry
	RoleMerchant = "merchant" // their own shop only
	RoleOperator = "operator" // operations; no registry exports
)

// Token lifetimes and the access review's thresholds (docs/security.md).
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 366 * 24 * time.Hour
	// StaleAfter: a token not used for this long is flagged stale.
	StaleAfter = 30 * 24 * time.Hour
	// ExpiringWithin: a token expiring this soon is flagged.
	ExpiringWithin = 14 * 24 * time.Hour
)

// Token is an API token's record; the token itself is never stored.
type Token struct {
	ID         string     `db:"id" json:"id"`
	Name       string     `db:"name" json:"name"`
	Role       string     `db:"role" json:"role"`
	Shop       string     `db:"shop" json:"shop,omitempty"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt  time.Time  `db:"expires_at" json:"expires_at"`
	LastUsedAt *time.Time `db:"last_used_at" json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
	RotatedTo  string     `db:"rotated_to" json:"rotated_to,omitempty"`
}

// Scope is what the token can reach: its shop, or every shop.
func (t Token) Scope() string {
	switch t.Role {
	case RoleMerchant:
		return t.Shop
	case RoleAuditor:
		return "every shop's registry, trails, reports and receipts (read)"
	default:
		return "the payload codec (decode, encode)"
	}
}

// Principal is how the access log names whoever used the token.
func (t Token) Principal() string { return t.ID }

// TokenSpec is what a new token is made from.
type TokenSpec struct {
	Name string // whose it is, or what for: "ana (auditor, Acme LLP)"
	Role string
	Shop string        // a merchant's shop; empty for the other roles
	TTL  time.Duration // 0: DefaultTokenTTL
}

// Validate checks a spec as `candor tokens create` takes it.
func (s TokenSpec) Validate() error {
	name := strings.TrimSpace(s.Name)
	switch {
	case name == "":
		return errors.New("a token needs --name: whose it is or what it is for")
	case len(name) > 100 || strings.ContainsFunc(name, unicode.IsControl):
		return errors.New("--name must be at most 100 characters, without control characters")
	case strings.Contains(name, "@"):
		return errors.New("--name must not be an email address: name the person or the purpose")
	case s.TTL < 0 || s.TTL > MaxTokenTTL:
		return fmt.Errorf("--expires must be between 1s and %s", "366d")
	}
	switch s.Role {
	case RoleMerchant:
		if !shopify.ValidShopDomain(s.Shop) {
			return errors.New("a merchant token needs --shop, a *.myshopify.com domain")
		}
	case RoleAuditor, RoleOperator:
		if s.Shop != "" {
			return fmt.Errorf("an %s token is not scoped to a shop; leave out --shop", s.Role)
		}
	default:
		return fmt.Errorf("role must be auditor, merchant or operator, not %q", s.Role)
	}
	return nil
}

// ErrBadToken means the bearer token is unknown, expired or revoked; the
// errors below wrap it to say which.
var ErrBadToken = errors.New("unknown or revoked token")

var (
	ErrTokenExpired = fmt.Errorf("token expired: %w", ErrBadToken)
	ErrTokenRevoked = fmt.Errorf("token revoked: %w", ErrBadToken)
)

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// CreateToken makes a token and returns it: this is the only time it exists
// in clear.
func (db *DB) CreateToken(ctx context.Context, spec TokenSpec) (string, Token, error) {
	var tok string
	var t Token
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		tok, t, err = createToken(ctx, tx, spec, time.Now())
		return err
	})
	return tok, t, err
}

func createToken(ctx context.Context, tx *sqlx.Tx, spec TokenSpec, now time.Time) (string, Token, error) {
	if err := spec.Validate(); err != nil {
		return "", Token{}, err
	}
	ttl := spec.TTL
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Token{}, err
	}
	tok := "cnd_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	t := Token{ID: "tok_" + tokenHash(tok)[:12], Name: strings.TrimSpace(spec.Name), Role: spec.Role, Shop: spec.Shop,
		CreatedAt: now.UTC().Truncate(time.Microsecond), ExpiresAt: now.Add(ttl).UTC().Truncate(time.Microsecond)}
	_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (id, token_sha256, name, role, shop, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.ID, tokenHash(tok), t.Name, t.Role, t.Shop, t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return "", Token{}, fmt.Errorf("store token: %w", err)
	}
	return tok, t, nil
}

const tokenColumns = `id, name, role, shop, created_at, expires_at, last_used_at, revoked_at, rotated_to`

// Authenticate looks a bearer token up by its hash. An expired or revoked
// token is refused, and the attempt is written to the registry (the token's
// ID, never the token) before the refusal is returned; if that write fails,
// the error says so and the caller refuses all the same.
func (db *DB) Authenticate(ctx context.Context, tok string) (Token, error) {
	if !strings.HasPrefix(tok, "cnd_") || len(tok) > 100 {
		return Token{}, ErrBadToken
	}
	now := time.Now()
	var t Token
	err := db.GetContext(ctx, &t, `UPDATE api_tokens SET last_used_at = $2
		WHERE token_sha256 = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING `+tokenColumns, tokenHash(tok), now)
	if err == nil {
		return t, nil
	}
	if !errors.Is(notFound(err), ErrNotFound) {
		return Token{}, err
	}
	err = db.GetContext(ctx, &t, `SELECT `+tokenColumns+` FROM api_tokens WHERE token_sha256 = $1`, tokenHash(tok))
	if errors.Is(notFound(err), ErrNotFound) {
		return Token{}, ErrBadToken // unknown: nothing to hold anyone to
	}
	if err != nil {
		return Token{}, err
	}
	refused := ErrTokenExpired
	if t.RevokedAt != nil {
		refused = ErrTokenRevoked
	}
	if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := registry.Append(ctx, tx, now, RefusedAttempt(t, now))
		return err
	}); err != nil {
		return Token{}, fmt.Errorf("record the refused use of %s: %w", t.ID, err)
	}
	return Token{}, refused
}

// RefusedAttempt is the registry entry for a refused use of t: in its
// shop's chain for a merchant token, in registry.StaffShop's otherwise.
func RefusedAttempt(t Token, now time.Time) registry.Entry {
	shop := t.Shop
	if shop == "" {
		shop = registry.StaffShop
	}
	return registry.Entry{Shop: shop, Datum: registry.DatumCredential, System: registry.SystemCandor,
		Action: registry.ActionRefused, Purpose: registry.PurposeAccessControl, LegalBasis: registry.BasisLegalObligation,
		ExpiresAt: now, Ref: t.ID}
}

// ErrNoSuchToken: revoke or rotate named a token that does not exist or is
// already revoked.
var ErrNoSuchToken = errors.New("no such token, or it is already revoked")

// RevokeToken stops a token from authenticating; retention deletes it
// later (docs/retention.md).
func (db *DB) RevokeToken(ctx context.Context, id string) error {
	r, err := db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNoSuchToken
	}
	return nil
}

// RotateToken replaces a token with a new one of the same name, role and
// shop, and a fresh expiry (ttl, or DefaultTokenTTL), and revokes the old
// one, in one transaction: there is never a moment with both or neither.
func (db *DB) RotateToken(ctx context.Context, id string, ttl time.Duration) (string, Token, error) {
	var tok string
	var t Token
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var old Token
		err := tx.GetContext(ctx, &old, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = $1 AND revoked_at IS NULL FOR UPDATE`, id)
		if errors.Is(notFound(err), ErrNotFound) {
			return ErrNoSuchToken
		}
		if err != nil {
			return err
		}
		now := time.Now()
		if tok, t, err = createToken(ctx, tx, TokenSpec{Name: old.Name, Role: old.Role, Shop: old.Shop, TTL: ttl}, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $2, rotated_to = $3 WHERE id = $1`, id, now, t.ID)
		return err
	})
	return tok, t, err
}

// Tokens lists every token still on record, newest first.
func (db *DB) Tokens(ctx context.Context) ([]Token, error) {
	var ts []Token
	err := db.SelectContext(ctx, &ts, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at DESC, id`)
	return ts, err
}

// Review flags of the access review.
const (
	FlagRevoked   = "revoked"
	FlagExpired   = "expired"
	FlagNeverUsed = "never-used"
	FlagStale     = "stale"
	FlagExpiring  = "expiring"
)

// Review is one principal in the access review: a token and what needs a
// look.
type Review struct {
	Token
	Scope string   `json:"scope"`
	Flags []string `json:"flags"`
}

// AccessReview lists every token with its flags at now: revoked, expired,
// never used, stale (not used for StaleAfter) and expiring (within
// ExpiringWithin).
func (db *DB) AccessReview(ctx context.Context, now time.Time) ([]Review, error) {
	ts, err := db.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Review, 0, len(ts))
	for _, t := range ts {
		out = append(out, Review{Token: t, Scope: t.Scope(), Flags: ReviewFlags(t, now)})
	}
	return out, nil
}

// ReviewFlags is what the access review says about t at now.
func ReviewFlags(t Token, now time.Time) []string {
	flags := []string{}
	switch {
	case t.RevokedAt != nil:
		return append(flags, FlagRevoked)
	case !t.ExpiresAt.After(now):
		return append(flags, FlagExpired)
	}
	if t.LastUsedAt == nil {
		flags = append(flags, FlagNeverUsed)
		if now.Sub(t.CreatedAt) >= StaleAfter {
			flags = append(flags, FlagStale)
		}
	} else if now.Sub(*t.LastUsedAt) >= StaleAfter {
		flags = append(flags, FlagStale)
	}
	if t.ExpiresAt.Sub(now) <= ExpiringWithin {
		flags = append(flags, FlagExpiring)
	}
	return flags
}

// SessionSummary is a shop's live merchant sessions (the merchant pages),
// for the access review: sessions are principals too, and end on logout,
// after 12 hours, or when the shop uninstalls.
type SessionSummary struct {
	Shop   string    `db:"shop" json:"shop"`
	Live   int       `db:"live" json:"live"`
	Newest time.Time `db:"newest" json:"newest"`
}

// LiveSessions lists, per shop, the merchant sessions alive at now.
func (db *DB) LiveSessions(ctx context.Context, now time.Time) ([]SessionSummary, error) {
	var out []SessionSummary
	err := db.SelectContext(ctx, &out, `SELECT shop, count(*) AS live, max(created_at) AS newest FROM app_sessions
		WHERE expires_at > $1 GROUP BY shop ORDER BY shop`, now)
	return out, err
}
