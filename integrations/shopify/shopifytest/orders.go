package shopifytest

import (
	"fmt"
	"strconv"
)

// An order's line items, paged like any Shopify connection: a cursor after
// the last item returned, and pageInfo saying whether more follow.

// lineItemsPage is the order's lineItems connection from index start, at
// most first items: one line item per product.
func lineItemsPage(o Order, start, first int) map[string]any {
	end := min(start+first, len(o.Products))
	start = min(start, end)
	items := []any{}
	for _, p := range o.Products[start:end] {
		items = append(items, map[string]any{"title": p.Title, "isGiftCard": p.GiftCard,
			"product": map[string]any{"id": fmt.Sprintf("gid://shopify/Product/%d", p.ID)}})
	}
	return map[string]any{"nodes": items, "pageInfo": map[string]any{"hasNextPage": end < len(o.Products), "endCursor": strconv.Itoa(end)}}
}

// orderLineItems answers CandorOrderLineItems: one order's line items after
// the cursor.
func (s *Store) orderLineItems(vars map[string]any, first int) (any, string) {
	id, _ := vars["id"].(string)
	m := gidRe.FindStringSubmatch(id)
	if m == nil {
		return nil, "Variable $id of type ID! was provided invalid value"
	}
	orderID, _ := strconv.ParseInt(m[1], 10, 64)
	start := 0
	if after, ok := vars["after"].(string); ok && after != "" {
		var err error
		if start, err = strconv.Atoi(after); err != nil || start < 0 {
			return nil, "invalid cursor"
		}
	}
	o := s.Order(orderID)
	if o.ID == 0 {
		return map[string]any{"order": nil}, ""
	}
	return map[string]any{"order": map[string]any{"lineItems": lineItemsPage(o, start, first)}}, ""
}
