package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/telemetry"
	"github.com/candorhq/candor/web"
)

// observability is one process's metrics (one registry, Candor's and the
// Temporal SDK's) and tracing (off unless OTEL_EXPORTER_OTLP_ENDPOINT is
// set). A nil *observability, a CLI command's, records nothing.
type observability struct {
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing
}

func newObservability(ctx context.Context, service string) (*observability, error) {
	tr, err := telemetry.TracingFromEnv(ctx, service)
	if err != nil {
		return nil, err
	}
	return &observability{metrics: telemetry.NewMetrics(), tracing: tr}, nil
}

// close flushes the spans not yet exported.
func (o *observability) close(logger *slog.Logger) {
	if o == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.tracing.Shutdown(ctx); err != nil {
		logger.Warn("tracing: spans not exported at shutdown", "error", err.Error())
	}
}

// web gives the HTTP server the process's metrics and tracing, and traces
// its calls to Shopify and SendGrid.
func (o *observability) web(s *web.Server) *web.Server {
	if o == nil {
		return s
	}
	s.Metrics, s.Tracing = o.metrics, o.tracing
	s.Shopify.Wrap = o.tracing.Transport
	s.Mailer.Instrument(o.tracing.Transport)
	return s
}

// activities traces the activities' calls to Shopify and SendGrid.
func (o *observability) activities(a *activities.Activities) *activities.Activities {
	if o == nil {
		return a
	}
	a.Shopify.Wrap = o.tracing.Transport
	a.Mailer.Instrument(o.tracing.Transport)
	return a
}

// activityContext is the worker's BackgroundActivityContext: activities
// count sends and erasure and retention steps, and the registry its
// appends, into the process's metrics.
func (o *observability) activityContext(ctx context.Context) context.Context {
	if o == nil {
		return ctx
	}
	return telemetry.WithMetrics(ctx, o.metrics)
}

// metricsHandler serves the registry (worker's CANDOR_METRICS_ADDR).
func (o *observability) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics.Handler())
	return mux
}
