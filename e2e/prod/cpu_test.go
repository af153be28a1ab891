package prod

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/candorhq/candor/prodenv"
)

// cpuSnapshot is the CPU time each part of the deployment has used so far:
// where an order's cost goes, and how much of the machine something else
// (other tests, other engineers) took meanwhile.
type cpuSnapshot struct {
	serve, worker, temporal time.Duration
	// pgCandor and pgTemporal are the PostgreSQL backends connected to
	// Candor's database and to Temporal's two.
	pgCandor, pgTemporal time.Duration
	// bench is this process: the webhook sender, the Shopify and SendGrid
	// stand-ins, and the bare baseline's client and worker.
	bench   time.Duration
	machine time.Duration
}

func (d *deployment) cpu(tb testing.TB) cpuSnapshot {
	tb.Helper()
	var s cpuSnapshot
	for _, p := range d.serves {
		s.serve += p.CPU()
	}
	for _, p := range d.workers {
		s.worker += p.CPU()
	}
	s.temporal = temporal.CPU()
	var err error
	if s.pgCandor, err = prodenv.PostgresCPU(d.db, d.candorDB(tb)); err != nil {
		tb.Fatal(err)
	}
	if s.pgTemporal, err = prodenv.PostgresCPU(d.db, "prod_temporal", "prod_visibility"); err != nil {
		tb.Fatal(err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	s.bench = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.machine = prodenv.MachineCPU()
	return s
}

func (s cpuSnapshot) sub(o cpuSnapshot) cpuSnapshot {
	return cpuSnapshot{serve: s.serve - o.serve, worker: s.worker - o.worker, temporal: s.temporal - o.temporal,
		pgCandor: s.pgCandor - o.pgCandor, pgTemporal: s.pgTemporal - o.pgTemporal, bench: s.bench - o.bench, machine: s.machine - o.machine}
}

func (s cpuSnapshot) ours() time.Duration {
	return s.serve + s.worker + s.temporal + s.pgCandor + s.pgTemporal + s.bench
}

// perOrder says, in CPU milliseconds per order, where a phase of n orders
// spent its CPU, and what share of the machine's CPU over the phase the
// rest of the machine took.
func (s cpuSnapshot) perOrder(n int) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000/float64(n)) }
	other := s.machine - s.ours()
	share := 0.0
	if s.machine > 0 {
		share = float64(max(other, 0)) / float64(s.machine)
	}
	return strings.Join([]string{
		"serve " + ms(s.serve), "worker " + ms(s.worker), "temporal " + ms(s.temporal),
		"pg(candor) " + ms(s.pgCandor), "pg(temporal) " + ms(s.pgTemporal), "bench process " + ms(s.bench),
		"total " + ms(s.ours()) + " CPU ms/order",
		fmt.Sprintf("other processes %.0f%% of the machine's CPU", 100*share),
	}, "; ")
}

// pin gives Temporal one CPU and Candor the other, as production does
// where Temporal is a cluster of its own (or Temporal Cloud) and serve
// replicas scale out: the Temporal server and every PostgreSQL process
// but the backends of Candor's database on CPU 0; serve, those backends
// and this process (the callers: Shopify's stand-in, the bare loops) on
// CPU 1. A backend started later starts on CPU 0, like the server that
// forks it: call pin again before each measured phase. unpin gives every
// process both CPUs again.
func (d *deployment) pin(tb testing.TB) {
	tb.Helper()
	candorDB := map[int]bool{}
	var pids []int
	if err := d.db.Select(&pids, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, d.candorDB(tb)); err != nil {
		tb.Fatal(err)
	}
	for _, p := range pids {
		candorDB[p] = true
	}
	var backend int
	if err := d.db.Get(&backend, `SELECT pg_backend_pid()`); err != nil {
		tb.Fatal(err)
	}
	postmaster := parentOf(backend)
	taskset(tb, "0", temporal.Pid(), postmaster)
	for _, c := range childrenOf(postmaster) {
		cpu := "0"
		if candorDB[c] {
			cpu = "1"
		}
		taskset(tb, cpu, c)
	}
	taskset(tb, "1", os.Getpid())
	for _, p := range d.serves {
		taskset(tb, "1", p.Pid())
	}
}

func (d *deployment) unpin(tb testing.TB) {
	tb.Helper()
	var backend int
	if err := d.db.Get(&backend, `SELECT pg_backend_pid()`); err != nil {
		tb.Fatal(err)
	}
	postmaster := parentOf(backend)
	all := append([]int{temporal.Pid(), postmaster, os.Getpid()}, childrenOf(postmaster)...)
	for _, p := range d.serves {
		all = append(all, p.Pid())
	}
	taskset(tb, "0-1", all...)
}

// taskset sets the CPUs of every thread of each process (a process gone
// meanwhile is skipped: a backend may close at any time).
func taskset(tb testing.TB, cpus string, pids ...int) {
	tb.Helper()
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			if _, gone := os.Stat(fmt.Sprintf("/proc/%d", pid)); gone != nil {
				continue
			}
			tb.Fatalf("taskset -c %s %d: %v\n%s", cpus, pid, err, out)
		}
	}
}

// parentOf is a process's parent's ID, from /proc/PID/stat.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid …: comm may hold spaces, so read after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err == nil && parentOf(c) == pid {
			out = append(out, c)
		}
	}
	return out
}
