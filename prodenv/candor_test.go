package prodenv

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// PeakRSS reads a running process's VmHWM, and keeps it once the process
// is killed, as a benchmark reads a worker's peak after a SIGKILL.
func TestProcess_PeakRSSIsKeptAfterTheProcessIsKilled(t *testing.T) {
	p := &Process{Name: "sleep"}
	if got := p.PeakRSS(); got != 0 {
		t.Fatalf("never started: %d, want 0", got)
	}
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	time.Sleep(200 * time.Millisecond) // past exec, into sleep itself
	running := p.PeakRSS()
	// sleep holds some hundreds of kB resident, well under 100 MB.
	if running < 100<<10 || running > 100<<20 {
		t.Fatalf("running: %d bytes, want sleep's resident peak", running)
	}
	p.Kill()
	if got := p.PeakRSS(); got != running {
		t.Errorf("after the kill: %d bytes, want the %d it had", got, running)
	}
}

// CPU adds what a process used before it was killed to what its next run
// uses, as a benchmark reads a worker's CPU after a SIGKILL and restart.
func TestProcess_CPUIsKeptAcrossAKill(t *testing.T) {
	p := &Process{Name: "spin"}
	spin := func() {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		p.mu.Lock()
		p.cmd, p.done = cmd, done
		p.mu.Unlock()
		time.Sleep(400 * time.Millisecond)
	}
	spin()
	first := p.CPU()
	if first < 50*time.Millisecond {
		t.Fatalf("a spinning shell used %v of CPU in 400 ms", first)
	}
	p.Kill()
	if got := p.CPU(); got < first {
		t.Fatalf("after the kill: %v, want at least the %v it had used", got, first)
	}
	spin()
	defer p.Kill()
	if got := p.CPU(); got < first+50*time.Millisecond {
		t.Errorf("second run: %v in all, want the first run's %v and the second's", got, first)
	}
	if m := MachineCPU(); m < p.CPU() {
		t.Errorf("the machine's CPU time %v is less than one process's %v", m, p.CPU())
	}
}
