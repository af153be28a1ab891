// Package shoptoken owns a shop's Shopify Admin API token: sealing what
// Shopify granted for the shops table, and opening it for a call, refreshing
// an expiring token first. Every Admin API call, from activities or from the
// merchant pages, opens its token here.
//
// It never returns or logs a token: callers get a ready *shopify.Admin.
package shoptoken

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
)

// RefreshMargin is how long before an expiring token's end it is refreshed,
// so no call starts with a token about to lapse.
const RefreshMargin = 5 * time.Minute

// Seal seals what Shopify granted for storage: the access token under the
// shop's domain, the refresh token under keys.RefreshTokenAAD.
func Seal(r *keys.Ring, shop string, t shopify.Token) (store.Install, error) {
	in := store.Install{Domain: shop, Grant: store.Grant{TokenExpiresAt: t.ExpiresAt,
		RefreshExpiresAt: t.RefreshExpiresAt, Scopes: strings.Join(t.Scopes, ",")}}
	var err error
	if in.TokenSealed, err = r.Seal([]byte(t.AccessToken), shop); err != nil {
		return in, err
	}
	if t.RefreshToken != "" {
		if in.RefreshTokenSealed, err = r.Seal([]byte(t.RefreshToken), keys.RefreshTokenAAD(shop)); err != nil {
			return in, err
		}
	}
	return in, nil
}

// ErrDisconnected means the shop holds no usable grant: app/uninstalled
// revoked its tokens, or Shopify refused its refresh token (revoked or
// expired). Only a reinstall helps, so callers end their work for the shop
// instead of retrying.
var ErrDisconnected = errors.New("shop is disconnected: its Shopify tokens are revoked; the merchant must reinstall")

// Opener opens shops' Admin API tokens.
type Opener struct {
	DB      *store.DB
	Keys    *keys.Ring
	Shopify shopify.AdminConfig
	OAuth   shopify.OAuth // refreshes expiring tokens (public-app installs)
	Now     func() time.Time
}

func (o Opener) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Admin opens the shop's Admin API token for a call, refreshing an expiring
// token first when it lapses within RefreshMargin. store.RefreshToken makes
// sure the single-use refresh token is spent once across workers, and stores
// the new pair before anyone uses it.
func (o Opener) Admin(ctx context.Context, shop store.Shop) (*shopify.Admin, error) {
	if shop.TokenSealed == "" {
		return nil, ErrDisconnected
	}
	if deadline := o.now().Add(RefreshMargin); !shop.TokenExpiresAt.IsZero() && shop.TokenExpiresAt.Before(deadline) {
		var err error
		shop, err = o.DB.RefreshToken(ctx, shop.Domain, deadline, func(cur store.Shop) (store.Install, error) {
			if cur.RefreshTokenSealed == "" {
				return store.Install{}, fmt.Errorf("shop %s: token expired and there is no refresh token; the merchant must reinstall", cur.Domain)
			}
			rt, err := o.Keys.Open(cur.RefreshTokenSealed, keys.RefreshTokenAAD(cur.Domain))
			if err != nil {
				return store.Install{}, fmt.Errorf("open refresh token: %w", err)
			}
			tok, err := o.OAuth.Refresh(ctx, cur.Domain, string(rt), o.now())
			if err != nil {
				return store.Install{}, err
			}
			if missing := shopify.MissingScopes(tok.Scopes); len(tok.Scopes) > 0 && len(missing) > 0 {
				return store.Install{}, fmt.Errorf("shop %s: refreshed token lacks scopes %s", cur.Domain, strings.Join(missing, ","))
			}
			return Seal(o.Keys, cur.Domain, tok)
		})
		if errors.Is(err, shopify.ErrGrantRejected) {
			return nil, fmt.Errorf("refresh shop token: %w (%w)", ErrDisconnected, err)
		}
		if err != nil {
			return nil, fmt.Errorf("refresh shop token: %w", err)
		}
		if shop.TokenSealed == "" { // revoked while we waited
			return nil, ErrDisconnected
		}
	}
	token, err := o.Keys.Open(shop.TokenSealed, shop.Domain)
	if err != nil {
		return nil, fmt.Errorf("open shop token: %w", err)
	}
	return shopify.NewAdmin(o.Shopify, shop.Domain, string(token))
}

// ShopProfile reads the shop's name, own addresses and domains from Shopify
// just in time, through Admin. The send, the merchant pages and the CLI use
// it to check a review destination and to address an email; nothing of it
// is stored.
func (o Opener) ShopProfile(ctx context.Context, shop store.Shop) (shopify.ShopProfile, error) {
	admin, err := o.Admin(ctx, shop)
	if err != nil {
		return shopify.ShopProfile{}, err
	}
	return admin.ShopProfile(ctx)
}
