package activities

import (
	"context"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/shoptoken"
	"github.com/candorhq/candor/store"
)

// shopAdmin opens the shop's Admin API token for a call, refreshing an
// expiring token first (shoptoken.Opener.Admin). Every Admin API call starts
// here.
func (a *Activities) shopAdmin(ctx context.Context, shop store.Shop) (*shopify.Admin, error) {
	return shoptoken.Opener{DB: a.DB, Keys: a.Keys, Shopify: a.Shopify, OAuth: a.OAuth, Now: a.Now}.Admin(ctx, shop)
}
