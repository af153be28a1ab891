package workflows

import (
	"strconv"
	"strings"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
)

// ParseReviewRequestID reverses ReviewRequestID.
func ParseReviewRequestID(id string) (shop string, orderID int64, ok bool) {
	rest, ok := strings.CutPrefix(id, "review/")
	if !ok {
		return "", 0, false
	}
	shop, order, ok := strings.Cut(rest, "/")
	if !ok || shop == "" {
		return "", 0, false
	}
	n, err := strconv.ParseInt(order, 10, 64)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return shop, n, true
}

// DataKeyOwner says which data key encrypts a workflow's payloads. A review
// request's input, activity arguments, signals and results are encrypted
// under that request's own key (owner rq_…, the registry's ref), so erasing
// the customer shreds them wherever they are. Other workflows carry no
// customer data and use the service key.
func DataKeyOwner(ring *keys.Ring) datakeys.OwnerFunc {
	return func(workflowID string) (string, string, bool) {
		shop, order, ok := ParseReviewRequestID(workflowID)
		if !ok {
			return "", "", false
		}
		return shop, ring.RequestID(shop, order), true
	}
}
