// Package telemetry owns what Candor tells operators about itself: its
// Prometheus metrics (names, labels and every value a label may take), the
// Temporal SDK's worker metrics on the same registry, and OpenTelemetry
// tracing.
//
// It never puts personal data, a shop or any ID in a label, a span
// attribute or an event: label values come from enumerated sets (anything
// else is counted as "other"), and exported spans are scrubbed (trace.go).
package telemetry

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// Metric names. Dashboards (deploy/grafana) and alert rules
// (deploy/prometheus) use them; TestObservability_OneOrderIsOneTraceAndCountedWithoutPersonalData
// checks that every name they use is exported.
const (
	WebhookDeliveries  = "candor_webhook_deliveries_total"
	WebhookIntake      = "candor_webhook_intake_seconds"
	OAuthSteps         = "candor_oauth_total"
	LinkClicks         = "candor_link_clicks_total"
	SendGridEvents     = "candor_sendgrid_events_total"
	SendGridPosts      = "candor_sendgrid_posts_total"
	RegistryExports    = "candor_registry_exports_total"
	Sends              = "candor_sends_total"
	ErasureSteps       = "candor_erasure_steps_total"
	RetentionSteps     = "candor_retention_steps_total"
	RegistryAppends    = "candor_registry_appends_total"
	RegistryHeadLock   = "candor_registry_head_lock_wait_seconds"
	OldestOpenErasure  = "candor_erasure_oldest_open_age_seconds"
	OpenErasures       = "candor_erasures_open"
	ErasuresScrapeOK   = "candor_erasures_scrape_ok"
	otherValue         = "other"
	resultError        = "error"
	resultOK           = "ok"
	resultIncomplete   = "incomplete"
	resultVerified     = "verified"
	resultUnverified   = "unverified"
	stepReasonRejected = string(review.ReasonRejected)
)

// Label values. A value outside its set is counted as "other", so a
// label's series are bounded whatever the input.
var (
	Topics = []string{shopify.TopicFulfillmentCreate, shopify.TopicFulfillmentUpdate, shopify.TopicOrderFulfilled,
		shopify.TopicOrderCancelled, shopify.TopicRefundCreate, shopify.TopicCustomersDataRequest,
		shopify.TopicCustomersRedact, shopify.TopicShopRedact, shopify.TopicAppUninstalled}
	// IntakeOutcomes are web's answers to a Shopify webhook.
	IntakeOutcomes = []string{"started", "signalled", "accepted", "duplicate", "ignored", "unknown_shop",
		"bad_request", "bad_hmac", "too_large", "unreadable", "unavailable"}
	OAuthStepNames   = []string{"hmac", "timestamp", "state", "install", "callback", "exchange", "scopes", "subscriptions", "login"}
	OAuthOutcomes    = []string{"rejected", "bad_shop", "redirected", "missing", "failed", "installed", "signed_in"}
	LinkKinds        = []string{"review", "unsubscribe"}
	LinkOutcomes     = []string{"expired", "invalid", "revoked", "redirected", "confirm_shown", "unsubscribed"}
	EventOutcomes    = []string{"suppressed", "duplicate", "ignored", "malformed"}
	PostOutcomes     = []string{"accepted", "bad_request", "unreadable", "too_large", "not_configured", "unavailable", "bad_signature"}
	ExportFormats    = []string{registry.FormatCSV, registry.FormatJSONL, registry.FormatROPA}
	Roles            = []string{store.RoleAuditor, store.RoleMerchant, store.RoleOperator}
	SendKinds        = []string{"first", "reminder"}
	SendStatuses     = []string{store.StatusSent, store.StatusSentUnconfirmed, store.StatusSkipped, store.StatusFailed, resultError}
	Systems          = []string{registry.SystemShopify, registry.SystemPostgres, registry.SystemTemporal, registry.SystemSendGrid, registry.SystemCandor}
	Actions          = []string{registry.ActionCollected, registry.ActionStored, registry.ActionRead, registry.ActionTransmitted, registry.ActionDeleted, registry.ActionErased}
	ErasureSystems   = []string{registry.SystemTemporal, registry.SystemPostgres, registry.SystemSendGrid, "keys", "token"}
	ErasureResults   = []string{resultVerified, resultUnverified, resultError}
	RetentionSystems = []string{registry.SystemPostgres, registry.SystemSendGrid, registry.SystemTemporal}
	RetentionResults = []string{resultOK, resultIncomplete, resultError}
)

// SendReasons is every reason a send's outcome may carry: review's, with
// a SendGrid status (sendgrid_rejected_400) counted as sendgrid_rejected,
// "none" for a send that went out and "error" for an attempt that failed
// (and is retried).
var SendReasons = append(review.Reasons(), "none", resultError)

// Metrics is one process's metrics, on its own registry (never the
// global default), served by Handler. A nil *Metrics records nothing.
type Metrics struct {
	reg       *prometheus.Registry
	labels    map[string]labelSets // metric -> its labels' allowed values
	deliver   *prometheus.CounterVec
	intake    prometheus.Histogram
	oauth     *prometheus.CounterVec
	links     *prometheus.CounterVec
	events    *prometheus.CounterVec
	posts     *prometheus.CounterVec
	exports   *prometheus.CounterVec
	sends     *prometheus.CounterVec
	erasure   *prometheus.CounterVec
	retention *prometheus.CounterVec
	appends   *prometheus.CounterVec
	headLock  prometheus.Histogram
	sdk       sdkMetrics
}

// NewMetrics makes a registry with Candor's metrics and the Go runtime's
// and the process's.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), labels: map[string]labelSets{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.deliver = m.counter(WebhookDeliveries, "Shopify webhook deliveries by topic and intake outcome.",
		[]string{"topic", "outcome"}, Topics, IntakeOutcomes)
	m.intake = m.histogram(WebhookIntake, "Time to answer a Shopify webhook delivery.",
		[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})
	m.oauth = m.counter(OAuthSteps, "OAuth install and sign-in steps by outcome.",
		[]string{"step", "outcome"}, OAuthStepNames, OAuthOutcomes)
	m.links = m.counter(LinkClicks, "Review and unsubscribe link requests by outcome.",
		[]string{"kind", "outcome"}, LinkKinds, LinkOutcomes)
	m.events = m.counter(SendGridEvents, "SendGrid events by what Candor did with them.",
		[]string{"outcome"}, EventOutcomes)
	m.posts = m.counter(SendGridPosts, "SendGrid Event Webhook posts by answer.",
		[]string{"outcome"}, PostOutcomes)
	m.exports = m.counter(RegistryExports, "Registry exports by format and role.",
		[]string{"format", "role"}, ExportFormats, Roles)
	m.sends = m.counter(Sends, "Review email send attempts by kind, status and reason.",
		[]string{"kind", "status", "reason"}, SendKinds, SendStatuses, SendReasons)
	m.erasure = m.counter(ErasureSteps, "Erasure and uninstall steps by system and result.",
		[]string{"system", "result"}, ErasureSystems, ErasureResults)
	m.retention = m.counter(RetentionSteps, "Retention sweep steps by system and result.",
		[]string{"system", "result"}, RetentionSystems, RetentionResults)
	m.appends = m.counter(RegistryAppends, "Registry entries appended, by system and action.",
		[]string{"system", "action"}, Systems, Actions)
	m.headLock = m.histogram(RegistryHeadLock, "Time to take a registry chain's head lock.",
		[]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})
	return m
}

func (m *Metrics) counter(name, help string, labels []string, values ...[]string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	m.labels[name] = labelSets{names: labels, values: values}
	return v
}

func (m *Metrics) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	m.reg.MustRegister(h)
	return h
}

// inc adds one to the series of vec whose label values are values, each
// bounded to its set.
func (m *Metrics) inc(name string, vec *prometheus.CounterVec, values ...string) {
	m.add(name, vec, 1, values...)
}

func (m *Metrics) add(name string, vec *prometheus.CounterVec, n float64, values ...string) {
	sets := m.labels[name].values
	for i, v := range values {
		if !slices.Contains(sets[i], v) {
			values[i] = otherValue
		}
	}
	vec.WithLabelValues(values...).Add(n)
}

// Registry is where the metrics are; the Temporal SDK's join them
// (TemporalHandler).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// labelSets are a metric's label names and, for each, the values it may
// take besides "other".
type labelSets struct {
	names  []string
	values [][]string
}

func (l labelSets) allowed(label, value string) bool {
	i := slices.Index(l.names, label)
	return value == otherValue || i >= 0 && slices.Contains(l.values[i], value)
}

// Handler serves the registry in Prometheus's exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// WebhookDelivery counts one Shopify webhook answer.
func (m *Metrics) WebhookDelivery(topic, outcome string) {
	if m != nil {
		m.inc(WebhookDeliveries, m.deliver, topic, outcome)
	}
}

// WebhookIntakeTook observes one webhook's answer time.
func (m *Metrics) WebhookIntakeTook(d time.Duration) {
	if m != nil {
		m.intake.Observe(d.Seconds())
	}
}

// OAuth counts one OAuth step's outcome.
func (m *Metrics) OAuth(step, outcome string) {
	if m != nil {
		m.inc(OAuthSteps, m.oauth, step, outcome)
	}
}

// LinkClick counts one review or unsubscribe link request.
func (m *Metrics) LinkClick(kind, outcome string) {
	if m != nil {
		m.inc(LinkClicks, m.links, kind, outcome)
	}
}

// SendGridEvent counts n SendGrid events with one outcome.
func (m *Metrics) SendGridEvent(outcome string, n int) {
	if m != nil && n > 0 {
		m.add(SendGridEvents, m.events, float64(n), outcome)
	}
}

// SendGridPost counts one Event Webhook post's answer.
func (m *Metrics) SendGridPost(outcome string) {
	if m != nil {
		m.inc(SendGridPosts, m.posts, outcome)
	}
}

// RegistryExport counts one registry export.
func (m *Metrics) RegistryExport(format, role string) {
	if m != nil {
		m.inc(RegistryExports, m.exports, format, role)
	}
}

// Send counts one send attempt's end: its status and reason, or an error
// (the attempt is retried, or the workflow records the failure).
func (m *Metrics) Send(kind, status string, reason review.Reason, err error) {
	if m == nil {
		return
	}
	r := string(reason)
	switch {
	case err != nil:
		status, r = resultError, resultError
	case r == "":
		r = "none"
	case strings.HasPrefix(r, stepReasonRejected+"_"):
		r = stepReasonRejected // the SendGrid status appended to it is not a label value
	}
	m.inc(Sends, m.sends, kind, status, r)
}

// ErasureStep counts one erasure step on system: verified, unverified
// (done, but reading back did not confirm it), or error.
func (m *Metrics) ErasureStep(system string, verified bool, err error) {
	if m == nil {
		return
	}
	result := resultVerified
	switch {
	case err != nil:
		result = resultError
	case !verified:
		result = resultUnverified
	}
	m.inc(ErasureSteps, m.erasure, system, result)
}

// RetentionStep counts one retention sweep step on system: ok,
// incomplete (something could not be done, see the sweep's notes), or
// error.
func (m *Metrics) RetentionStep(system string, incomplete bool, err error) {
	if m == nil {
		return
	}
	result := resultOK
	switch {
	case err != nil:
		result = resultError
	case incomplete:
		result = resultIncomplete
	}
	m.inc(RetentionSteps, m.retention, system, result)
}

// HeadLockWaited is registry.Observer's.
func (m *Metrics) HeadLockWaited(d time.Duration) {
	if m != nil {
		m.headLock.Observe(d.Seconds())
	}
}

// Appended is registry.Observer's.
func (m *Metrics) Appended(system, action string) {
	if m != nil {
		m.inc(RegistryAppends, m.appends, system, action)
	}
}

type metricsKey struct{}

// WithMetrics returns ctx that carries m, for code that has no Server or
// Activities to hold it (the registry's appends), and that tells the
// registry's appends to m.
func WithMetrics(ctx context.Context, m *Metrics) context.Context {
	if m == nil {
		return ctx
	}
	return registry.WithObserver(context.WithValue(ctx, metricsKey{}, m), m)
}

// From is the Metrics ctx carries; nil (which records nothing) if none.
func From(ctx context.Context) *Metrics {
	m, _ := ctx.Value(metricsKey{}).(*Metrics)
	return m
}

// UnknownLabelValues gathers the registry and lists every series of a
// Candor metric whose label value is in no enumerated set (nor "other"):
// what would make a label unbounded. Tests run it after exercising Candor.
func (m *Metrics) UnknownLabelValues() ([]string, error) {
	mfs, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, mf := range mfs {
		sets, ok := m.labels[mf.GetName()]
		if !ok {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if !sets.allowed(lp.GetName(), lp.GetValue()) {
					bad = append(bad, mf.GetName()+"{"+lp.GetName()+"="+lp.GetValue()+"}")
				}
			}
		}
	}
	return bad, nil
}
