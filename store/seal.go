package store

import (
	"strings"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
)

// SealInstall seals what Shopify granted for storage: the access token under
// the shop's domain, the refresh token under keys.RefreshTokenAAD. The OAuth
// callback and the refresh path both store a grant through it.
func SealInstall(r *keys.Ring, shop string, t shopify.Token) (Install, error) {
	in := Install{Domain: shop, Grant: Grant{TokenExpiresAt: t.ExpiresAt,
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
