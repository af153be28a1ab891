package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Grant is what an OAuth install adds to a shop. A shop connected with a
// custom-app token has the zero Grant: its token does not expire.
type Grant struct {
	TokenExpiresAt     time.Time // zero: the access token does not expire
	RefreshTokenSealed string    // sealed like the access token (aad: domain)
	RefreshExpiresAt   time.Time
	Scopes             string // comma-separated, as Shopify granted them
	InstalledAt        time.Time
}

type grantRow struct {
	TokenExpiresAt   sql.NullTime `db:"access_token_expires_at"`
	RefreshSealed    string       `db:"refresh_token_sealed"`
	RefreshExpiresAt sql.NullTime `db:"refresh_token_expires_at"`
	Scopes           string       `db:"scopes"`
	InstalledAt      sql.NullTime `db:"installed_at"`
}

func (r grantRow) grant() Grant {
	return Grant{TokenExpiresAt: r.TokenExpiresAt.Time, RefreshTokenSealed: r.RefreshSealed,
		RefreshExpiresAt: r.RefreshExpiresAt.Time, Scopes: r.Scopes, InstalledAt: r.InstalledAt.Time}
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// Install is a shop's connection after OAuth.
type Install struct {
	Domain      string
	TokenSealed string
	Grant
}

const installShopSQL = `
INSERT INTO shops (domain, access_token_sealed, access_token_expires_at, refresh_token_sealed,
    refresh_token_expires_at, scopes, installed_at, delay_seconds, fallback_delay_seconds,
    reminder_seconds, consent_required, review_url_template, subject_template)
VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8, $9, $10, $11, $12)
ON CONFLICT (domain) DO UPDATE SET
    access_token_sealed = EXCLUDED.access_token_sealed,
    access_token_expires_at = EXCLUDED.access_token_expires_at,
    refresh_token_sealed = EXCLUDED.refresh_token_sealed,
    refresh_token_expires_at = EXCLUDED.refresh_token_expires_at,
    scopes = EXCLUDED.scopes,
    installed_at = now(),
    updated_at = now()
RETURNING (xmax = 0) AS created`

// InstallShop connects a shop after OAuth. A new shop starts with
// DefaultSettings; a known one (a re-install, or a shop whose uninstall
// revoked its token) keeps its settings and gets the new token. It reports
// whether the shop is new.
func (db *DB) InstallShop(ctx context.Context, in Install) (bool, error) {
	if !ShopDomainRe.MatchString(in.Domain) {
		return false, fmt.Errorf("shop %q is not a *.myshopify.com domain", in.Domain)
	}
	if in.TokenSealed == "" {
		return false, errors.New("install without a token")
	}
	d := DefaultSettings(in.Domain)
	var created bool
	err := db.GetContext(ctx, &created, installShopSQL, in.Domain, in.TokenSealed, nullTime(in.TokenExpiresAt),
		in.RefreshTokenSealed, nullTime(in.RefreshExpiresAt), in.Scopes,
		int64(d.Delay/time.Second), int64(d.FallbackDelay/time.Second), int64(d.Reminder/time.Second),
		d.ConsentRequired, d.ReviewURL, d.Subject)
	return created, err
}

// RefreshToken keeps a shop's expiring token fresh without two workers
// spending the same refresh token: it locks the shop's row and, only if the
// token expires before `before`, calls refresh with the locked row and
// stores what it returns before the lock is released. A worker that waited
// on the lock sees the new token and does not call refresh. It returns the
// shop as stored.
func (db *DB) RefreshToken(ctx context.Context, domain string, before time.Time, refresh func(Shop) (Install, error)) (Shop, error) {
	var out Shop
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var r shopRow
		if err := tx.GetContext(ctx, &r, `SELECT * FROM shops WHERE domain = $1 FOR UPDATE`, domain); err != nil {
			return notFound(err)
		}
		out = r.shop()
		if out.TokenSealed == "" || out.TokenExpiresAt.IsZero() || out.TokenExpiresAt.After(before) {
			return nil
		}
		in, err := refresh(out)
		if err != nil {
			return err
		}
		if in.TokenSealed == "" {
			return errors.New("refresh returned no token")
		}
		_, err = tx.ExecContext(ctx, `UPDATE shops SET access_token_sealed = $2, access_token_expires_at = $3,
			refresh_token_sealed = $4, refresh_token_expires_at = $5, scopes = $6, updated_at = now()
			WHERE domain = $1`, domain, in.TokenSealed, nullTime(in.TokenExpiresAt), in.RefreshTokenSealed,
			nullTime(in.RefreshExpiresAt), in.Scopes)
		if err != nil {
			return err
		}
		out.TokenSealed, out.TokenExpiresAt = in.TokenSealed, in.TokenExpiresAt
		out.RefreshTokenSealed, out.RefreshExpiresAt, out.Scopes = in.RefreshTokenSealed, in.RefreshExpiresAt, in.Scopes
		return nil
	})
	return out, err
}

// OAuthState is a pending install, or with Online a pending sign-in of a
// connected shop's merchant, found by the hash of its state nonce.
type OAuthState struct {
	Shop        string    `db:"shop"`
	BrowserHash []byte    `db:"browser_hash"`
	ExpiresAt   time.Time `db:"expires_at"`
	Online      bool      `db:"online"`
}

// MaxPendingInstalls bounds oauth_states, which anyone can add to by
// opening /shopify/install.
const MaxPendingInstalls = 100000

// ErrTooManyInstalls is returned when MaxPendingInstalls are pending.
var ErrTooManyInstalls = errors.New("too many installs in progress")

// SaveOAuthState stores a pending install, and drops expired ones.
func (db *DB) SaveOAuthState(ctx context.Context, nonceHash []byte, st OAuthState) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < now()`); err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, `INSERT INTO oauth_states (nonce_hash, shop, browser_hash, expires_at, online)
		SELECT $1, $2, $3, $4, $6 WHERE (SELECT count(*) FROM oauth_states) < $5`,
		nonceHash, st.Shop, st.BrowserHash, st.ExpiresAt, MaxPendingInstalls, st.Online)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrTooManyInstalls
	}
	return nil
}

// ConsumeOAuthState deletes and returns the pending install for a nonce, so
// each state is good for one callback. ErrNotFound means unknown or already
// used; the caller checks ExpiresAt.
func (db *DB) ConsumeOAuthState(ctx context.Context, nonceHash []byte) (OAuthState, error) {
	var st OAuthState
	err := db.GetContext(ctx, &st, `DELETE FROM oauth_states WHERE nonce_hash = $1 RETURNING shop, browser_hash, expires_at, online`, nonceHash)
	return st, notFound(err)
}
