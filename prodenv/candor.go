package prodenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"

	"github.com/candorhq/candor/devenv"
)

// BuildCandor builds the production binary (-tags nodev: no candor dev)
// into dir and returns its path. Extra build tags may be added: "profile"
// gives it a pprof listener on CANDOR_PPROF_ADDR (cmd/candor/profile.go).
func BuildCandor(ctx context.Context, dir string, tags ...string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "candor")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", strings.Join(append([]string{"nodev"}, tags...), ","), "-o", out, "./cmd/candor")
	cmd.Dir = filepath.Dir(cache) // the module root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build candor: %w\n%s", err, tail(b, 20))
	}
	return out, nil
}

// Candor runs `candor` commands and processes with one environment, as an
// operator's deployment would.
type Candor struct {
	Bin string
	Env []string // KEY=VALUE, added to this process's environment
}

// Run runs a command to its end and returns its combined output.
func (c Candor) Run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("candor %s: %w\n%s", strings.Join(args, " "), err, tail(out, 20))
	}
	return string(out), nil
}

// Process is a long-running `candor serve` or `candor worker`.
type Process struct {
	Name string
	URL  string // for serve: its base URL
	// MetricsURL is a worker's /metrics (CANDOR_METRICS_ADDR).
	MetricsURL string
	args       []string
	env        []string
	bin        string
	logs       *devenv.SyncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	peak int64         // the highest VmHWM of its earlier runs, in bytes
	cpu  time.Duration // the CPU time of its earlier runs
}

// PeakRSS is the most memory the process has held resident (VmHWM in
// /proc/PID/status, in bytes): the highest of its runs, if it was stopped
// and started again, and 0 if it never ran.
func (p *Process) PeakRSS() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.peak, p.hwmLocked())
}

// hwmLocked reads the running process's VmHWM; 0 when it is not running.
func (p *Process) hwmLocked() int64 {
	if p.cmd == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Serve starts `candor serve` on a free loopback port and waits until
// /healthz answers; env (KEY=VALUE) is added to this process's environment.
func (c Candor) Serve(ctx context.Context, name string, env ...string) (*Process, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	p := &Process{Name: name, URL: "http://" + addr, bin: c.Bin, args: []string{"serve"},
		env: append(append(append([]string{}, c.Env...), env...), "CANDOR_HTTP_ADDR="+addr), logs: processLogs()}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Worker starts `candor worker`, serving its metrics on a free loopback
// port.
func (c Candor) Worker(ctx context.Context, name string) (*Process, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	p := &Process{Name: name, bin: c.Bin, args: []string{"worker"}, MetricsURL: "http://" + addr + "/metrics",
		env: append(append([]string{}, c.Env...), "CANDOR_METRICS_ADDR="+addr), logs: processLogs()}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Start starts the process (again, after Kill or Stop). A server is
// started when its /healthz answers at all; a worker when it has run for a
// moment without exiting.
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s is already running", p.Name)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()

	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-done:
			p.mu.Lock()
			p.cmd = nil
			p.mu.Unlock()
			return fmt.Errorf("%s exited at start:\n%s", p.Name, p.Logs(20))
		case <-time.After(300 * time.Millisecond):
		}
		if p.URL == "" {
			if strings.Contains(p.logs.String(), "worker polling") || time.Now().After(deadline) {
				return nil
			}
			continue
		}
		if resp, err := http.Get(p.URL + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not answer on %s:\n%s", p.Name, p.URL, p.Logs(20))
		}
	}
}

// Stop sends SIGTERM, as a rolling deploy does, and waits up to grace for
// the process to exit; then it is killed.
func (p *Process) Stop(grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	p.notePeak()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	var err error
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = errors.New(p.Name + " did not stop within its grace period")
	}
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
	return err
}

// Kill sends SIGKILL, as a crash or an OOM kill does.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	p.notePeak()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
}

// notePeak keeps the running process's VmHWM and CPU time before it ends.
func (p *Process) notePeak() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peak = max(p.peak, p.hwmLocked())
	p.cpu += p.cpuLocked()
}

// Logs is the process's last n lines of output.
func (p *Process) Logs(n int) string { return tail([]byte(p.logs.String()), n) }

// AllLogs is everything the process wrote, for scans for personal data.
func (p *Process) AllLogs() string { return p.logs.String() }

// CreateDatabase creates an empty database on the server at serverURL and
// returns its URL; `candor migrate` fills it.
func CreateDatabase(ctx context.Context, serverURL, name string) (string, error) {
	db, err := sql.Open("postgres", serverURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := neturl.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabases drops the named databases, closing their connections.
func DropDatabases(ctx context.Context, serverURL string, names ...string) error {
	db, err := sql.Open("postgres", serverURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var errs []error
	for _, n := range names {
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(n)+` WITH (FORCE)`); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
