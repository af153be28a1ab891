package prodenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports (sysconf(_SC_CLK_TCK)).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user and system) process pid has used, from
// /proc/PID/stat; 0 when it is gone.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// fields are counted after its closing one. utime and stime are
	// fields 14 and 15, the 12th and 13th after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * clockTick
}

// CPU is the CPU time the process has used over all its runs: what it
// used before each Kill or Stop, and what its current run has used.
func (p *Process) CPU() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cpu + p.cpuLocked()
}

func (p *Process) cpuLocked() time.Duration {
	if p.cmd == nil {
		return 0
	}
	return procCPU(p.cmd.Process.Pid)
}

// CPU is the CPU time the Temporal server's current run has used.
func (t *Temporal) CPU() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cmd == nil {
		return 0
	}
	return procCPU(t.cmd.Process.Pid)
}

// PostgresCPU is the CPU time used so far by the PostgreSQL backends now
// connected to any of databases (pg_stat_activity). A backend that has
// closed is not counted, nor are the server's shared background
// processes (WAL writer, checkpointer): with connection pools that stay
// open, the difference over a phase is that phase's query work.
func PostgresCPU(db *sqlx.DB, databases ...string) (time.Duration, error) {
	var pids []int
	q, args, err := sqlx.In(`SELECT pid FROM pg_stat_activity WHERE datname IN (?)`, databases)
	if err != nil {
		return 0, err
	}
	if err := db.Select(&pids, db.Rebind(q), args...); err != nil {
		return 0, err
	}
	var sum time.Duration
	for _, pid := range pids {
		sum += procCPU(pid)
	}
	return sum, nil
}

// MachineCPU is the CPU time every process on the machine has used since
// boot, from /proc/stat (user, nice, system, irq, softirq, steal), so a
// phase's share of the machine can be told from what else ran.
func MachineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var sum int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			sum += n
		}
	}
	return time.Duration(sum) * clockTick
}

// Pid is the process's current run's process ID, 0 when it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Pid is the Temporal server's current run's process ID, 0 when it is not
// running.
func (t *Temporal) Pid() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cmd == nil {
		return 0
	}
	return t.cmd.Process.Pid
}
