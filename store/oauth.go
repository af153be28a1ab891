package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
)

// Grant is what an OAuth install adds to a shop. A shop connected with a
// custom-app token has the zero Grant: its token does not expire.
type Grant struct {
	TokenExpiresAt     time.Time // zero: the access token does not expire
	RefreshTokenSealed string    // sealed like the access token, bound to keys.RefreshTokenAAD(domain)
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

// HoldsToken is the SQL condition for a shops row that still holds a sealed
// Admin API token: the access token, or a refresh token that could mint one.
const HoldsToken = `(access_token_sealed <> '' OR refresh_token_sealed <> '')`

// RevokeTokensSet is the SQL SET list that blanks a shop's tokens, as an
// uninstall does: both of them, so neither can be used or refreshed.
const RevokeTokensSet = `access_token_sealed = '', access_token_expires_at = NULL,
    refresh_token_sealed = '', refresh_token_expires_at = NULL, updated_at = now()`

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
	if !shopify.ValidShopDomain(in.Domain) {
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
		d.ConsentRequired(), d.ReviewURL, d.Subject)
	return created, err
}

// RefreshToken keeps a shop's expiring token fresh without two workers
// spending the same single-use refresh token, and without holding the shop's
// row lock while Shopify answers (a FOR UPDATE would block every insert that
// references the shop, such as a new review request, for that long).
//
// Workers agree through a session-level advisory lock keyed by the shop, on
// a connection of its own, held across the HTTP call; it locks no row. Under
// it, RefreshToken reads the shop again and, only if the token still
// expires before `before`, calls refresh with that row; a worker that waited
// sees the token the first one stored and does not call refresh. The new
// pair is stored in one short statement, and only over the tokens refresh
// was given: an uninstall or a reinstall that landed meanwhile wins. It
// returns the shop as stored.
func (db *DB) RefreshToken(ctx context.Context, domain string, before time.Time, refresh func(Shop) (Install, error)) (Shop, error) {
	conn, err := db.Connx(ctx)
	if err != nil {
		return Shop{}, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, refreshLockKey(domain)); err != nil {
		// Cancelled while waiting: discard the session, so a lock granted
		// just as the cancel arrived dies with it.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return Shop{}, fmt.Errorf("wait for the shop's token refresh lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done. A connection that cannot unlock is
		// discarded, which ends its session and with it the lock: it must
		// never go back to the pool holding it.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, refreshLockKey(domain)); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	read := func() (Shop, error) {
		var r shopRow
		if err := conn.GetContext(ctx, &r, `SELECT * FROM shops WHERE domain = $1`, domain); err != nil {
			return Shop{}, notFound(err)
		}
		return r.shop(), nil
	}
	cur, err := read()
	if err != nil || cur.TokenSealed == "" || cur.TokenExpiresAt.IsZero() || cur.TokenExpiresAt.After(before) {
		return cur, err
	}
	in, err := refresh(cur)
	if err != nil {
		return cur, err
	}
	if in.TokenSealed == "" {
		return cur, errors.New("refresh returned no token")
	}
	res, err := conn.ExecContext(ctx, `UPDATE shops SET access_token_sealed = $2, access_token_expires_at = $3,
		refresh_token_sealed = $4, refresh_token_expires_at = $5, scopes = $6, updated_at = now()
		WHERE domain = $1 AND access_token_sealed = $7 AND refresh_token_sealed = $8`,
		domain, in.TokenSealed, nullTime(in.TokenExpiresAt), in.RefreshTokenSealed,
		nullTime(in.RefreshExpiresAt), in.Scopes, cur.TokenSealed, cur.RefreshTokenSealed)
	if err != nil {
		return cur, fmt.Errorf("store the refreshed token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return read()
	}
	// Not stored: the tokens changed under us. An uninstall (no token) or a
	// reinstall (a fresh one) is the answer; anything else is tried again,
	// and Shopify keeps the refresh token just used valid until its
	// replacement is used, so the next attempt can spend it again.
	now, err := read()
	if err == nil && now.TokenSealed != "" && !now.TokenExpiresAt.IsZero() && !now.TokenExpiresAt.After(before) {
		err = ErrTokenChanged
	}
	return now, err
}

// ErrTokenChanged means a shop's tokens changed while its refresh was in
// flight, so the refreshed pair was not stored; trying again is safe.
var ErrTokenChanged = errors.New("the shop's tokens changed during the refresh; try again")

// refreshLockKey names a shop's token refresh lock; the prefix keeps it
// apart from any other advisory lock keyed by a shop.
func refreshLockKey(domain string) string { return "candor/shop-token-refresh/" + domain }

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
