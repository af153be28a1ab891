package devenv

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
)

// RunWithTemporal is a TestMain body: it starts one in-memory Temporal dev
// server for the package's tests, stores its address in *addr, runs them,
// and stops the server. A fuzzing run (`go test -run '^$' -fuzz …`, as
// .ci/run does) and its fuzz workers run no test that needs the server, so
// they start none.
func RunWithTemporal(m *testing.M, addr *string) {
	if fuzzingOnly() {
		os.Exit(m.Run())
	}
	t, err := StartTemporal(context.Background(), TemporalOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*addr = t.Address
	code := m.Run()
	t.Stop()
	os.Exit(code)
}

// fuzzingOnly reports a test binary that runs only a fuzz target: a fuzz
// worker, or a fuzzing run whose -run matches no test.
func fuzzingOnly() bool {
	flag.Parse()
	value := func(name string) string {
		if f := flag.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	return value("test.fuzzworker") == "true" || value("test.fuzz") != "" && value("test.run") == "^$"
}

// SyncBuffer collects log output written from many goroutines, so tests can
// search it for data that must never be logged.
type SyncBuffer struct {
	// Limit, if above 0, bounds what is kept: past it the buffer starts
	// again, keeping the tail of a long run rather than all of it.
	Limit int
	mu    sync.Mutex
	buf   bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Limit > 0 && b.buf.Len() > b.Limit {
		b.buf.Reset()
	}
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
