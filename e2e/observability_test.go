package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"gopkg.in/yaml.v3"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/telemetry"
)

// TestObservability_OneOrderIsOneTraceAndCountedWithoutPersonalData runs an
// order from its webhook to its email, a retention sweep and the
// customer's erasure, with tracing and metrics wired as cmd/candor wires
// them. Then it follows the order's trace, scans every exported span and
// the scrape for the customer's data and the raw order ID, and checks that
// every metric deploy/ names is one this scrape holds.
func TestObservability_OneOrderIsOneTraceAndCountedWithoutPersonalData(t *testing.T) {
	s := start(t, nil)
	o := shopifytest.DemoOrder(time.Now().UnixNano() % 1_000_000_000)
	o.Customer.FirstName, o.Customer.LastName = "Philippa-Trace", "Oyelaran-Whitcombe"
	o.Customer.Phone, o.Customer.Address1 = "+44 7700 900456", "3 Quillfeather Row"
	o.Customer.Email = "philippa.ow@example.org"
	o.Customer.ID = 8_812_345_670
	s.shopify.SetOrder(o)

	if got := s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered")); got != "started" {
		t.Fatalf("fulfillment: %s", got)
	}
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("result %+v", r)
	}
	s.sweep(t)
	s.privacy(t, shopify.TopicCustomersRedact, store.KindCustomerRedact, shopifytest.NewWebhookID(), redactPayload(o, o.ID))

	spans := s.spans.GetSpans()
	t.Run("the webhook's trace reaches the workflow, its activities, Shopify and SendGrid", func(t *testing.T) {
		// Admin calls are named by the shop (the stand-in's address is
		// swapped in below the tracing), SendGrid's by its host.
		shopifyHost, sendgridHost := shop, hostOf(t, s.mail.URL)
		for _, root := range spans {
			if root.Name != "POST /webhooks/shopify" {
				continue
			}
			trace := root.SpanContext.TraceID()
			var names []string
			for _, sp := range spans {
				if sp.SpanContext.TraceID() == trace {
					names = append(names, sp.Name)
				}
			}
			if !slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, "Workflow:ReviewRequest") }) {
				continue // a trace of another delivery
			}
			for _, want := range []string{"RunWorkflow:ReviewRequest", "RunActivity:SendReviewRequest",
				"POST " + shopifyHost, "POST " + sendgridHost} {
				if !slices.Contains(names, want) {
					t.Errorf("the order's trace lacks a %q span; it has %v", want, names)
				}
			}
			return
		}
		t.Fatalf("no trace runs from POST /webhooks/shopify to the ReviewRequest workflow; %d spans", len(spans))
	})

	t.Run("no span holds personal data or the order ID", func(t *testing.T) {
		text := spanText(spans)
		if len(spans) < 10 || !strings.Contains(text, "http.route") {
			t.Fatalf("only %d spans exported", len(spans))
		}
		for _, p := range append(personal(o), strconv.FormatInt(o.ID, 10), url.QueryEscape(o.Customer.Email)) {
			if strings.Contains(text, p) {
				t.Errorf("an exported span holds %q", p)
			}
		}
	})

	scrape := scrapeMetrics(t, s)
	t.Run("Candor's counters and the SDK's worker metrics are exported, with bounded labels", func(t *testing.T) {
		for _, want := range []string{
			`candor_webhook_deliveries_total{outcome="started",topic="fulfillments/create"} 1`,
			`candor_webhook_deliveries_total{outcome="accepted",topic="customers/redact"} 1`,
			`candor_sends_total{kind="first",reason="none",status="sent"} 1`,
			`candor_erasure_steps_total{result="verified",system="postgres"}`,
			`candor_retention_steps_total{result=`,
			`candor_registry_appends_total{action="transmitted",system="sendgrid"}`,
			`candor_erasure_oldest_open_age_seconds 0`,
			telemetry.SDKActivityScheduleToStart + "_bucket{",
			telemetry.SDKWorkflowTaskScheduleToStart + "_bucket{",
			telemetry.SDKRequests + "{",
			telemetry.SDKWorkerTaskSlotsAvailable + "{",
		} {
			if !strings.Contains(scrape, want) {
				t.Errorf("the scrape lacks %s", want)
			}
		}
		// A histogram without labels is exported before its first
		// observation: its count says whether appends timed the lock.
		if n := sampleValue(scrape, "candor_registry_head_lock_wait_seconds_count"); n < 3 {
			t.Errorf("the registry head lock was timed %v times, want one per append (3 or more)", n)
		}
		if bad, err := s.metrics.UnknownLabelValues(); err != nil || len(bad) > 0 {
			t.Errorf("label values outside their sets: %v (%v)", bad, err)
		}
		for _, p := range append(personal(o), strconv.FormatInt(o.ID, 10), shop) {
			if strings.Contains(scrape, p) {
				t.Errorf("the scrape holds %q", p)
			}
		}
	})

	t.Run("deploy files name only exported metrics", func(t *testing.T) {
		exported := sampleNames(scrape)
		exprs := deployExpressions(t)
		if len(exprs) < 12 {
			t.Fatalf("found only %d expressions in deploy/", len(exprs))
		}
		for where, expr := range exprs {
			names := metricNames(expr)
			if len(names) == 0 {
				t.Errorf("%s: names no Candor or Temporal metric: %s", where, expr)
			}
			for _, n := range names {
				if !exported[n] {
					t.Errorf("%s: %s is not exported (expression %s)", where, n, expr)
				}
			}
		}
		// The check itself: a name nobody exports is caught.
		if n := metricNames(`rate(candor_webhooks_total[5m])`); len(n) != 1 || exported[n[0]] {
			t.Fatalf("the check would pass an unknown metric: %v", n)
		}
	})
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname()
}

// spanText is every name, attribute, event and status an exporter got.
func spanText(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, sp := range spans {
		fmt.Fprintln(&b, sp.Name, sp.Status.Description)
		for _, kv := range sp.Attributes {
			fmt.Fprintln(&b, kv.Key, kv.Value.Emit())
		}
		for _, e := range sp.Events {
			fmt.Fprintln(&b, e.Name)
			for _, kv := range e.Attributes {
				fmt.Fprintln(&b, kv.Key, kv.Value.Emit())
			}
		}
		for _, kv := range sp.Resource.Attributes() {
			fmt.Fprintln(&b, kv.Key, kv.Value.Emit())
		}
	}
	return b.String()
}

func scrapeMetrics(t *testing.T, s *system) string {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(b) // the worker's registry is the server's here, as in candor dev
}

// sampleNames is every sample name in a Prometheus text scrape
// (histograms' _bucket, _sum and _count included).
func sampleNames(scrape string) map[string]bool {
	names := map[string]bool{}
	for line := range strings.Lines(scrape) {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// sampleValue is the value of the sample named exactly name (no labels).
func sampleValue(scrape, name string) float64 {
	for line := range strings.Lines(scrape) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return -1
}

var metricName = regexp.MustCompile(`\b(?:candor|temporal)_[a-z0-9_]+\b`)

// metricNames lists the Candor and SDK metrics a PromQL expression names.
func metricNames(expr string) []string { return metricName.FindAllString(expr, -1) }

// deployExpressions reads every PromQL expression in deploy/: the Grafana
// dashboard's targets and the Prometheus alert rules.
func deployExpressions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	raw, err := os.ReadFile("../deploy/grafana/candor.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/candor.json: %v", err)
	}
	for _, p := range dash.Panels {
		for i, tg := range p.Targets {
			out[fmt.Sprintf("grafana %q target %d", p.Title, i)] = tg.Expr
		}
	}
	raw, err = os.ReadFile("../deploy/prometheus/candor-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("deploy/prometheus/candor-alerts.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("a rule without alert name or expression: %+v", r)
			}
			out["alert "+r.Alert] = r.Expr
		}
	}
	return out
}
