package activities

import (
	"context"
	"fmt"
)

// ShopPageInput asks for the next page of shops, in domain order.
type ShopPageInput struct {
	After         string `json:"after"` // the last shop of the previous page; "" for the first
	Limit         int    `json:"limit"`
	ConnectedOnly bool   `json:"connected_only"` // only shops that hold an Admin API token
}

// ShopPage lists up to Limit shop domains after After: the fan-out of the
// reconciliation and the retention sweep page through the shops with it.
// Domains are the shops' business keys, not personal data.
func (a *Activities) ShopPage(ctx context.Context, in ShopPageInput) ([]string, error) {
	if in.Limit <= 0 {
		return nil, fmt.Errorf("list shops: limit %d", in.Limit)
	}
	var shops []string
	err := a.DB.SelectContext(ctx, &shops, `SELECT domain FROM shops WHERE domain > $1 AND (NOT $2 OR access_token_sealed <> '')
		ORDER BY domain LIMIT $3`, in.After, in.ConnectedOnly, in.Limit)
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	return shops, nil
}
