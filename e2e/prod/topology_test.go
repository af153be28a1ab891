// Package prod tests Candor as operators run it: `candor migrate`, then two
// `candor serve` replicas and two `candor worker` processes, built without
// `candor dev`, against a Temporal server built from
// go.temporal.io/server on PostgreSQL, and one Candor database. Shopify and
// SendGrid are the stand-ins; everything else is real.
package prod

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the postgres driver
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/prodenv"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/telemetry"
	"github.com/candorhq/candor/workflows"
)

const (
	shop   = "harbour-goods.myshopify.com"
	secret = "prod-test-shopify-secret"
	token  = "shpat_prod_token"
)

var (
	temporal *prodenv.Temporal
	candor   string // the binary
	// postgres is this package's own PostgreSQL cluster, which both Temporal
	// and Candor use, as a one-database deployment does, so tests can
	// restart it without touching anything else on the machine.
	postgres *pgCluster
)

// pgCluster is a private PostgreSQL that a test can stop and start again.
type pgCluster struct {
	*devenv.Cluster
	dir  string
	port int
}

func (c *pgCluster) restart(ctx context.Context) error {
	next, err := devenv.StartCluster(ctx, c.dir, c.port)
	if err != nil {
		return err
	}
	c.Cluster = next
	return nil
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prod tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bins, err := prodenv.BuildTemporal(ctx)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "candor-prod-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	// The private PostgreSQL runs as the postgres user, who must reach its
	// folder inside this one.
	if err := os.Chmod(dir, 0o755); err != nil {
		return 0, err
	}
	var tags []string
	if os.Getenv("CANDOR_SOAK_PROFILE") != "" {
		tags = append(tags, "profile") // the serve replicas serve pprof (BenchmarkSoak)
	}
	if candor, err = prodenv.BuildCandor(ctx, dir, tags...); err != nil {
		return 0, err
	}
	ports, err := prodenv.FreePorts(1)
	if err != nil {
		return 0, err
	}
	postgres = &pgCluster{dir: filepath.Join(dir, "postgres"), port: ports[0]}
	if postgres.Cluster, err = devenv.StartCluster(ctx, postgres.dir, postgres.port); err != nil {
		return 0, err
	}
	defer func() { _ = postgres.Stop() }()
	if temporal, err = prodenv.StartTemporal(ctx, bins, prodenv.TemporalOptions{
		PostgresURL: postgres.URL, Prefix: "prod", Dir: dir}); err != nil {
		return 0, err
	}
	defer temporal.Stop()
	return m.Run(), nil
}

// deployment is one Candor installation: its database, its namespace on the
// shared Temporal server, the stand-ins, and its processes.
type deployment struct {
	candor  prodenv.Candor
	serves  []*prodenv.Process
	workers []*prodenv.Process
	shopify *shopifytest.Store
	mail    *sendgridtest.Server
	tc      client.Client
	ns      string
	db      *sqlx.DB
	// pprof is each serve replica's pprof address, when the binary was
	// built to profile (CANDOR_SOAK_PROFILE).
	pprof []string
}

// deploy runs what an operator runs: migrate, connect a shop, then the
// serve replicas and the workers.
func deploy(t testing.TB, serves, workers int) *deployment {
	t.Helper()
	ctx := context.Background()
	dbName := fmt.Sprintf("candor_prod_db_%d", time.Now().UnixNano())
	dbURL, err := prodenv.CreateDatabase(ctx, postgres.URL, dbName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prodenv.DropDatabases(context.Background(), postgres.URL, dbName) })
	ns := fmt.Sprintf("candor-%d", time.Now().UnixNano())
	nc, err := client.NewNamespaceClient(client.Options{HostPort: temporal.Address})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Candor's own client settings (config.Config.TemporalOptions): the
	// bare baseline starts its workflows as Candor does, without gzip, and
	// its worker logs as Candor's do, JSON at info level (here to nowhere),
	// not the SDK's default debug lines.
	tc, err := client.Dial(client.Options{HostPort: temporal.Address, Namespace: ns,
		Logger:            tlog.NewStructuredLogger(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))),
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	waitNamespace(t, tc, ns)
	createSearchAttributes(t, ns)

	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d := &deployment{shopify: shopifytest.New(token, config.ShopifyAPIVersion), mail: sendgridtest.New("SG.prod-key"), tc: tc, ns: ns, db: db}
	t.Cleanup(d.shopify.Close)
	t.Cleanup(d.mail.Close)
	d.mail.AuthenticateDomain("mail.candor.example") // the operator's authenticated domain
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	d.candor = prodenv.Candor{Bin: candor, Env: []string{
		"DATABASE_URL=" + dbURL,
		"TEMPORAL_ADDRESS=" + temporal.Address,
		"TEMPORAL_NAMESPACE=" + ns,
		"CANDOR_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"CANDOR_PUBLIC_URL=https://candor.example",
		"SHOPIFY_API_KEY=prod-test-key",
		"SHOPIFY_API_SECRET=" + secret,
		"SENDGRID_API_KEY=SG.prod-key",
		"CANDOR_MAIL_FROM=reviews@mail.candor.example",
		"CANDOR_SHOPIFY_BASE_URL=" + d.shopify.URL,
		"CANDOR_SENDGRID_BASE_URL=" + d.mail.URL,
	}}
	if _, err := d.candor.Run(ctx, "migrate"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.candor.Run(ctx, "shops", "add", "--shop", shop, "--token", token, "--delay", "1s", "--fallback-delay", "3s"); err != nil {
		t.Fatal(err)
	}
	for i := range workers {
		p, err := d.candor.Worker(ctx, fmt.Sprintf("worker-%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		d.workers = append(d.workers, p)
		t.Cleanup(func() { _ = p.Stop(30 * time.Second) })
	}
	for i := range serves {
		var env []string
		if os.Getenv("CANDOR_SOAK_PROFILE") != "" {
			ports, err := prodenv.FreePorts(1)
			if err != nil {
				t.Fatal(err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
			d.pprof = append(d.pprof, addr)
			env = append(env, "CANDOR_PPROF_ADDR="+addr)
		}
		p, err := d.candor.Serve(ctx, fmt.Sprintf("serve-%d", i+1), env...)
		if err != nil {
			t.Fatal(err)
		}
		d.serves = append(d.serves, p)
		t.Cleanup(func() { _ = p.Stop(15 * time.Second) })
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range append(d.serves, d.workers...) {
				t.Logf("%s:\n%s", p.Name, p.Logs(25))
			}
		}
	})
	return d
}

// createSearchAttributes runs the README's `temporal operator
// search-attribute create` command, with the Temporal CLI, as an operator
// does once per namespace before serve and worker start.
func createSearchAttributes(t testing.TB, ns string) {
	t.Helper()
	cli, err := devenv.BuildCLI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	args := append(strings.Fields(review.SearchAttributeCreateCommand(ns))[1:], "--address", temporal.Address)
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func waitNamespace(t testing.TB, tc client.Client, ns string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s: %v", ns, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// deliver posts a signed webhook to one replica and returns its status.
func (d *deployment) deliver(t *testing.T, replica int, topic, webhookID string, body []byte) (int, string) {
	t.Helper()
	req, err := shopifytest.WebhookRequest(d.serves[replica].URL+"/webhooks/shopify", topic, shop, secret, webhookID, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

// TestReplicas_DuplicatesOverBothServesGiveOneEmailPerOrder sends every
// order's fulfillment four times, at once, over both replicas: twice with
// one webhook ID (Shopify's retry) and twice with new IDs (a second
// delivery of the same event). A delivery answered 503 is delivered again,
// as Shopify retries it. Each order gets exactly one email, the schedules
// exist once, and the registry, written by four processes at once,
// verifies.
func TestReplicas_DuplicatesOverBothServesGiveOneEmailPerOrder(t *testing.T) {
	d := deploy(t, 2, 2)
	const orders = 12
	base := time.Now().UnixNano()%1_000_000_000 + 1
	var personal, ids []string
	var wg sync.WaitGroup
	var refused atomic.Int32
	errs := make(chan string, orders*4)
	for i := range int64(orders) {
		o := shopifytest.DemoOrder(base + i)
		o.Customer.Email = fmt.Sprintf("prod.customer.%d@example.net", base+i)
		o.Customer.ID = 8_000_000_000 + base + i
		personal = append(personal, o.Customer.Email, o.Customer.LastName, o.Customer.Address1)
		d.shopify.SetOrder(o)
		ids = append(ids, review.WorkflowID(shop, o.ID))
		body := shopifytest.FulfillmentPayload(o, "delivered")
		retried := shopifytest.NewWebhookID()
		for j, id := range []string{retried, retried, shopifytest.NewWebhookID(), shopifytest.NewWebhookID()} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, msg := d.deliver(t, j%2, shopify.TopicFulfillmentCreate, id, body)
				// A 503 (intake bounds its Temporal call, so a loaded server
				// gets one) is retried, as Shopify retries it.
				for tries := 1; code == http.StatusServiceUnavailable && tries < 10; tries++ {
					refused.Add(1)
					time.Sleep(time.Second)
					code, msg = d.deliver(t, j%2, shopify.TopicFulfillmentCreate, id, body)
				}
				if code != http.StatusOK {
					errs <- fmt.Sprintf("order %d delivery %d: %d %s", o.ID, j, code, msg)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	t.Logf("%d of %d deliveries answered 503 and were retried", refused.Load(), orders*4)

	mails := d.mail.WaitFor(orders, 90*time.Second)
	time.Sleep(3 * time.Second) // a duplicate would come within the delay
	mails = d.mail.Outbox()
	per := map[string]int{}
	for _, m := range mails {
		per[m.To[0]]++
	}
	if len(mails) != orders || len(per) != orders {
		for _, id := range ids {
			t.Log(d.describe(id))
		}
		t.Fatalf("%d emails to %d addresses, want exactly one to each of %d", len(mails), len(per), orders)
	}

	// Both workers created the schedules at start: each exists once.
	ctx := context.Background()
	it, err := d.tc.ScheduleClient().List(ctx, client.ScheduleListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	schedules := map[string]int{}
	for it.HasNext() {
		s, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		schedules[s.ID]++
	}
	for _, id := range []string{workflows.RetentionScheduleID, workflows.ReconcileScheduleID} {
		if schedules[id] != 1 {
			t.Errorf("schedule %s exists %d times, want once (all: %v)", id, schedules[id], schedules)
		}
	}

	// The registry, written by both replicas and both workers, verifies.
	t.Logf("verify: %s", d.exportVerified(t))

	// Each worker serves its metrics on CANDOR_METRICS_ADDR: the SDK's, and
	// Candor's sends, which add up to one per order.
	sent := 0.0
	for _, w := range d.workers {
		scrape := get(t, w.MetricsURL)
		for _, want := range []string{telemetry.SDKWorkflowTaskScheduleToStart + "_bucket{", telemetry.SDKWorkerTaskSlotsAvailable + "{"} {
			if !strings.Contains(scrape, want) {
				t.Errorf("%s's /metrics lacks %s", w.Name, want)
			}
		}
		for line := range strings.Lines(scrape) {
			if v, ok := strings.CutPrefix(line, `candor_sends_total{kind="first",reason="none",status="sent"} `); ok {
				n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				sent += n
			}
		}
		for _, pii := range append(personal, shop) {
			if strings.Contains(scrape, pii) {
				t.Errorf("%s's /metrics holds %q", w.Name, pii)
			}
		}
	}
	if sent != orders {
		t.Errorf("the workers' metrics count %v sends, want %d", sent, orders)
	}

	// No process logged any customer's personal data.
	for _, p := range append(d.serves, d.workers...) {
		logs := p.AllLogs()
		for _, pii := range personal {
			if strings.Contains(logs, pii) {
				t.Errorf("%s logged %q", p.Name, pii)
			}
		}
	}
}

// describe says where a workflow stands, for a failing test's log.
func (d *deployment) describe(id string) string {
	desc, err := d.tc.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		return fmt.Sprintf("%s: %v", id, err)
	}
	out := fmt.Sprintf("%s: %s", id, desc.GetWorkflowExecutionInfo().GetStatus())
	for _, a := range desc.GetPendingActivities() {
		out += fmt.Sprintf("; pending %s attempt %d: %s", a.GetActivityType().GetName(), a.GetAttempt(), a.GetLastFailure().GetMessage())
	}
	return out
}

// count is a row count in the deployment's database.
func (d *deployment) count(t testing.TB, q string) int {
	t.Helper()
	var n int
	if err := d.db.Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}

// exportVerified exports the whole registry as an auditor does and verifies
// it; it returns what verify said.
func (d *deployment) exportVerified(t testing.TB) string {
	t.Helper()
	export := filepath.Join(t.TempDir(), "registry.jsonl")
	if _, err := d.candor.Run(context.Background(), "registry", "export", "--format", "jsonl", "-o", export); err != nil {
		t.Fatal(err)
	}
	return d.verify(t, export)
}

// verify checks an export offline as an auditor does: against the public
// key the installation publishes (`candor registry pubkey`), pinned.
func (d *deployment) verify(t testing.TB, export string) string {
	t.Helper()
	ctx := context.Background()
	pub, err := d.candor.Run(ctx, "registry", "pubkey")
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.candor.Run(ctx, "registry", "verify", "--pubkey", strings.Fields(pub)[0], export)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return strings.TrimSpace(out)
}

// get is the body of a GET that must answer 200.
func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return string(b)
}
