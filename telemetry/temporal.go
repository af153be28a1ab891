package telemetry

import (
	"sync"

	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// SDK metric names that deploy/, the README and the tests use, as the
// Prometheus exporter names them (the SDK's temporal_… names, with the
// unit and _total suffixes).
const (
	SDKActivityScheduleToStart     = "temporal_activity_schedule_to_start_latency_seconds"
	SDKWorkflowTaskScheduleToStart = "temporal_workflow_task_schedule_to_start_latency_seconds"
	SDKRequests                    = "temporal_request_total"
	SDKWorkerTaskSlotsAvailable    = "temporal_worker_task_slots_available"
)

// latencyBuckets are the SDK's latency histograms' buckets, in seconds
// (OpenTelemetry's default buckets are made for milliseconds).
var latencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type sdkMetrics struct {
	once    sync.Once
	handler client.MetricsHandler
	err     error
}

// TemporalHandler is the Temporal SDK's metrics handler: the SDK's
// OpenTelemetry instruments (go.temporal.io/sdk/contrib/opentelemetry),
// read by OpenTelemetry's Prometheus exporter into m's registry, so they
// are served with Candor's own. One per Metrics.
func (m *Metrics) TemporalHandler() (client.MetricsHandler, error) {
	m.sdk.once.Do(func() {
		exp, err := otelprom.New(otelprom.WithRegisterer(m.reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
		if err != nil {
			m.sdk.err = err
			return
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Name: "temporal_*", Kind: sdkmetric.InstrumentKindHistogram},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: latencyBuckets}})))
		m.sdk.handler = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
			Meter: mp.Meter("temporal-sdk-go"), UseMonotonicCounters: true,
			OnError: func(error) {}, // an instrument that cannot be made is left out, never a panic in the worker
		})
	})
	return m.sdk.handler, m.sdk.err
}
