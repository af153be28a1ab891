package devenv

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A candor that dies without stopping its dev server (kill -9, a test
// binary's timeout) takes the server with it, so no orphan keeps the port.
func TestStartTemporal_ServerEndsWhenCandorDies(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "CANDOR_DEVENV_START_AND_HANG=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error:") {
		_ = cmd.Process.Kill()
		t.Fatalf("the child did not start a dev server: %q %v", line, err)
	}
	addr, pid, _ := strings.Cut(strings.TrimSpace(line), " ")
	// Let the server finish writing its start-up banner: a write to the
	// dead parent's pipe would end it too (SIGPIPE), and this test is about
	// a server that writes nothing more.
	time.Sleep(3 * time.Second)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred Stop runs
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // nothing listens: the server is gone
		}
		conn.Close()
		if time.Now().After(deadline) {
			if n, err := strconv.Atoi(pid); err == nil {
				_ = syscall.Kill(n, syscall.SIGKILL) // leave no orphan behind
			}
			t.Fatalf("the dev server at %s outlived its parent by 15 s", addr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
