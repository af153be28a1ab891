//go:build profile

package main

// A candor built with -tags profile serves Go's profiles
// (net/http/pprof) on CANDOR_PPROF_ADDR, for a benchmark to take a CPU
// profile of a process under load (e2e/prod's BenchmarkSoak with
// CANDOR_SOAK_PROFILE). The production build has no such listener: the
// handlers expose the process's memory.

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

func init() {
	addr := os.Getenv("CANDOR_PPROF_ADDR")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Error("pprof listener", "err", err)
		}
	}()
}
