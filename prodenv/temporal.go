// Package prodenv runs Candor's production topology for tests: a Temporal
// server built from go.temporal.io/server, its persistence and visibility in
// PostgreSQL with the schema applied by Temporal's own SQL tool, and
// `candor` serve and worker processes beside it. It is what an operator
// runs, on this machine, so that tests can break it on purpose.
//
// It is test support: nothing in the candor binary imports it.
package prodenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/candorhq/candor/devenv"
)

// TemporalVersion is the Temporal server release the tests run, built from
// the Go module proxy. docker-compose.yml runs the same release's images.
const TemporalVersion = "v1.32.1"

// Binaries are the Temporal server and its SQL schema tool.
type Binaries struct {
	Server  string
	SQLTool string
	// SchemaDir holds the release's schema/postgresql/v12 folders.
	SchemaDir string
}

// CacheDir is where built binaries are kept between runs (devenv.CacheDir:
// CANDOR_CACHE_DIR, else .cache under the module root).
func CacheDir() (string, error) { return devenv.CacheDir() }

// BuildTemporal builds the server and the SQL tool once into the cache
// (devenv.GoInstall, `go install …@TemporalVersion`). A cold build takes
// minutes.
func BuildTemporal(ctx context.Context) (Binaries, error) {
	bin, err := devenv.GoInstall(ctx, "temporal-"+TemporalVersion, []string{"server", "sql"},
		"go.temporal.io/server/cmd/server@"+TemporalVersion,
		"go.temporal.io/server/cmd/tools/sql@"+TemporalVersion)
	if err != nil {
		return Binaries{}, fmt.Errorf("build Temporal server %s: %w", TemporalVersion, err)
	}
	b := Binaries{Server: filepath.Join(bin, "server"), SQLTool: filepath.Join(bin, "sql")}
	// The schema files come with the module the build just fetched.
	out, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
	if err != nil {
		return b, fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	b.SchemaDir = filepath.Join(strings.TrimSpace(string(out)), "go.temporal.io", "server@"+TemporalVersion, "schema", "postgresql", "v12")
	if !exists(filepath.Join(b.SchemaDir, "temporal", "versioned")) {
		// The module cache was cleaned after a build: fetch the module again.
		dl := exec.CommandContext(ctx, "go", "mod", "download", "go.temporal.io/server@"+TemporalVersion)
		dl.Dir = os.TempDir()
		dl.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
		if out, err := dl.CombinedOutput(); err != nil {
			return b, fmt.Errorf("download Temporal server %s schema: %w\n%s", TemporalVersion, err, tail(out, 10))
		}
	}
	return b, nil
}

// Temporal is a running Temporal server on PostgreSQL.
type Temporal struct {
	Address   string // frontend gRPC host:port
	Namespace string
	bins      Binaries
	dir       string
	logs      *devenv.SyncBuffer

	mu  sync.Mutex
	cmd *exec.Cmd
}

// TemporalOptions say where its persistence goes.
type TemporalOptions struct {
	// PostgresURL is the server to create the two databases on
	// (postgres://user@host:port/…).
	PostgresURL string
	// Prefix names the databases: PREFIX_temporal and PREFIX_visibility.
	Prefix string
	// Dir holds the config file.
	Dir string
}

// SchemaSteps are the runs of Temporal's SQL tool (temporal-sql-tool) that
// create one of its databases and bring its schema up to the release's
// version: kind is "temporal" or "visibility", schemaDir the release's
// schema/postgresql/v12. StartTemporal runs them, and docker-compose.yml's
// admin-tools job runs the same (compose_test.go checks), as Temporal's
// samples-server compose/scripts/setup-postgres.sh does.
func SchemaSteps(schemaDir, kind string) [][]string {
	return [][]string{
		{"create-database"},
		{"setup-schema", "-v", "0.0"},
		{"update-schema", "-d", filepath.Join(schemaDir, kind, "versioned")},
	}
}

// StartTemporal creates the two databases, applies Temporal's schema with its
// SQL tool (SchemaSteps), starts the server and registers the default
// namespace and Candor's search attributes.
func StartTemporal(ctx context.Context, b Binaries, o TemporalOptions) (*Temporal, error) {
	pg, err := neturl.Parse(o.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	host, port := pg.Hostname(), pg.Port()
	if port == "" {
		port = "5432"
	}
	user := pg.User.Username()
	pass, _ := pg.User.Password()
	dbs := map[string]string{"temporal": o.Prefix + "_temporal", "visibility": o.Prefix + "_visibility"}
	for _, kind := range []string{"temporal", "visibility"} {
		base := []string{"--plugin", "postgres12", "--ep", host, "-p", port, "-u", user, "--pw", pass, "--db", dbs[kind]}
		for _, step := range SchemaSteps(b.SchemaDir, kind) {
			cmd := exec.CommandContext(ctx, b.SQLTool, append(append([]string{}, base...), step...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("temporal sql tool %s on %s: %w\n%s", step[0], dbs[kind], err, tail(out, 10))
			}
		}
	}
	ports, err := FreePorts(9)
	if err != nil {
		return nil, err
	}
	t := &Temporal{Address: fmt.Sprintf("127.0.0.1:%d", ports[0]), Namespace: "default", bins: b, dir: o.Dir, logs: processLogs()}
	var cfg bytes.Buffer
	if err := configTemplate.Execute(&cfg, map[string]any{
		"Host": host, "Port": port, "User": user, "Password": pass,
		"DB": dbs["temporal"], "VisibilityDB": dbs["visibility"], "Ports": ports,
	}); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "temporal.yaml"), cfg.Bytes(), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "dynamicconfig.yaml"), []byte(dynamicConfig), 0o600); err != nil {
		return nil, err
	}
	if err := t.Start(ctx); err != nil {
		return nil, err
	}
	nc, err := client.NewNamespaceClient(client.Options{HostPort: t.Address, Logger: quiet()})
	if err != nil {
		t.Kill()
		return nil, err
	}
	defer nc.Close()
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: t.Namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Kill()
		return nil, fmt.Errorf("register namespace: %w", err)
	}
	// A new namespace takes a moment to reach every service's cache.
	if err := t.waitNamespace(ctx); err != nil {
		t.Kill()
		return nil, err
	}
	// Candor's search attributes, as an operator creates them on a cluster
	// (README); serve and worker refuse to start without them.
	if err := t.addSearchAttributes(ctx); err != nil {
		t.Kill()
		return nil, err
	}
	return t, nil
}

// Start starts the server process (again, after Stop or Kill) and waits
// until its frontend answers.
func (t *Temporal) Start(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cmd != nil {
		return errors.New("temporal server already running")
	}
	cmd := exec.Command(t.bins.Server, "--config-file", filepath.Join(t.dir, "temporal.yaml"), "--allow-no-auth", "start")
	cmd.Dir = t.dir
	cmd.Stdout, cmd.Stderr = t.logs, t.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start temporal server: %w", err)
	}
	t.cmd = cmd
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, err := client.Dial(client.Options{HostPort: t.Address, Logger: quiet()})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("temporal server did not answer at %s: %v\n%s", t.Address, err, t.Logs(30))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (t *Temporal) addSearchAttributes(ctx context.Context) error {
	c, err := client.Dial(client.Options{HostPort: t.Address, Namespace: t.Namespace, Logger: quiet()})
	if err != nil {
		return err
	}
	defer c.Close()
	return devenv.AddSearchAttributes(ctx, c, t.Namespace)
}

func (t *Temporal) waitNamespace(ctx context.Context) error {
	c, err := client.Dial(client.Options{HostPort: t.Address, Namespace: t.Namespace, Logger: quiet()})
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: t.Namespace})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s not ready: %w", t.Namespace, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Stop ends the server with SIGTERM and waits for it.
func (t *Temporal) Stop() { t.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would.
func (t *Temporal) Kill() { t.signal(syscall.SIGKILL) }

func (t *Temporal) signal(sig syscall.Signal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cmd == nil {
		return
	}
	_ = syscall.Kill(-t.cmd.Process.Pid, sig)
	_ = t.cmd.Wait()
	t.cmd = nil
}

// Logs is the server's last n lines of output.
func (t *Temporal) Logs(n int) string { return tail([]byte(t.logs.String()), n) }

func quiet() tlog.Logger { return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func tail(b []byte, n int) string { return devenv.Tail(b, n) }

// FreePorts reserves n distinct loopback ports below 32768 by listening on
// them, then releases them for the server to take. Temporal stores its
// membership port in a smallint column, so the kernel's ephemeral range
// (from 32768) will not do.
func FreePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free loopback ports below 32768")
		}
		port := 20000 + mrand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		lns = append(lns, l)
		ports = append(ports, port)
	}
	return ports, nil
}

// processLogs is what a process this package starts has written lately:
// the last few MiB, so that a long soak does not keep all of it.
func processLogs() *devenv.SyncBuffer { return &devenv.SyncBuffer{Limit: 4 << 20} }

// dynamicConfig shortens what tests would otherwise wait on.
const dynamicConfig = `
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
    constraints: {}
`

// configTemplate is Temporal's development-postgres12.yaml with our
// databases and free ports: one process runs all four services.
var configTemplate = template.Must(template.New("temporal").Parse(`
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql:
        pluginName: "postgres12"
        databaseName: "{{.DB}}"
        connectAddr: "{{.Host}}:{{.Port}}"
        connectProtocol: "tcp"
        user: "{{.User}}"
        password: "{{.Password}}"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: "1h"
    postgres-visibility:
      sql:
        pluginName: "postgres12"
        databaseName: "{{.VisibilityDB}}"
        connectAddr: "{{.Host}}:{{.Port}}"
        connectProtocol: "tcp"
        user: "{{.User}}"
        password: "{{.Password}}"
        maxConns: 4
        maxIdleConns: 4
        maxConnLifetime: "1h"
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:
  frontend:
    rpc:
      grpcPort: {{index .Ports 0}}
      membershipPort: {{index .Ports 1}}
      bindOnLocalHost: true
      httpPort: {{index .Ports 2}}
  matching:
    rpc:
      grpcPort: {{index .Ports 3}}
      membershipPort: {{index .Ports 4}}
      bindOnLocalHost: true
  history:
    rpc:
      grpcPort: {{index .Ports 5}}
      membershipPort: {{index .Ports 6}}
      bindOnLocalHost: true
  worker:
    rpc:
      grpcPort: {{index .Ports 7}}
      membershipPort: {{index .Ports 8}}
      bindOnLocalHost: true
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:{{index .Ports 0}}"
dcRedirectionPolicy:
  policy: "noop"
dynamicConfigClient:
  filepath: "dynamicconfig.yaml"
  pollInterval: "10s"
`))
