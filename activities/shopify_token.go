package activities

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

// TokenRefreshMargin is how long before an expiring token's end it is
// refreshed, so no call starts with a token about to lapse.
const TokenRefreshMargin = 5 * time.Minute

// ErrShopDisconnected means the shop holds no usable grant: app/uninstalled
// revoked its tokens, or Shopify refused its refresh token (revoked or
// expired). Only a reinstall helps, so callers end their work for the shop
// instead of retrying.
var ErrShopDisconnected = errors.New("shop is disconnected: its Shopify tokens are revoked; the merchant must reinstall")

// shopAdmin opens the shop's Admin API token for a call, refreshing an
// expiring token first when it lapses within TokenRefreshMargin. Every Admin
// API call starts here. store.RefreshToken makes sure the single-use refresh
// token is spent once across workers, and stores the new pair before anyone
// uses it.
func (a *Activities) shopAdmin(ctx context.Context, shop store.Shop) (*shopify.Admin, error) {
	if shop.TokenSealed == "" {
		return nil, ErrShopDisconnected
	}
	if deadline := a.now().Add(TokenRefreshMargin); !shop.TokenExpiresAt.IsZero() && shop.TokenExpiresAt.Before(deadline) {
		var err error
		shop, err = a.DB.RefreshToken(ctx, shop.Domain, deadline, func(cur store.Shop) (store.Install, error) {
			if cur.RefreshTokenSealed == "" {
				return store.Install{}, fmt.Errorf("shop %s: token expired and there is no refresh token; the merchant must reinstall", cur.Domain)
			}
			rt, err := a.Keys.Open(cur.RefreshTokenSealed, keys.RefreshTokenAAD(cur.Domain))
			if err != nil {
				return store.Install{}, fmt.Errorf("open refresh token: %w", err)
			}
			tok, err := a.OAuth.Refresh(ctx, cur.Domain, string(rt), a.now())
			if err != nil {
				return store.Install{}, err
			}
			if missing := shopify.MissingScopes(tok.Scopes); len(tok.Scopes) > 0 && len(missing) > 0 {
				return store.Install{}, fmt.Errorf("shop %s: refreshed token lacks scopes %s", cur.Domain, strings.Join(missing, ","))
			}
			return store.SealInstall(a.Keys, cur.Domain, tok)
		})
		if errors.Is(err, shopify.ErrGrantRejected) {
			return nil, fmt.Errorf("refresh shop token: %w (%w)", ErrShopDisconnected, err)
		}
		if err != nil {
			return nil, fmt.Errorf("refresh shop token: %w", err)
		}
		if shop.TokenSealed == "" { // revoked while we waited
			return nil, ErrShopDisconnected
		}
	}
	token, err := a.Keys.Open(shop.TokenSealed, shop.Domain)
	if err != nil {
		return nil, fmt.Errorf("open shop token: %w", err)
	}
	return shopify.NewAdmin(a.Shopify, shop.Domain, string(token))
}
