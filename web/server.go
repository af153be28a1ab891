// Package web is Candor's HTTP surface: Shopify webhook intake, the links in
// review emails, health and metrics. All routes are listed in Handler.
//
// It never logs or stores a request body, and logs routes by pattern, so
// link tokens and query strings stay out of the logs.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
)

// Server holds the HTTP handlers' dependencies.
type Server struct {
	DB            *store.DB
	Temporal      client.Client
	Keys          *keys.Ring
	ShopifySecret string
	Logger        *slog.Logger
	// TemporalRetention is how long the namespace keeps closed histories;
	// it bounds expires_at for what a workflow input stores in Temporal.
	TemporalRetention time.Duration
	// OAuth (public-app installs), the Admin API for webhook subscriptions,
	// and the public base URL for the callback and webhook addresses.
	OAuth     shopify.OAuth
	Shopify   shopify.AdminConfig
	PublicURL string
	// Extra routes (the dev outbox, the dev landing page).
	Extra map[string]http.Handler
	Now   func() time.Time

	metrics  *metrics
	recorder recorder
	shops    shopCache
	recent   recentDeliveries
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handler lists every route.
func (s *Server) Handler() http.Handler {
	if s.metrics == nil {
		s.metrics = newMetrics()
	}
	s.recorder.db, s.recorder.now = s.DB, s.now
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/shopify", s.shopifyWebhook)
	mux.HandleFunc("GET /shopify/install", s.shopifyInstall)
	mux.HandleFunc("GET /shopify/callback", s.shopifyCallback)
	mux.HandleFunc("GET /r/{token}", s.reviewLink)
	mux.HandleFunc("GET /u/{token}", s.unsubscribe)
	mux.HandleFunc("POST /u/{token}", s.unsubscribe) // RFC 8058 one-click
	readers := []string{store.RoleAuditor, store.RoleMerchant}
	mux.HandleFunc("GET /api/registry/export", s.authed(readers, s.registryExport))
	mux.HandleFunc("GET /api/registry/exports/{id}/signature", s.authed(readers, s.exportSignature))
	mux.HandleFunc("GET /api/registry/trail", s.authed(readers, s.registryTrail))
	mux.HandleFunc("GET /api/registry/pubkey", s.authed(readers, s.registryPubkey))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.metrics)
	for pattern, h := range s.Extra {
		mux.Handle(pattern, h)
	}
	return s.logged(mux)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) logged(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(sw, r)
		_, pattern := mux.Handler(r)
		if pattern == "" {
			pattern = "unmatched"
		}
		s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "http",
			slog.String("route", pattern), slog.Int("status", sw.status), slog.Duration("took", time.Since(start)))
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status, pg, tp := http.StatusOK, "ok", "ok"
	if err := s.DB.PingContext(ctx); err != nil {
		status, pg = http.StatusServiceUnavailable, "unreachable"
	}
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		status, tp = http.StatusServiceUnavailable, "unreachable"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"postgres":"` + pg + `","temporal":"` + tp + `"}` + "\n"))
}
