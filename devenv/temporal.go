// Package devenv brings up what `candor dev` and the end-to-end tests need on
// a developer's machine: the real Temporal dev server, run as a child process
// from the Temporal CLI built from the Go module proxy, and a Postgres when
// none is configured.
//
// Only `candor dev` (built without the nodev tag) and tests import it. The
// Temporal server is never linked into the candor binary: it runs as the
// Temporal CLI's own process.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// CLIVersion is the Temporal CLI release whose dev server (`temporal server
// start-dev`) `candor dev` and the tests run. It is the newest release the
// Go module proxy can build: v1.9.1's go.mod replaces the nested module
// github.com/temporalio/cli/cliext with a local directory that the module
// zip leaves out, and the proxy serves no cliext of its own. Its server is
// linked into the CLI binary, not into candor, so it may need other
// go.temporal.io/api versions than Candor's SDK does.
const CLIVersion = "v1.5.1"

// CacheDir is where built tools are kept between runs: CANDOR_CACHE_DIR,
// else .cache under the module root (gitignored), else the user's cache
// directory when run outside the source tree.
func CacheDir() (string, error) {
	if d := os.Getenv("CANDOR_CACHE_DIR"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	user, err := os.UserCacheDir()
	if err != nil {
		return "", errors.New("no go.mod above the working directory and no user cache directory; set CANDOR_CACHE_DIR")
	}
	return filepath.Join(user, "candor"), nil
}

// GoInstall builds the commands pkgs (each "path@version") once into the
// cache folder dir with `go install`, unless every file in want is there
// already. A file lock makes processes that build at once (test packages
// run in parallel) build once. It returns the folder.
func GoInstall(ctx context.Context, dir string, want []string, pkgs ...string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, dir)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(cache, dir+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	missing := false
	for _, w := range want {
		if _, err := os.Stat(filepath.Join(bin, w)); err != nil {
			missing = true
		}
	}
	if !missing {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"install"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=", "GOWORK=off")
	cmd.Dir = os.TempDir() // outside this module, so its go.mod plays no part
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", strings.Join(pkgs, " "), err, Tail(out, 20))
	}
	return bin, nil
}

// BuildCLI builds the Temporal CLI CLIVersion once into the cache and
// returns the binary's path. A cold build takes minutes.
func BuildCLI(ctx context.Context) (string, error) {
	bin, err := GoInstall(ctx, "temporal-cli-"+CLIVersion, []string{"temporal"},
		"github.com/temporalio/cli/cmd/temporal@"+CLIVersion)
	if err != nil {
		return "", fmt.Errorf("build the Temporal CLI %s: %w", CLIVersion, err)
	}
	return filepath.Join(bin, "temporal"), nil
}

// Temporal is a running Temporal dev server.
type Temporal struct {
	Address string // gRPC host:port
	UIURL   string // "" when started without the UI
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	logs    *SyncBuffer
}

// TemporalOptions says where to listen.
type TemporalOptions struct {
	IP     string // default 127.0.0.1
	Port   int    // gRPC; 0 picks a free port
	UIPort int    // 0 = no UI
	// UICodecEndpoint is the remote codec the UI decodes payloads with.
	UICodecEndpoint string
	DatabaseFile    string // SQLite file; "" keeps everything in memory
	Namespace       string // default "default"
	// Output receives the server's error log; nil discards it.
	Output io.Writer
}

// StartTemporal builds the Temporal CLI if needed, starts its dev server and
// returns once the server answers and the namespace is ready, with Candor's
// search attributes.
func StartTemporal(ctx context.Context, o TemporalOptions) (*Temporal, error) {
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	bin, err := BuildCLI(ctx)
	if err != nil {
		return nil, err
	}
	if o.Port == 0 {
		if o.Port, err = freePort(o.IP); err != nil {
			return nil, err
		}
	} else if err := portFree(o.IP, o.Port); err != nil {
		return nil, fmt.Errorf("Temporal port %d is taken (another Temporal running? set TEMPORAL_ADDRESS to use it): %w", o.Port, err)
	}
	args := []string{"server", "start-dev", "--log-level", "error",
		"--ip", o.IP, "--port", strconv.Itoa(o.Port), "--namespace", o.Namespace,
		// Deleting a closed workflow waits until the close task is
		// acknowledged; acks move every 30 s by default. One machine can
		// afford 1 s, so erasures finish in seconds here.
		"--dynamic-config-value", `history.transferProcessorUpdateAckInterval="1s"`,
		"--dynamic-config-value", `history.visibilityProcessorUpdateAckInterval="1s"`,
	}
	if o.DatabaseFile != "" {
		args = append(args, "--db-filename", o.DatabaseFile)
	}
	if o.UIPort != 0 {
		if err := portFree(o.IP, o.UIPort); err != nil {
			return nil, fmt.Errorf("Temporal UI port %d is taken: %w", o.UIPort, err)
		}
		args = append(args, "--ui-ip", o.IP, "--ui-port", strconv.Itoa(o.UIPort))
		if o.UICodecEndpoint != "" {
			args = append(args, "--ui-codec-endpoint", o.UICodecEndpoint)
		}
	} else {
		args = append(args, "--headless")
	}
	t := &Temporal{Address: net.JoinHostPort(o.IP, strconv.Itoa(o.Port)), done: make(chan struct{}), logs: &SyncBuffer{}}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = t.logs // the banner: addresses we know already
	cmd.Stderr = io.MultiWriter(t.logs, o.Output)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Temporal dev server: %w", err)
	}
	t.cmd = cmd
	go func() { _ = cmd.Wait(); close(t.done) }()
	if err := t.waitReady(ctx, o.Namespace); err != nil {
		t.Stop()
		return nil, err
	}
	if o.UIPort != 0 {
		t.UIURL = fmt.Sprintf("http://%s", net.JoinHostPort(o.IP, strconv.Itoa(o.UIPort)))
		if err := t.waitUI(ctx); err != nil {
			t.Stop()
			return nil, err
		}
	}
	return t, nil
}

// waitReady waits until the frontend answers and the namespace is
// registered, or the process exits, and registers Candor's search
// attributes (AddSearchAttributes; a database file from an earlier run may
// lack them).
func (t *Temporal) waitReady(ctx context.Context, namespace string) error {
	deadline := time.Now().Add(2 * time.Minute)
	quiet := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for {
		c, err := client.Dial(client.Options{HostPort: t.Address, Namespace: namespace, Logger: quiet})
		if err == nil {
			_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
			if err == nil {
				err = AddSearchAttributes(ctx, c, namespace)
			}
			c.Close()
			if err == nil {
				return nil
			}
		}
		if err := t.waitOrExit(ctx, deadline, err); err != nil {
			return err
		}
	}
}

func (t *Temporal) waitUI(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(t.UIURL + "/api/v1/settings")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("UI answers %s", resp.Status)
		}
		if err := t.waitOrExit(ctx, deadline, err); err != nil {
			return err
		}
	}
}

// waitOrExit sleeps a moment before the next try, and says why to stop
// trying: the process exited, the deadline passed or ctx ended.
func (t *Temporal) waitOrExit(ctx context.Context, deadline time.Time, last error) error {
	select {
	case <-t.done:
		return fmt.Errorf("the Temporal dev server exited: %s\n%s", t.cmd.ProcessState, t.Logs(20))
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(200 * time.Millisecond):
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("the Temporal dev server did not get ready at %s: %v\n%s", t.Address, last, t.Logs(20))
	}
	return nil
}

// Stop ends the server (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (t *Temporal) Stop() {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(10 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
}

// Logs is the server's last n lines of output.
func (t *Temporal) Logs(n int) string { return Tail([]byte(t.logs.String()), n) }

// Tail is the last n lines of b.
func Tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort is a port on ip that nothing listens on now.
func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func portFree(ip string, port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	ln.Close()
	// Give the kernel a moment before the server binds the same port.
	time.Sleep(5 * time.Millisecond)
	return nil
}
