package devenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// RunWithTemporal is a TestMain body: it starts one in-memory Temporal dev
// server for the package's tests, stores its address in *addr, runs them,
// and stops the server.
func RunWithTemporal(m *testing.M, addr *string) {
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

// SyncBuffer collects log output written from many goroutines, so tests can
// search it for data that must never be logged.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
