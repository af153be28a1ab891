package web

// The merchant privacy page (GET /app/privacy): the shop's privacy requests
// and one customer's evidence.

import (
	"context"
	"net/http"
	"strconv"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// appPrivacy is GET /app/privacy[?customer_id=N]: the shop's recent privacy
// requests (Shopify's compliance webhooks), and for one customer the
// evidence: each erasure's receipt per system, each data request's report.
// A lookup reads the customer's pseudonymous records, so it is recorded.
func (s *Server) appPrivacy(w http.ResponseWriter, r *http.Request, m merchantSession) {
	ctx := r.Context()
	page := appPage{Title: tr(r, "nav.privacy"), Shop: m.Shop, CSRF: m.csrf(), Nav: "privacy"}
	data := map[string]any{}
	status := http.StatusOK
	if v := r.URL.Query().Get("customer_id"); v != "" {
		data["CustomerID"] = v
		if id, err := strconv.ParseInt(v, 10, 64); err != nil || id <= 0 {
			page.Error = "A customer ID is the number in the customer's page address in your Shopify admin."
			status = http.StatusBadRequest
		} else if data["Subject"], data["Found"], err = s.subjectEvidence(ctx, m, id); err != nil {
			s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.lookup_customer")
			return
		}
	}
	recent, err := s.DB.RecentPrivacyRequests(ctx, m.Shop, 20)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.list_privacy")
		return
	}
	data["Recent"] = recent
	page.Data = data
	s.render(w, r, status, "privacy", page)
}

// subjectEvidence records a lookup of one customer's privacy requests, then
// returns the customer's pseudonym and their erasures and data requests.
func (s *Server) subjectEvidence(ctx context.Context, m merchantSession, customerID int64) (string, []store.SubjectRequest, error) {
	shop := m.Shop
	subject := s.Keys.Subject(shop, customerID)
	if err := registry.RecordAccess(ctx, s.DB.DB, registry.Access{Principal: m.principal(), What: registry.AccessEvidence,
		Shops: []string{shop}, Subject: subject, Ref: registry.NewLookupID("sr")}, s.now()); err != nil {
		return "", nil, err
	}
	var found []store.SubjectRequest
	for _, kind := range []string{store.KindCustomerRedact, store.KindDataRequest} {
		rs, err := s.DB.SubjectRequests(ctx, shop, subject, kind)
		if err != nil {
			return "", nil, err
		}
		found = append(found, rs...)
	}
	return subject, found, nil
}
