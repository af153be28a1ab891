package activities

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// keyOwners lists whose data keys an erasure destroys: the key of the sealed
// address (the subject's, or the request's own for an email-only customer),
// and the key of every review request the registry
// links to the subject or Shopify named. The registry is the source because
// it outlives the rows: a request row swept by retention may have left its
// workflow history behind (its key went with the row, by trigger).
func (a *Activities) keyOwners(ctx context.Context, r store.PrivacyRequest) ([]string, error) {
	var refs []string
	if err := a.DB.SelectContext(ctx, &refs, `SELECT DISTINCT ref FROM registry_entries
		WHERE shop = $1 AND subject = $2 AND subject <> '' AND ref LIKE 'rq\_%'`, r.Shop, r.Subject); err != nil {
		return nil, fmt.Errorf("find the subject's requests: %w", err)
	}
	seen := map[string]bool{r.KeyOwner(): true}
	owners := []string{r.KeyOwner()}
	covered, err := a.requestRefs(ctx, r) // the orders named, and guest checkouts by the address's key
	if err != nil {
		return nil, err
	}
	refs = append(refs, covered...)
	for _, ref := range refs {
		if !seen[ref] {
			seen[ref] = true
			owners = append(owners, ref)
		}
	}
	return owners, nil
}

// ShredKeys destroys the data keys of what an erasure covers, so that any
// copy of what they encrypted (a database backup, a workflow history that
// survived, a replica) stays unreadable for good; then it reads back. It runs
// after the SendGrid step, which needs the subject's key to read the
// address, and before the rows are deleted.
func (a *Activities) ShredKeys(ctx context.Context, requestID string) (StepResult, error) {
	return erasureStep(ctx, "keys")(a.shredKeys(ctx, requestID))
}

func (a *Activities) shredKeys(ctx context.Context, requestID string) (StepResult, error) {
	r, err := a.privacyRequest(ctx, requestID)
	if err != nil {
		return StepResult{}, err
	}
	if a.DataKeys == nil {
		return StepResult{}, temporal.NewNonRetryableApplicationError("no data keys configured", review.ErrInternal, nil)
	}
	asked := a.now()
	if r.Kind == store.KindShopRedact {
		return a.shredShop(ctx, r)
	}
	var owners []string
	if r.Kind == store.KindCustomerRedact {
		if owners, err = a.keyOwners(ctx, r); err != nil {
			return StepResult{}, err
		}
	}
	var ids []string
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		ids, err = datakeys.Shred(ctx, tx, r.Shop, owners)
		if err != nil || len(ids) == 0 {
			return err
		}
		// Record what became unreadable and where copies may survive.
		now := a.now()
		var es []registry.Entry
		for _, sys := range []string{registry.SystemPostgres, registry.SystemTemporal} {
			es = append(es, registry.Entry{Shop: r.Shop, Subject: r.Subject, Datum: registry.DatumPurchaseHistory,
				System: sys, Action: registry.ActionErased, Purpose: registry.PurposeErasure,
				LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: r.ID})
		}
		_, err = registry.Append(ctx, tx, now, es...)
		return err
	})
	if err != nil {
		return StepResult{}, fmt.Errorf("destroy data keys: %w", err)
	}
	// Forget in this process both what this step deleted and what went
	// with the request rows (trigger), which this step did not see.
	a.DataKeys.Forget(ids...)
	a.DataKeys.ForgetOwners(r.Shop, owners)

	// Read back: none of the scope's keys may exist any more.
	var left int
	if err := a.DB.GetContext(ctx, &left, `SELECT count(*) FROM data_keys WHERE shop = $1 AND owner = ANY($2)`, r.Shop, pq.Array(owners)); err != nil {
		return StepResult{}, err
	}
	if left > 0 {
		return StepResult{}, temporal.NewApplicationError(fmt.Sprintf("%d data keys still present", left), ErrNotYetGone)
	}
	// Earlier attempts may have destroyed some: the receipt names this
	// attempt's keys, and the read-back covers the whole scope.
	sort.Strings(ids)
	named := "none was held"
	if len(ids) > 0 {
		named = strings.Join(ids, ", ")
	}
	scope := fmt.Sprintf("%d key owners: the subject's key and the keys of its review requests", len(owners))
	err = store.SaveReceipt(ctx, a.DB, store.Receipt{RequestID: r.ID, System: "data_keys", AskedAt: asked, VerifiedAt: a.now(),
		Asked:    fmt.Sprintf("destroy the data keys (crypto-shredding) of %s; destroyed: %s", scope, named),
		Verified: "read back: none of the scope's data keys exists; what they encrypted (Temporal payloads, sealed data, backups) can no longer be decrypted"})
	return StepResult{Found: len(ids), Done: len(ids), Verified: true}, err
}

// shredShop is ShredKeys for shop/redact: every data key of the shop, in
// batches (shredShopKeys), then the read-back. Its receipt counts the keys;
// it does not list a shop's worth of key IDs.
func (a *Activities) shredShop(ctx context.Context, r store.PrivacyRequest) (StepResult, error) {
	asked := a.now()
	n, err := a.shredShopKeys(ctx, r)
	if err != nil {
		return StepResult{}, err
	}
	// Forget in this process what went with the request rows (trigger) too.
	a.DataKeys.ForgetOwners(r.Shop, nil)
	var left int
	if err := a.DB.GetContext(ctx, &left, `SELECT count(*) FROM data_keys WHERE shop = $1`, r.Shop); err != nil {
		return StepResult{}, err
	}
	if left > 0 {
		return StepResult{}, temporal.NewApplicationError(fmt.Sprintf("%d data keys still present", left), ErrNotYetGone)
	}
	err = store.SaveReceipt(ctx, a.DB, store.Receipt{RequestID: r.ID, System: "data_keys", AskedAt: asked, VerifiedAt: a.now(),
		Asked:    fmt.Sprintf("destroy the data keys (crypto-shredding) of every data key of the shop; destroyed: %d", n),
		Verified: "read back: none of the scope's data keys exists; what they encrypted (Temporal payloads, sealed data, backups) can no longer be decrypted"})
	return StepResult{Found: n, Done: n, Verified: true}, err
}
