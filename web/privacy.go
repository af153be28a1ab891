package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

var privacyKinds = map[string]string{
	shopify.TopicCustomersRedact:      store.KindCustomerRedact,
	shopify.TopicShopRedact:           store.KindShopRedact,
	shopify.TopicCustomersDataRequest: store.KindDataRequest,
	shopify.TopicAppUninstalled:       store.KindUninstall,
}

// privacyRequestID is derived from the delivery, so Shopify's retries of one
// webhook are one request.
func privacyRequestID(webhookID string) string {
	h := sha256.Sum256([]byte("privacy/" + webhookID))
	return "pr_" + hex.EncodeToString(h[:12])
}

// privacyWebhook handles the mandatory compliance topics and app/uninstalled:
// it stores the request (the address sealed, for SendGrid's erasure), stops
// further sends to a customer being erased, and starts the PrivacyRequest
// workflow. A shop Candor does not know still gets its request, so the
// receipt can say nothing was held.
func (s *Server) privacyWebhook(w http.ResponseWriter, r *http.Request, topic, shop, webhookID string, body []byte) {
	c, err := shopify.ParseCompliance(topic, body)
	if err != nil {
		s.reply(w, r, http.StatusBadRequest, "bad_request", topic, err.Error())
		return
	}
	if topic != shopify.TopicAppUninstalled && c.ShopDomain != shop {
		s.reply(w, r, http.StatusBadRequest, "bad_request", topic, "shop_domain does not match "+shopify.HeaderShop)
		return
	}
	kind := privacyKinds[topic]
	req := store.PrivacyRequest{ID: privacyRequestID(webhookID), Kind: kind, Shop: shop}
	var entries []registry.Entry
	now := s.now()
	entry := func(datum, system, action, purpose string, expires bool) registry.Entry {
		e := registry.Entry{Shop: shop, Subject: req.Subject, Datum: datum, System: system, Action: action,
			Purpose: purpose, LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: req.ID}
		if expires {
			e.ExpiresAt = now.Add(30 * 24 * time.Hour) // until SendGrid was asked; bounded by Shopify's 30 days
		}
		return e
	}
	if c.Customer != nil {
		if c.Customer.ID > 0 {
			// An email-only customer record has no ID, so no pseudonym:
			// the request names the person by the orders and the address.
			req.Subject = s.Keys.Subject(shop, c.Customer.ID)
		}
		req.OrderIDs = append(c.OrdersToRedact, c.OrdersRequested...)
		purpose := registry.PurposeErasure
		if kind == store.KindDataRequest {
			purpose = registry.PurposeDataRequest
		}
		if c.Customer.ID > 0 {
			entries = append(entries, entry(registry.DatumCustomerID, registry.SystemCandor, registry.ActionCollected, purpose, false))
		}
		if c.Customer.Email != "" {
			entries = append(entries, entry(registry.DatumEmail, registry.SystemCandor, registry.ActionCollected, purpose, false))
		}
		// The address's key finds the customer's guest checkouts: their
		// sends and the suppressions made from them.
		req.AddressKey = s.Keys.AddressKey(shop, c.Customer.Email)
		if kind == store.KindCustomerRedact && c.Customer.Email != "" {
			// Under the subject's own data key (the request's, for an
			// email-only record): erasure destroys the key, so a backup
			// taken meanwhile cannot give the address back.
			if s.DataKeys == nil {
				s.unavailable(w, r, topic, "keys", errors.New("no data keys configured"))
				return
			}
			sealed, err := s.DataKeys.Seal(r.Context(), shop, req.KeyOwner(), []byte(c.Customer.Email), req.ID)
			if err != nil {
				s.unavailable(w, r, topic, "keys", err)
				return
			}
			req.EmailSealed = sealed
			entries = append(entries, entry(registry.DatumEmail, registry.SystemPostgres, registry.ActionStored, purpose, true))
		}
	}
	ctx := r.Context()
	err = s.storePrivacyRequest(ctx, req, entries, now)
	if err != nil {
		s.unavailable(w, r, topic, "postgres", err)
		return
	}
	// A redelivery finds the workflow started. If the start fails, the
	// request stays received, and both Shopify's retry and the re-drive
	// schedule (workflows.RedrivePrivacy) start it.
	tctx, cancel := context.WithTimeout(ctx, TemporalHandOffTimeout)
	defer cancel()
	if _, err := workflows.StartPrivacyRequest(tctx, s.Temporal, kind, shop, req.ID); err != nil {
		s.unavailable(w, r, topic, "temporal", err)
		return
	}
	s.reply(w, r, http.StatusOK, "accepted", topic, "accepted "+req.ID)
}

// storePrivacyRequest stores a new privacy request with its registry
// entries; for an erasure, it first puts the customer on the suppression
// list. A redelivery finds the request stored and changes nothing.
func (s *Server) storePrivacyRequest(ctx context.Context, req store.PrivacyRequest, entries []registry.Entry, now time.Time) error {
	return s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		created, err := store.CreatePrivacyRequest(ctx, tx, req)
		if err != nil || !created {
			return err
		}
		if req.Kind == store.KindCustomerRedact {
			// From here on no send is decided for this customer: the send
			// activity checks this list under its row lock. An email-only
			// customer record has no pseudonym: only its address's key
			// goes on the list (an empty key would suppress every guest).
			if _, err := tx.ExecContext(ctx, `INSERT INTO suppressions (shop, subject, reason)
				SELECT domain, k, 'erasure' FROM shops, unnest($2::text[]) AS k WHERE domain = $1 AND k <> ''
				ON CONFLICT DO NOTHING`, req.Shop, pq.Array([]string{req.Subject, req.AddressKey})); err != nil {
				return err
			}
		}
		if req.Kind == store.KindUninstall {
			// Whoever is signed in to the merchant pages leaves with the
			// app: a reinstall signs in afresh.
			if _, err := tx.ExecContext(ctx, `DELETE FROM app_sessions WHERE shop = $1`, req.Shop); err != nil {
				return fmt.Errorf("end the shop's sessions: %w", err)
			}
		}
		if len(entries) == 0 {
			return nil
		}
		_, err = registry.Append(ctx, tx, now, entries...)
		return err
	})
}
