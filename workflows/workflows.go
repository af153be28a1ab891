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
}

// DeliveredSignal reports that the parcel arrived.
type DeliveredSignal struct {
	At time.Time `json:"at"`
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
