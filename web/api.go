package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

type tokenKey struct{}

// authed checks the bearer token and the role before h runs.
func (s *Server) authed(roles []string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="candor"`)
			apiError(w, http.StatusUnauthorized, "missing bearer token (candor tokens create --name N --role auditor)")
			return
		}
		t, err := s.DB.Authenticate(r.Context(), strings.TrimSpace(tok))
		if errors.Is(err, store.ErrBadToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="candor", error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if err != nil {
			apiError(w, http.StatusServiceUnavailable, "could not check the token, try again")
			return
		}
		for _, role := range roles {
			if t.Role == role {
				h(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
				return
			}
		}
		apiError(w, http.StatusForbidden, "a "+t.Role+" token cannot do this")
	}
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// apiFilter reads and checks the filter in the query, and scopes a merchant
// to their shop. It returns the HTTP status for a refusal.
func (s *Server) apiFilter(r *http.Request, t store.Token) (registry.Filter, int, error) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "format", "shop", "subject", "customer_id", "since", "until":
		default:
			return registry.Filter{}, http.StatusBadRequest, fmt.Errorf("unknown parameter %q", k)
		}
	}
	f := registry.Filter{Shop: q.Get("shop"), Subject: q.Get("subject")}
	if t.Role == store.RoleMerchant {
		if f.Shop == "" {
			f.Shop = t.Shop
		}
		if f.Shop != t.Shop {
			return f, http.StatusForbidden, errors.New("a merchant token can read only its own shop")
		}
	}
	if f.Shop != "" && !shopify.ValidShopDomain(f.Shop) {
		return f, http.StatusBadRequest, errors.New("shop is not a *.myshopify.com domain")
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			tm, err := time.Parse(time.RFC3339, v)
			if err != nil {
				if tm, err = time.Parse("2006-01-02", v); err != nil {
					return f, http.StatusBadRequest, fmt.Errorf("%s is not a time (RFC 3339 or YYYY-MM-DD)", name)
				}
			}
			*dst = tm
		}
	}
	if v := q.Get("customer_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 || f.Subject != "" || f.Shop == "" {
			return f, http.StatusBadRequest, errors.New("customer_id must be a positive number, with shop and without subject")
		}
		f.Subject = s.Keys.Subject(f.Shop, id)
	}
	if err := f.Validate(); err != nil {
		return f, http.StatusBadRequest, err
	}
	return f, 0, nil
}

// registryExport is GET /api/registry/export: the registry as CSV, JSONL or
// a record of processing, streamed. The signature is at the URL in the
// Link header once the body is complete.
func (s *Server) registryExport(w http.ResponseWriter, r *http.Request) {
	t := r.Context().Value(tokenKey{}).(store.Token)
	format := r.URL.Query().Get("format")
	if format == "" {
		format = registry.FormatCSV
	}
	if !registry.ValidFormat(format) {
		apiError(w, http.StatusBadRequest, "format must be csv, jsonl or ropa")
		return
	}
	f, status, err := s.apiFilter(r, t)
	if err != nil {
		apiError(w, status, err.Error())
		return
	}
	err = s.exportRegistry(r.Context(), w, exportJob{Format: format, Filter: f, Exporter: t.ID, Principal: t.Principal(), Role: t.Role,
		SignaturePath: "/api/registry/exports/%s/signature"})
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not record the export, try again")
	}
}

// exportSignature is GET /api/registry/exports/{id}/signature: the signed
// manifest of an export this token (or, for auditors, anyone) made.
func (s *Server) exportSignature(w http.ResponseWriter, r *http.Request) {
	t := r.Context().Value(tokenKey{}).(store.Token)
	var row struct {
		TokenID string `db:"token_id"`
		Signed  []byte `db:"signed"`
	}
	err := s.DB.GetContext(r.Context(), &row, `SELECT token_id, signed FROM registry_exports WHERE export_id = $1`, r.PathValue("id"))
	if err != nil || (t.Role != store.RoleAuditor && row.TokenID != t.ID) {
		apiError(w, http.StatusNotFound, "no such export (or its download did not finish)")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(row.Signed)
}

// registryTrail is GET /api/registry/trail?shop=S&customer_id=N.
func (s *Server) registryTrail(w http.ResponseWriter, r *http.Request) {
	t := r.Context().Value(tokenKey{}).(store.Token)
	f, status, err := s.apiFilter(r, t)
	if err != nil {
		apiError(w, status, err.Error())
		return
	}
	if f.Subject == "" {
		apiError(w, http.StatusBadRequest, "give shop and customer_id (or subject)")
		return
	}
	now := s.now()
	if err := registry.RecordAccess(r.Context(), s.DB.DB, registry.Access{Principal: t.Principal(), What: registry.AccessTrail,
		Shops: []string{f.Shop}, Subject: f.Subject, Ref: registry.NewLookupID("tr")}, now); err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not record the lookup, try again")
		return
	}
	tr, err := registry.SubjectTrail(r.Context(), s.DB, f.Shop, f.Subject, now)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not read the registry, try again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(tr)
}

// subjectRequests is GET /api/subjects/{report|receipt}?shop=S&customer_id=N
// (or subject=sub_…): the subject's data requests with their reports, or
// erasures with their receipts, as `candor subjects` prints them. A
// merchant token sees only its shop. The lookup is recorded first.
func (s *Server) subjectRequests(w http.ResponseWriter, r *http.Request) {
	kind := map[string]string{"report": store.KindDataRequest, "receipt": store.KindCustomerRedact}[r.PathValue("what")]
	if kind == "" {
		apiError(w, http.StatusNotFound, "GET /api/subjects/report or /api/subjects/receipt")
		return
	}
	t := r.Context().Value(tokenKey{}).(store.Token)
	f, status, err := s.apiFilter(r, t)
	if err == nil && (f.Subject == "" || r.URL.Query().Has("format") || !f.Since.IsZero() || !f.Until.IsZero()) {
		status, err = http.StatusBadRequest, errors.New("give shop and customer_id (or subject), and nothing else")
	}
	if err != nil {
		apiError(w, status, err.Error())
		return
	}
	ctx := r.Context()
	what := registry.AccessReport
	if kind == store.KindCustomerRedact {
		what = registry.AccessReceipt
	}
	if err := registry.RecordAccess(ctx, s.DB.DB, registry.Access{Principal: t.Principal(), What: what,
		Shops: []string{f.Shop}, Subject: f.Subject, Ref: registry.NewLookupID("sr")}, s.now()); err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not record the lookup, try again")
		return
	}
	reqs, err := s.DB.SubjectRequests(ctx, f.Shop, f.Subject, kind)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not read the requests, try again")
		return
	}
	if len(reqs) == 0 {
		apiError(w, http.StatusNotFound, "no "+kind+" request for this customer of this shop")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"shop": f.Shop, "subject": f.Subject, "requests": reqs})
}

// registryPubkey is GET /api/registry/pubkey: the key exports are signed
// with, for `candor registry verify --pubkey`.
func (s *Server) registryPubkey(w http.ResponseWriter, r *http.Request) {
	signer, err := s.signer(r.Context())
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not read the signing key, try again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"key_id": signer.KeyID, "public_key": signer.PublicKey()})
}

// signer is the current signing key, as the last rotation on any replica
// left it.
func (s *Server) signer(ctx context.Context) (registry.Signer, error) {
	if err := s.loadRotatingKeys(ctx); err != nil {
		return registry.Signer{}, err
	}
	return registry.NewSigner(s.Keys.SigningKey()), nil
}

// registryCheckpoints is GET /api/registry/checkpoints[?since=T]: the
// signed checkpoints of every chain's head (auditors only: they name every
// shop), for `candor registry audit`.
func (s *Server) registryCheckpoints(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	for k := range r.URL.Query() {
		if k != "since" {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q", k))
			return
		}
	}
	if v := r.URL.Query().Get("since"); v != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			if since, err = time.Parse("2006-01-02", v); err != nil {
				apiError(w, http.StatusBadRequest, "since is not a time (RFC 3339 or YYYY-MM-DD)")
				return
			}
		}
	}
	cps, err := registry.Checkpoints(r.Context(), s.DB, since)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not read the checkpoints, try again")
		return
	}
	signer, err := s.signer(r.Context())
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "could not load the signing key, try again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"key_id": signer.KeyID, "public_key": signer.PublicKey(), "checkpoints": cps})
}
