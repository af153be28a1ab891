package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// ScheduleInput records a new request.
type ScheduleInput struct {
	Shop      string
	OrderID   int64
	OrderName string
	RequestID string
	Products  []store.Product
}

// ShopSettings is the part of a shop's settings a workflow needs for timing.
type ShopSettings struct {
	Delay         time.Duration
	FallbackDelay time.Duration
	Reminder      time.Duration
	// EmailPer is store.EmailPerOrder or store.EmailPerShipment; "" in
	// histories from before it, which meant one email per order.
	EmailPer string `json:",omitempty"`
}

// Schedule stores the request (idempotently) with its registry entry and
// returns the shop's timing settings.
func (a *Activities) Schedule(ctx context.Context, in ScheduleInput) (ShopSettings, error) {
	shop, err := a.DB.Shop(ctx, in.Shop)
	if errors.Is(err, store.ErrNotFound) {
		return ShopSettings{}, temporal.NewNonRetryableApplicationError("shop is not connected", review.ErrShopGone, nil)
	}
	if err != nil {
		return ShopSettings{}, fmt.Errorf("load shop: %w", err)
	}
	ov, err := a.DB.Overrides(ctx, in.Shop)
	if err != nil {
		return ShopSettings{}, err
	}
	now := a.now()
	keep := ov.Keep(retention.ReviewRequests)
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		inserted, err := store.CreateRequest(ctx, tx, store.Request{
			RequestID: in.RequestID, Shop: in.Shop, OrderID: in.OrderID, OrderName: in.OrderName,
			ExpiresAt: now.Add(keep),
		}, in.Products)
		if err != nil || !inserted {
			return err
		}
		_, err = registry.Append(ctx, tx, now, registry.Entry{
			Shop: in.Shop, Datum: registry.DatumPurchaseHistory, System: registry.SystemPostgres,
			Action: registry.ActionStored, Purpose: registry.PurposeReviewRequest,
			LegalBasis: registry.BasisLegitimateInterest, ExpiresAt: now.Add(keep), Ref: in.RequestID,
		})
		return err
	})
	if err != nil {
		return ShopSettings{}, fmt.Errorf("schedule request: %w", err)
	}
	return ShopSettings{Delay: shop.Delay, FallbackDelay: shop.FallbackDelay, Reminder: shop.Reminder, EmailPer: shop.EmailPer}, nil
}

// ShipmentInput names a later shipment of an order whose shop emails per
// shipment: its Shopify fulfillment ID (-1 for the products known only
// from the whole order's fulfilment) and name ("#1001.2"), and its
// products. No customer data.
type ShipmentInput struct {
	Shop        string
	OrderID     int64
	Fulfillment int64
	Name        string
	Products    []store.Product
}

// ScheduleShipment stores the request for one later shipment's email
// (idempotently), with its registry entry, and returns its request ID
// (keys.Ring.ShipmentRequestID): its own row, status and links, so each
// shipment's email is sent at most once, as the order's first is.
func (a *Activities) ScheduleShipment(ctx context.Context, in ShipmentInput) (string, error) {
	requestID := a.Keys.ShipmentRequestID(in.Shop, in.OrderID, in.Fulfillment)
	ov, err := a.DB.Overrides(ctx, in.Shop)
	if err != nil {
		return "", err
	}
	now := a.now()
	keep := ov.Keep(retention.ReviewRequests)
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		inserted, err := store.CreateRequest(ctx, tx, store.Request{
			RequestID: requestID, Shop: in.Shop, OrderID: in.OrderID, OrderName: in.Name, Shipment: in.Fulfillment, ExpiresAt: now.Add(keep),
		}, in.Products)
		if err != nil || !inserted {
			return err
		}
		_, err = registry.Append(ctx, tx, now, registry.Entry{
			Shop: in.Shop, Datum: registry.DatumPurchaseHistory, System: registry.SystemPostgres,
			Action: registry.ActionStored, Purpose: registry.PurposeReviewRequest,
			LegalBasis: registry.BasisLegitimateInterest, ExpiresAt: now.Add(keep), Ref: requestID,
		})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("schedule shipment request: %w", err)
	}
	return requestID, nil
}

// SetRequestProducts replaces the products a request asks about while it
// waits (a whole-order email gaining a later shipment's products, or losing
// a cancelled one's). A request already past waiting is left as it is.
func (a *Activities) SetRequestProducts(ctx context.Context, requestID string, products []store.Product) error {
	return store.SetWaitingProducts(ctx, a.DB, requestID, products)
}

// MarkSkipped records that the request ended without an email.
func (a *Activities) MarkSkipped(ctx context.Context, requestID string, reason review.Reason) error {
	_, err := store.Transition(ctx, a.DB, requestID, []string{store.StatusScheduled}, store.StatusSkipped, string(reason))
	return err
}

// MarkFailed records that sending gave up, and returns the status it
// recorded. A request left in "sending" may have reached SendGrid, so it is
// recorded as sent, unconfirmed, not failed.
func (a *Activities) MarkFailed(ctx context.Context, requestID string, reason review.Reason) (string, error) {
	recorded := ""
	err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		moved, err := store.Transition(ctx, tx, requestID, []string{store.StatusSending}, store.StatusSentUnconfirmed, string(review.ReasonOutcomeUnknown))
		if err != nil || moved {
			recorded = store.StatusSentUnconfirmed
			return err
		}
		if moved, err = store.Transition(ctx, tx, requestID, []string{store.StatusScheduled}, store.StatusFailed, string(reason)); moved {
			recorded = store.StatusFailed
		}
		return err
	})
	return recorded, err
}
