// Package web is Candor's HTTP surface: Shopify webhook intake, the links in
// review emails, health and metrics. All routes are listed in Handler.
//
// It never logs or stores a request body, and logs routes by pattern, so
// link tokens and query strings stay out of the logs.
package web

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/staff"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/telemetry"
)

// Server holds the HTTP handlers' dependencies.
type Server struct {
	DB            *store.DB
	Temporal      client.Client
	Keys          *keys.Ring
	DataKeys      *datakeys.Keys // per-subject keys; the Temporal codec endpoint
	ShopifySecret string
	Logger        *slog.Logger
	// ShopifyAPIKey is the audience of App Bridge session tokens; Mailer
	// sends the merchant pages' test email.
	ShopifyAPIKey string
	Mailer        *sendgrid.Mailer
	// CodecOrigins may call the codec endpoint from a browser (the
	// Temporal UI's origin).
	CodecOrigins []string
	// CodecPathTokens serves /codec/{token}/…, an operator token in the
	// URL, for `candor dev`'s embedded UI only (see codec.go).
	CodecPathTokens bool
	// TemporalRetention is how long the namespace keeps closed histories;
	// it bounds expires_at for what a workflow input stores in Temporal.
	TemporalRetention time.Duration
	// OAuth (public-app installs), the Admin API for webhook subscriptions,
	// and the public base URL for the callback and webhook addresses; it
	// also decides whether session cookies are Secure.
	OAuth     shopify.OAuth
	Shopify   shopify.AdminConfig
	PublicURL string
	// Extra routes (the dev outbox, the dev landing page).
	Extra map[string]http.Handler
	Now   func() time.Time

	// Staff signs operators and auditors in to /staff and checks the
	// Temporal UI's tokens on /codec; nil: no staff console (candor dev).
	Staff *staff.Provider

	// SendGridWebhookKey verifies POST /webhooks/sendgrid; nil refuses it.
	SendGridWebhookKey *ecdsa.PublicKey

	// Metrics is the process's metrics, served at /metrics; Handler
	// makes one if nil.
	Metrics *telemetry.Metrics
	// Tracing traces each request (nil: none).
	Tracing *telemetry.Tracing

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
	if s.Metrics == nil {
		s.Metrics = telemetry.NewMetrics()
	}
	s.recorder.db, s.recorder.now = s.DB, s.now
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/shopify", s.shopifyWebhook)
	mux.HandleFunc("POST /webhooks/sendgrid", s.sendgridEvents)
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
	mux.HandleFunc("GET /api/subjects/{what}", s.authed(readers, s.subjectRequests))
	mux.HandleFunc("GET /api/registry/checkpoints", s.authed([]string{store.RoleAuditor}, s.registryCheckpoints))
	mux.HandleFunc("GET /app/login", s.appLogin)
	mux.HandleFunc("GET /app/embedded.js", script(embeddedJS))
	mux.HandleFunc("GET /app/preview.js", script(previewJS))
	mux.HandleFunc("POST /app/login", s.appLoginPost)
	mux.HandleFunc("GET /app", s.merchant(s.appOverview))
	mux.HandleFunc("GET /app/{$}", s.merchant(s.appOverview))
	mux.HandleFunc("POST /app/logout", s.merchant(s.appLogout))
	mux.HandleFunc("GET /app/settings", s.merchant(s.appSettings))
	mux.HandleFunc("POST /app/settings", s.merchant(s.appSettingsPost))
	mux.HandleFunc("POST /app/settings/preview", s.merchant(s.appSettingsPreview))
	mux.HandleFunc("GET /app/requests", s.merchant(s.appRequests))
	mux.HandleFunc("POST /app/test-email", s.merchant(s.appTestEmail))
	mux.HandleFunc("GET /app/registry", s.merchant(s.appRegistry))
	mux.HandleFunc("GET /app/privacy", s.merchant(s.appPrivacy))
	mux.HandleFunc("GET /app/export", s.merchant(s.appExport))
	mux.HandleFunc("GET /app/exports/{id}/signature", s.merchant(s.appExportSignature))
	operators := []string{store.RoleOperator}
	mux.HandleFunc("GET /codec/login", s.codecLogin)
	mux.HandleFunc("POST /codec/login", s.codecLoginPost)
	mux.HandleFunc("POST /codec/logout", s.codecLogout)
	mux.HandleFunc("POST /codec/{op}", s.codecCORS(s.codecStaffBearer(s.codecCookieAuth(s.authed(operators, s.codec)), s.codec)))
	mux.HandleFunc("OPTIONS /codec/{op}", s.codecCORS(nil))
	if s.CodecPathTokens {
		mux.HandleFunc("POST /codec/{token}/{op}", s.codecCORS(codecPathToken(s.authed(operators, s.codec))))
		mux.HandleFunc("OPTIONS /codec/{token}/{op}", s.codecCORS(nil))
	}
	mux.HandleFunc("GET /staff/access", s.staffOrBearer(staffRoles, s.staffAccess))
	mux.HandleFunc("GET /staff/login", s.staffLogin)
	mux.HandleFunc("GET /staff/callback", s.staffCallback)
	mux.HandleFunc("GET /staff", s.staffOnly(staffRoles, s.staffHome))
	mux.HandleFunc("GET /staff/{$}", s.staffOnly(staffRoles, s.staffHome))
	mux.HandleFunc("POST /staff/logout", s.staffOnly(staffRoles, s.staffLogout))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.Metrics.Handler())
	for pattern, h := range s.Extra {
		mux.Handle(pattern, h)
	}
	return s.Tracing.Handler(s.logged(mux))
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
		mux.ServeHTTP(sw, r.WithContext(telemetry.WithMetrics(r.Context(), s.Metrics)))
		_, pattern := mux.Handler(r)
		if pattern == "" {
			pattern = "unmatched"
		}
		// The span is named by route, never by path (a link token).
		span := trace.SpanFromContext(r.Context())
		span.SetName(pattern)
		span.SetAttributes(attribute.String("http.route", pattern))
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
