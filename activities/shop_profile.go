package activities

import (
	"context"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/store"
)

// ShopProfile reads the shop's name, own addresses and domains from Shopify
// just in time, through the same refresh-aware token path as every Admin
// call. The merchant pages and the CLI use it to check a review destination
// and to address the test email; nothing of it is stored.
func (a *Activities) ShopProfile(ctx context.Context, shop store.Shop) (shopify.ShopProfile, error) {
	admin, err := a.shopAdmin(ctx, shop)
	if err != nil {
		return shopify.ShopProfile{}, err
	}
	return admin.ShopProfile(ctx)
}
