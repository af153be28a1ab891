package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErasureSource says how many erasure requests are open and when the
// oldest was received (store.DB is one).
type ErasureSource interface {
	OpenErasures(ctx context.Context) (int, time.Time, error)
}

// erasures reads the open erasures from Postgres at each scrape, so every
// replica reports the same truth and nothing is kept in memory.
type erasures struct {
	src    ErasureSource
	now    func() time.Time
	open   *prometheus.Desc
	oldest *prometheus.Desc
	up     *prometheus.Desc
}

// WatchErasures exports the open erasure requests of src: how many
// (candor_erasures_open) and the age of the oldest
// (candor_erasure_oldest_open_age_seconds, 0 when none), the gauge an
// alert on erasures older than 7 days needs. A scrape that cannot read
// them reports neither (and candor_erasures_scrape_ok 0).
func (m *Metrics) WatchErasures(src ErasureSource, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	m.reg.MustRegister(&erasures{src: src, now: now,
		open:   prometheus.NewDesc(OpenErasures, "Erasure requests received and not yet done.", nil, nil),
		oldest: prometheus.NewDesc(OldestOpenErasure, "Age of the oldest erasure request not yet done; 0 when none.", nil, nil),
		up:     prometheus.NewDesc(ErasuresScrapeOK, "1 if the last scrape read the open erasures from Postgres.", nil, nil),
	})
}

func (e *erasures) Describe(ch chan<- *prometheus.Desc) {
	ch <- e.open
	ch <- e.oldest
	ch <- e.up
}

func (e *erasures) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, oldest, err := e.src.OpenErasures(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(e.up, prometheus.GaugeValue, 0)
		return
	}
	age := 0.0
	if n > 0 {
		age = e.now().Sub(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(e.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(e.open, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(e.oldest, prometheus.GaugeValue, age)
}
