// Package review is the review-request domain: the one home of what the
// webhook intake (web), the orchestration (workflows) and the side effects
// (activities) must agree on. It owns a request's workflow ID and its
// parsing, the workflow, signal and query names, the search attributes and
// phases operators find workflows by, the skip and failure reasons, the
// email's content and rendering, and the registry entries that describe a
// review request.
//
// It must never do I/O: no database, network, Temporal client or clock of
// its own (callers pass the time in). It must never hold or log personal
// data: IDs are built from the shop's domain and the order ID, and the
// email content has no field for a name, an address or a price; the
// recipient address is the sender's business, added after rendering.
//
// Names here are recorded in Temporal histories (workflows/testdata): a
// value may never change, or old histories stop replaying.
package review

import (
	"strconv"
	"strings"

	"github.com/candorhq/candor/integrations/shopify"
)

// WorkflowType is the ReviewRequest workflow's registered name, for
// visibility queries. workflows registers ReviewRequest under it.
const WorkflowType = "ReviewRequest"

// Signal and query names of a ReviewRequest workflow.
const (
	SignalDelivered = "delivered" // the parcel arrived
	// SignalShipment: another fulfillment of the order, one cancelled, or
	// word that the whole order is fulfilled (orders/fulfilled).
	SignalShipment = "shipment"
	SignalStop     = "stop"  // send nothing more
	QueryState     = "state" // where the workflow is, for operators
)

// idPrefix starts every review workflow ID.
const idPrefix = "review/"

// WorkflowID is the workflow ID for one order: review/{shop}/{order_id}.
// Deriving it from the business key makes a second start of the same order
// a duplicate.
func WorkflowID(shop string, orderID int64) string {
	return idPrefix + shop + "/" + strconv.FormatInt(orderID, 10)
}

// ShopWorkflowIDPrefix is what every review workflow ID of the shop starts
// with: retention lists a shop's workflows by it.
func ShopWorkflowIDPrefix(shop string) string {
	return idPrefix + shop + "/"
}

// ParseWorkflowID reverses WorkflowID. It accepts only what WorkflowID
// makes for a valid shop domain and a positive order ID, so a foreign or
// malformed ID is never taken for a review request.
func ParseWorkflowID(id string) (shop string, orderID int64, ok bool) {
	rest, ok := strings.CutPrefix(id, idPrefix)
	if !ok {
		return "", 0, false
	}
	shop, order, ok := strings.Cut(rest, "/")
	if !ok || !shopify.ValidShopDomain(shop) {
		return "", 0, false
	}
	n, err := strconv.ParseInt(order, 10, 64)
	if err != nil || n <= 0 || WorkflowID(shop, n) != id {
		return "", 0, false
	}
	return shop, n, true
}
