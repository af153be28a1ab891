package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/candorhq/candor/review"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// Input decides some label values (a topic header, a SendGrid status):
// whatever arrives, each label keeps to its set.
func TestMetrics_LabelValuesStayInTheirSets(t *testing.T) {
	m := NewMetrics()
	m.WebhookDelivery("orders/create", "started")                // a topic Candor does not subscribe to
	m.WebhookDelivery("x-"+strings.Repeat("a", 40), "duplicate") // anything in the header
	m.WebhookDelivery("fulfillments/create", "a-new-outcome")    // an outcome added in web and not here
	m.Send("first", "skipped", review.Reason("sendgrid_rejected_400"), nil)
	m.Send("first", "failed", review.Reason("sendgrid_rejected_503"), nil)
	m.Send("first", "", "", errors.New("shopify unreachable"))
	m.Send("reminder", "skipped", "customer-1001", nil) // a value no reason is
	m.ErasureStep("postgres", true, nil)
	m.ErasureStep("elsewhere", false, nil)
	m.RetentionStep("sendgrid", true, nil)
	m.Appended("sendgrid", "transmitted")
	m.OAuth("install", "redirected")
	m.LinkClick("review", "redirected")
	m.SendGridEvent("suppressed", 3)
	m.SendGridPost("accepted")
	m.RegistryExport("csv", "auditor")

	text := scrape(t, m)
	for _, want := range []string{
		`candor_webhook_deliveries_total{outcome="started",topic="other"} 1`,
		`candor_webhook_deliveries_total{outcome="duplicate",topic="other"} 1`,
		`candor_webhook_deliveries_total{outcome="other",topic="fulfillments/create"} 1`,
		`candor_sends_total{kind="first",reason="sendgrid_rejected",status="skipped"} 1`,
		`candor_sends_total{kind="first",reason="sendgrid_rejected",status="failed"} 1`,
		`candor_sends_total{kind="first",reason="error",status="error"} 1`,
		`candor_sends_total{kind="reminder",reason="other",status="skipped"} 1`,
		`candor_erasure_steps_total{result="verified",system="postgres"} 1`,
		`candor_erasure_steps_total{result="unverified",system="other"} 1`,
		`candor_retention_steps_total{result="incomplete",system="sendgrid"} 1`,
		`candor_registry_appends_total{action="transmitted",system="sendgrid"} 1`,
		`candor_sendgrid_events_total{outcome="suppressed"} 3`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, leak := range []string{"orders/create", "x-aaaa", "customer-1001", "sendgrid_rejected_", "elsewhere", "a-new-outcome"} {
		if strings.Contains(text, leak) {
			t.Errorf("scrape holds the unbounded value %q", leak)
		}
	}
	if bad, err := m.UnknownLabelValues(); err != nil || len(bad) > 0 {
		t.Fatalf("unknown label values %v (%v)", bad, err)
	}
}

func TestMetrics_NilRecordsNothingAndTwoAreIsolated(t *testing.T) {
	var none *Metrics
	none.WebhookDelivery("fulfillments/create", "started") // no panic
	From(context.Background()).Send("first", "sent", "", nil)

	a, b := NewMetrics(), NewMetrics()
	a.WebhookDelivery("fulfillments/create", "started")
	if strings.Contains(scrape(t, b), "candor_webhook_deliveries_total{") {
		t.Fatal("a count on one registry shows on another")
	}
}

type fakeErasures struct {
	n      int
	oldest time.Time
	err    error
}

func (f fakeErasures) OpenErasures(context.Context) (int, time.Time, error) {
	return f.n, f.oldest, f.err
}

func TestWatchErasures_ReportsTheOldestOpenErasuresAge(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	m := NewMetrics()
	m.WatchErasures(fakeErasures{n: 2, oldest: now.Add(-8 * 24 * time.Hour)}, func() time.Time { return now })
	text := scrape(t, m)
	for _, want := range []string{"candor_erasures_open 2\n", "candor_erasure_oldest_open_age_seconds 691200\n", "candor_erasures_scrape_ok 1\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}

	down := NewMetrics()
	down.WatchErasures(fakeErasures{err: errors.New("connection refused")}, nil)
	text = scrape(t, down)
	if !strings.Contains(text, "candor_erasures_scrape_ok 0\n") || strings.Contains(text, "candor_erasure_oldest_open_age_seconds ") {
		t.Fatalf("with Postgres down the scrape should say so and report no age:\n%s", text)
	}
}

func TestScrub_SpansLoseURLsIDsAndTheCustomersAddress(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := NewTracing(exp, "test")
	_, span := tr.Provider().Tracer("t").Start(context.Background(), "GET /r/tok3n-abc")
	span.SetAttributes(
		attribute.String("url.full", "https://harbour-goods.myshopify.com/admin/api/2026-10/orders/5550001.json?email=jo%40example.com"),
		attribute.String("url.path", "/v3/suppression/bounces/jo@example.com"),
		attribute.String("url.query", "token=abc"),
		attribute.String("client.address", "203.0.113.7"),
		attribute.String("user_agent.original", "Mozilla/5.0"),
		attribute.String("temporalWorkflowID", "review/harbour-goods.myshopify.com/5550001"),
		attribute.String("http.route", "GET /r/{token}"),
	)
	span.RecordError(errors.New(`Post "https://api.sendgrid.com/v3/marketing/contacts/search/emails?x=jo@example.com": EOF`))
	span.SetStatus(codes.Error, `Get "http://127.0.0.1:1/admin/api/2026-10/customers/42.json": refused`)
	span.End()

	got := exp.GetSpans()
	if len(got) != 1 {
		t.Fatalf("%d spans", len(got))
	}
	var all []string
	s := got[0]
	all = append(all, s.Name, s.Status.Description)
	attrs := map[string]string{}
	for _, kv := range s.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
		all = append(all, kv.Value.Emit())
	}
	for _, e := range s.Events {
		for _, kv := range e.Attributes {
			all = append(all, kv.Value.Emit())
		}
	}
	text := strings.Join(all, "\n")
	for _, leak := range []string{"5550001", "jo@example.com", "jo%40", "203.0.113.7", "Mozilla", "tok3n", "token=abc", "/42.json"} {
		if strings.Contains(text, leak) {
			t.Errorf("exported span holds %q:\n%s", leak, text)
		}
	}
	for k, want := range map[string]string{
		"url.full":           "https://harbour-goods.myshopify.com/admin/api/2026-10/orders/{}",
		"url.path":           "/v3/suppression/bounces/{}",
		"temporalWorkflowID": "review/harbour-goods.myshopify.com/{}",
		"http.route":         "GET /r/{token}",
	} {
		if attrs[k] != want {
			t.Errorf("%s = %q, want %q", k, attrs[k], want)
		}
	}
	if _, ok := attrs["url.query"]; ok {
		t.Error("url.query exported")
	}
}

func TestTracingFromEnv_ExportsOnlyWhenTheEndpointIsSet(t *testing.T) {
	got := make(chan string, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	t.Setenv(OTLPEndpointEnv, "")
	off, err := TracingFromEnv(context.Background(), "candor-test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := off.Provider().Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Fatal("a span records with tracing off")
	}
	span.End()

	t.Setenv(OTLPEndpointEnv, collector.URL)
	on, err := TracingFromEnv(context.Background(), "candor-test")
	if err != nil {
		t.Fatal(err)
	}
	_, span = on.Provider().Tracer("t").Start(context.Background(), "x")
	span.End()
	if err := on.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if req != "POST /v1/traces" {
			t.Fatalf("collector got %s", req)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no span reached the collector")
	}
}
