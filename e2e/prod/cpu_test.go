package prod

import (
	"fmt"
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
