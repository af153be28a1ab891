package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/activity"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// ReconcileLookback is how far back reconciliation looks for fulfilled
// orders that no webhook announced. Shopify retries a failed delivery 8
// times over 4 hours and then drops it
// (https://shopify.dev/changelog/updates-to-webhook-retry-mechanism), so
// reconciliation is the only way such an order is found. It runs daily;
// three days reach past two runs that failed.
const ReconcileLookback = 72 * time.Hour

// ReviewStart is an order to start a ReviewRequest for: the same fields
// webhook intake takes from an orders/fulfilled payload.
type ReviewStart struct {
	Shop        string
	OrderID     int64
	OrderName   string
	Items       []shopify.LineItem
	FulfilledAt time.Time
}

// ReviewStarter starts the ReviewRequest workflow for an order once, ever.
// It reports false when the order has no reviewable products or its
// workflow ID was already used.
type ReviewStarter func(ctx context.Context, s ReviewStart) (bool, error)

// ReconcileShopResult is what reconciling one shop found and did.
type ReconcileShopResult struct {
	Skipped       string                      `json:"skipped,omitempty"` // why nothing was done
	Subscriptions shopify.SubscriptionChanges `json:"subscriptions"`
	OrdersSeen    int                         `json:"orders_seen"`
	Known         int                         `json:"known"`   // Candor already had them
	Started       int                         `json:"started"` // missed by webhooks, started now
}

// ConnectedShops lists the shops that hold an Admin API token.
func (a *Activities) ConnectedShops(ctx context.Context) ([]string, error) {
	var shops []string
	err := a.DB.SelectContext(ctx, &shops, `SELECT domain FROM shops WHERE access_token_sealed <> '' ORDER BY domain`)
	return shops, err
}

// ReconcileShop checks and repairs the shop's webhook subscriptions, then
// starts a ReviewRequest for each recently fulfilled order that Candor never
// heard of. It reads order IDs, names and line items' product IDs and titles:
// nothing about the customer.
func (a *Activities) ReconcileShop(ctx context.Context, domain string) (ReconcileShopResult, error) {
	var res ReconcileShopResult
	shop, err := a.DB.Shop(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		res.Skipped = string(review.ReasonShopDisconnected)
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("load shop: %w", err)
	}
	if shop.TokenSealed == "" {
		res.Skipped = "uninstalled"
		return res, nil
	}
	admin, err := a.shopAdmin(ctx, shop)
	if err != nil {
		return res, temporalError(err)
	}
	if a.PublicURL != "" {
		if res.Subscriptions, err = admin.EnsureSubscriptions(ctx, a.PublicURL+"/webhooks/shopify"); err != nil {
			return res, temporalError(err)
		}
	}
	if a.StartReview == nil {
		return res, errors.New("reconcile: no ReviewStarter wired")
	}
	now := a.now()
	since := now.Add(-ReconcileLookback)
	if shop.InstalledAt.After(since) {
		since = shop.InstalledAt // orders from before the install are not Candor's to ask about
	}
	orders, err := admin.FulfilledOrders(ctx, since)
	if err != nil {
		return res, temporalError(err)
	}
	res.OrdersSeen = len(orders)
	for _, o := range orders {
		activity.RecordHeartbeat(ctx, o.ID)
		if o.Cancelled || !reviewable(o.LineItems) {
			continue
		}
		started, known, err := a.startMissed(ctx, shop, o, now)
		if err != nil {
			return res, err
		}
		if known {
			res.Known++
		}
		if started {
			res.Started++
		}
	}
	return res, nil
}

// startMissed starts an order's ReviewRequest unless Candor has any trace of
// the order: a request row, or any registry entry for its request ID (which
// outlives an erasure, so an erased customer's order is never restarted).
// The registry entry for what the workflow input stores in Temporal is
// written after the start, once (registry.AppendOnce), as webhook intake
// does: if that write fails after the start was accepted, the activity
// fails, and a later attempt (or the next day's run) that finds the
// workflow's request row without the entry writes it.
func (a *Activities) startMissed(ctx context.Context, shop store.Shop, o shopify.FulfilledOrder, now time.Time) (started, known bool, err error) {
	ref := a.Keys.RequestID(shop.Domain, o.ID)
	input := review.InputEntry(shop, "", ref, now, a.TemporalRetention)
	var st struct {
		Row    bool `db:"row"`
		Traced bool `db:"traced"`
		Input  bool `db:"input"`
	}
	if err := a.DB.GetContext(ctx, &st, `SELECT EXISTS (SELECT 1 FROM review_requests WHERE request_id = $1) AS row,
		EXISTS (SELECT 1 FROM registry_entries WHERE ref = $1) AS traced,
		EXISTS (SELECT 1 FROM registry_entries WHERE shop = $2 AND ref = $1 AND system = $3 AND action = $4 AND datum = $5) AS input`,
		ref, shop.Domain, input.System, input.Action, input.Datum); err != nil {
		return false, false, err
	}
	switch {
	case st.Input, st.Traced && !st.Row:
		return false, true, nil
	case st.Row:
		// A workflow was started (its first step wrote the row), but the
		// start's registry entry is missing: its write failed after the
		// start was accepted.
		return false, true, a.recordStart(ctx, now, input)
	}
	ok, err := a.StartReview(ctx, ReviewStart{Shop: shop.Domain, OrderID: o.ID, OrderName: o.Name, Items: o.LineItems, FulfilledAt: now.UTC()})
	if err != nil {
		return false, false, fmt.Errorf("start review request: %w", err)
	}
	if !ok {
		return false, true, nil
	}
	return true, false, a.recordStart(ctx, now, input)
}

// recordStart writes the registry entry of a started workflow's input, once.
func (a *Activities) recordStart(ctx context.Context, now time.Time, input registry.Entry) error {
	return a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := registry.AppendOnce(ctx, tx, now, input); err != nil {
			return fmt.Errorf("record the started review request: %w", err)
		}
		return nil
	})
}

func reviewable(items []shopify.LineItem) bool {
	for _, li := range items {
		if li.Reviewable() {
			return true
		}
	}
	return false
}
