package workflows

import (
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/review"
)

// DataKeyOwner says which data key encrypts a workflow's payloads. A review
// request's input, activity arguments, signals and results are encrypted
// under that request's own key (owner rq_…, the registry's ref), so erasing
// the customer shreds them wherever they are. Other workflows carry no
// customer data and use the service key.
func DataKeyOwner(ring *keys.Ring) datakeys.OwnerFunc {
	return func(workflowID string) (string, string, bool) {
		shop, order, ok := review.ParseWorkflowID(workflowID)
		if !ok {
			return "", "", false
		}
		return shop, ring.RequestID(shop, order), true
	}
}
