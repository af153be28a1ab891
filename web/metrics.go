package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// metrics is a small Prometheus text exporter: a few labelled counters and
// one latency histogram are all Candor needs, which does not justify the
// Prometheus client library in the production binary.
type metrics struct {
	mu       sync.Mutex
	counters map[string]float64 // full series name with labels -> value
	buckets  []float64
	hist     map[string][]uint64 // series -> bucket counts (+Inf last)
	sum      map[string]float64
	count    map[string]uint64
}

func newMetrics() *metrics {
	return &metrics{
		counters: map[string]float64{},
		buckets:  []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		hist:     map[string][]uint64{},
		sum:      map[string]float64{},
		count:    map[string]uint64{},
	}
}

func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

func (m *metrics) inc(name string, labels ...string) {
	m.mu.Lock()
	m.counters[series(name, labels...)]++
	m.mu.Unlock()
}

func (m *metrics) observe(name string, d time.Duration, labels ...string) {
	s := series(name, labels...)
	v := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.hist[s]
	if !ok {
		h = make([]uint64, len(m.buckets)+1)
		m.hist[s] = h
	}
	for i, b := range m.buckets {
		if v <= b {
			h[i]++
		}
	}
	h[len(m.buckets)]++
	m.sum[s] += v
	m.count[s]++
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	names := make([]string, 0, len(m.counters))
	for k := range m.counters {
		names = append(names, k)
	}
	sort.Strings(names)
	typed := map[string]bool{}
	for _, k := range names {
		base := k
		if i := strings.IndexByte(k, '{'); i >= 0 {
			base = k[:i]
		}
		if !typed[base] {
			fmt.Fprintf(w, "# TYPE %s counter\n", base)
			typed[base] = true
		}
		fmt.Fprintf(w, "%s %g\n", k, m.counters[k])
	}
	hs := make([]string, 0, len(m.hist))
	for k := range m.hist {
		hs = append(hs, k)
	}
	sort.Strings(hs)
	for _, s := range hs {
		base, labels := s, ""
		if i := strings.IndexByte(s, '{'); i >= 0 {
			base, labels = s[:i], s[i+1:len(s)-1]+","
		}
		if !typed[base] {
			fmt.Fprintf(w, "# TYPE %s histogram\n", base)
			typed[base] = true
		}
		for i, b := range m.buckets {
			fmt.Fprintf(w, "%s_bucket{%sle=\"%g\"} %d\n", base, labels, b, m.hist[s][i])
		}
		fmt.Fprintf(w, "%s_bucket{%sle=\"+Inf\"} %d\n", base, labels, m.hist[s][len(m.buckets)])
		l := strings.TrimSuffix(labels, ",")
		if l != "" {
			l = "{" + l + "}"
		}
		fmt.Fprintf(w, "%s_sum%s %g\n%s_count%s %d\n", base, l, m.sum[s], base, l, m.count[s])
	}
}
