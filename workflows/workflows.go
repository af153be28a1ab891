// Package workflows holds Candor's Temporal workflows: orchestration only.
// Side effects live in package activities.
//
// Workflow inputs, results, signals and search attributes carry no email,
// name, address, phone or price: everything here ends up in Temporal history,
// which operators read and which outlives the send.
package workflows

import (
	"time"

	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// TaskQueue is the one queue Candor's worker polls.
const TaskQueue = "candor"

// ReviewRequestInput is everything the workflow knows about the order.
type ReviewRequestInput struct {
	Shop        string          `json:"shop"`
	OrderID     int64           `json:"order_id"`
	OrderName   string          `json:"order_name"`
	RequestID   string          `json:"request_id"`
	Products    []store.Product `json:"products"`
	FulfilledAt time.Time       `json:"fulfilled_at"`
	// DeliveredAt is set when the first event Candor saw already said
	// delivered.
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// Fulfillment is the Shopify fulfillment (shipment) whose products
	// these are; 0 when they are the whole fulfilled order's
	// (orders/fulfilled, reconciliation).
	Fulfillment int64 `json:"fulfillment,omitempty"`
	// FulfillmentName is that fulfillment's name ("#1001.2").
	FulfillmentName string `json:"fulfillment_name,omitempty"`
}

// DeliveredSignal reports that a parcel arrived: Fulfillment's, or with
// Fulfillment 0 every parcel of the order. Name and Products describe a
// shipment the workflow may not have heard of yet (its fulfillments/create
// never came).
type DeliveredSignal struct {
	At          time.Time       `json:"at"`
	Fulfillment int64           `json:"fulfillment,omitempty"`
	Name        string          `json:"name,omitempty"`
	Products    []store.Product `json:"products,omitempty"`
}

// ShipmentSignal (review.SignalShipment) reports a fulfillment of the
// order: a new shipment with its products, or one cancelled. With
// OrderFulfilled it says the whole order is now fulfilled (orders/fulfilled),
// and Products are all the order's fulfilled products.
type ShipmentSignal struct {
	Fulfillment    int64           `json:"fulfillment,omitempty"`
	Name           string          `json:"name,omitempty"` // "#1001.2"
	Products       []store.Product `json:"products,omitempty"`
	At             time.Time       `json:"at"`
	Cancelled      bool            `json:"cancelled,omitempty"`
	OrderFulfilled bool            `json:"order_fulfilled,omitempty"`
}

// StopSignal asks the workflow to send nothing more.
type StopSignal struct {
	Reason review.Reason `json:"reason"`
}

// reason never returns "": an empty stop signal must still stop.
func (s StopSignal) reason() review.Reason {
	if s.Reason == "" {
		return review.ReasonStopped
	}
	return s.Reason
}

// ReviewRequestResult is how the request ended.
type ReviewRequestResult struct {
	Status         string        `json:"status"` // sent, skipped, failed
	Reason         review.Reason `json:"reason,omitempty"`
	ReminderStatus string        `json:"reminder_status,omitempty"`
}

// ReviewRequestState answers review.QueryState, for operators.
type ReviewRequestState struct {
	Phase     review.Phase  `json:"phase"`
	Delivered bool          `json:"delivered"`
	SendAt    *time.Time    `json:"send_at,omitempty"`
	Stopped   review.Reason `json:"stopped,omitempty"`
}
