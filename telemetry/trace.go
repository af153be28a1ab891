package telemetry

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/candorhq/candor/integrations/shopify"
)

// OTLPEndpointEnv turns tracing on: spans are exported over OTLP/HTTP to
// it (the exporter reads the other OTEL_EXPORTER_OTLP_* variables itself).
const OTLPEndpointEnv = "OTEL_EXPORTER_OTLP_ENDPOINT"

// Tracing is one process's tracer provider: a no-op one unless export is
// on. A nil *Tracing traces nothing.
type Tracing struct {
	provider trace.TracerProvider
	shutdown func(context.Context) error
}

// propagator carries the trace context across HTTP and Temporal headers:
// W3C trace context only, no baggage, so nothing else rides along.
var propagator = propagation.TraceContext{}

// TracingFromEnv exports spans to OTEL_EXPORTER_OTLP_ENDPOINT, or traces
// nothing when it is not set.
func TracingFromEnv(ctx context.Context, service string) (*Tracing, error) {
	if os.Getenv(OTLPEndpointEnv) == "" {
		return &Tracing{provider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	return newTracing(func(e sdktrace.SpanExporter) sdktrace.TracerProviderOption { return sdktrace.WithBatcher(e) }, service, exp), nil
}

// NewTracing exports every span, as it ends, to exp (tests: an in-memory
// exporter).
func NewTracing(exp sdktrace.SpanExporter, service string) *Tracing {
	return newTracing(func(e sdktrace.SpanExporter) sdktrace.TracerProviderOption { return sdktrace.WithSyncer(e) }, service, exp)
}

func newTracing(export func(sdktrace.SpanExporter) sdktrace.TracerProviderOption, service string, exp sdktrace.SpanExporter) *Tracing {
	tp := sdktrace.NewTracerProvider(export(scrubbing{exp}),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	return &Tracing{provider: tp, shutdown: tp.Shutdown}
}

// Shutdown flushes and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Provider is the tracer provider (a no-op one for a nil *Tracing).
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// Handler traces each request h serves, continuing a caller's trace. The
// span is named by the method only: h names it by route once its mux has
// matched (web.Server does), never by path, which may hold a link token.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "http", otelhttp.WithTracerProvider(t.Provider()), otelhttp.WithPropagators(propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// Transport traces each outgoing call through rt (nil:
// http.DefaultTransport).
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(t.Provider()), otelhttp.WithPropagators(propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Hostname() }))
}

// Instrument sets a Temporal client's metrics handler (the SDK's worker
// and client metrics, on m's registry) and its tracing interceptor, which
// carries a trace from a workflow start to the workflow and its activities.
func Instrument(o *client.Options, m *Metrics, t *Tracing) error {
	if m != nil {
		h, err := m.TemporalHandler()
		if err != nil {
			return err
		}
		o.MetricsHandler = h
	}
	if t != nil {
		ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
			Tracer: t.Provider().Tracer("go.temporal.io/sdk"), TextMapPropagator: propagator, DisableBaggage: true})
		if err != nil {
			return err
		}
		o.Interceptors = append(o.Interceptors, ti)
	}
	return nil
}

// scrubbing: what reaches an exporter holds no personal data and no ID.

// peerKeys name the other end of a connection: for a review or
// unsubscribe link, the customer's address and browser. Dropped.
var peerKeys = map[attribute.Key]bool{
	"client.address": true, "client.port": true, "network.peer.address": true, "network.peer.port": true,
	"user_agent.original": true, "http.client_ip": true, "net.sock.peer.addr": true, "net.sock.peer.port": true,
	"net.peer.ip": true, "http.user_agent": true,
}

// workflowIDKeys hold a workflow ID (review/{shop}/{order}), which has
// the raw Shopify order ID in it.
var workflowIDKeys = map[attribute.Key]bool{"temporalWorkflowID": true}

// urlPattern finds URLs and paths in text (a span name, an error).
var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"']+|(^|\s)/[^\s"']*`)

// longNumber is a run of digits as long as a Shopify order or customer ID
// (or a part of one): never kept in text.
var longNumber = regexp.MustCompile(`\d{5,}`)

// keptSegment is a path segment that names an endpoint, not a record:
// words, an API version (2026-10, v3), a route's wildcard ({token}).
var keptSegment = regexp.MustCompile(`^([a-z][a-z_-]*(\.json)?|\d{4}-\d{2}|v\d+|\{[a-z$]*\})$`)

// scrubURL keeps a URL's scheme, host and endpoint words; every other path
// segment becomes {} and the query and fragment go.
func scrubURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "{}"
	}
	segs := strings.Split(u.Path, "/")
	for i, seg := range segs {
		if seg != "" && !keptSegment.MatchString(seg) {
			segs[i] = "{}"
		}
	}
	out := strings.Join(segs, "/")
	if u.Host != "" {
		out = u.Scheme + "://" + u.Host + out
	}
	return out
}

// scrubText scrubs every URL and path inside s (an error message, a span
// name), and every long number.
func scrubText(s string) string {
	s = urlPattern.ReplaceAllStringFunc(s, func(u string) string {
		trimmed := strings.TrimLeft(u, " \t\n")
		return u[:len(u)-len(trimmed)] + scrubURL(trimmed)
	})
	return longNumber.ReplaceAllString(s, "{}")
}

// scrubWorkflowID keeps an ID's kind and shop: review/{shop}/{}.
func scrubWorkflowID(id string) string {
	segs := strings.Split(id, "/")
	for i, seg := range segs {
		if i > 0 && !shopify.ValidShopDomain(seg) {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

func scrubAttrs(in []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(in))
	for _, kv := range in {
		switch {
		case peerKeys[kv.Key]:
			continue
		case workflowIDKeys[kv.Key]:
			kv = kv.Key.String(scrubWorkflowID(kv.Value.AsString()))
		case strings.HasPrefix(string(kv.Key), "url.") || kv.Key == "http.url" || kv.Key == "http.target":
			if kv.Key == "url.query" || kv.Key == "url.fragment" {
				continue
			}
			kv = kv.Key.String(scrubURL(kv.Value.AsString()))
		case kv.Value.Type() == attribute.STRING:
			kv = kv.Key.String(scrubText(kv.Value.AsString()))
		}
		out = append(out, kv)
	}
	return out
}

// scrubbed is a span as the exporter is allowed to see it.
type scrubbed struct {
	sdktrace.ReadOnlySpan
}

func (s scrubbed) Name() string                     { return scrubText(s.ReadOnlySpan.Name()) }
func (s scrubbed) Attributes() []attribute.KeyValue { return scrubAttrs(s.ReadOnlySpan.Attributes()) }
func (s scrubbed) Status() sdktrace.Status {
	st := s.ReadOnlySpan.Status()
	st.Description = scrubText(st.Description)
	return st
}
func (s scrubbed) Events() []sdktrace.Event {
	evs := s.ReadOnlySpan.Events()
	out := make([]sdktrace.Event, len(evs))
	for i, e := range evs {
		e.Attributes = scrubAttrs(e.Attributes)
		out[i] = e
	}
	return out
}

// scrubbing hands exp only scrubbed spans.
type scrubbing struct{ sdktrace.SpanExporter }

func (s scrubbing) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, sp := range spans {
		out[i] = scrubbed{sp}
	}
	return s.SpanExporter.ExportSpans(ctx, out)
}
