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
