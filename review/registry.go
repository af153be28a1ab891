package review

import (
	"time"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// InputEntry is the registry entry for a ReviewRequest's input stored in
// Temporal (order, products: purchase history), kept until the workflow can
// end plus the namespace's history retention. Webhook intake and
// reconciliation both write it when they start a workflow.
func InputEntry(shop store.Shop, subject, ref string, now time.Time, historyRetention time.Duration) registry.Entry {
	return registry.Entry{Shop: shop.Domain, Subject: subject, Datum: registry.DatumPurchaseHistory,
		System: registry.SystemTemporal, Action: registry.ActionStored, Purpose: registry.PurposeReviewRequest,
		LegalBasis: registry.BasisLegitimateInterest,
		ExpiresAt:  now.Add(shop.FallbackDelay + shop.Reminder + historyRetention), Ref: ref}
}
