package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// WatchPool reports pool.Stat() at each scrape, labelled pool=name ("main" for
// the connections of introspection, the revocation feed, readiness and the sweeper,
// "token" for the others': /token, /revoke and the admin API; see db.Store). It returns
// an error when a pool of that name is watched already.
func (m *Metrics) WatchPool(name string, pool *pgxpool.Pool) error {
	return m.reg.Register(newPoolCollector(name, pool))
}

// poolCollector is a prometheus.Collector over one pgxpool.Pool.
type poolCollector struct {
	pool  *pgxpool.Pool
	stats []poolStat
}

type poolStat struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*pgxpool.Stat) float64
}

func newPoolCollector(name string, pool *pgxpool.Pool) *poolCollector {
	labels := prometheus.Labels{"pool": name}
	stat := func(metric, help string, kind prometheus.ValueType, value func(*pgxpool.Stat) float64) poolStat {
		return poolStat{desc: prometheus.NewDesc("jeton_db_pool_"+metric, help, nil, labels), kind: kind, value: value}
	}
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	return &poolCollector{pool: pool, stats: []poolStat{
		stat("max_conns", "Largest number of connections the pool opens.", g,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		stat("total_conns", "Connections open now (idle, in use or being opened).", g,
			func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		stat("acquired_conns", "Connections in use now.", g,
			func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		stat("idle_conns", "Idle connections now.", g,
			func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		stat("constructing_conns", "Connections being opened now.", g,
			func(s *pgxpool.Stat) float64 { return float64(s.ConstructingConns()) }),
		stat("acquires_total", "Successful connection acquisitions.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		stat("acquire_seconds_total", "Time spent acquiring connections, successful acquisitions only.", c,
			func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
		stat("empty_acquires_total", "Acquisitions that had to wait because no connection was idle.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		stat("empty_acquire_wait_seconds_total", "Time waited by acquisitions that found no idle connection.", c,
			func(s *pgxpool.Stat) float64 { return s.EmptyAcquireWaitTime().Seconds() }),
		stat("canceled_acquires_total", "Acquisitions abandoned because their context ended.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
		stat("new_conns_total", "Connections opened.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.NewConnsCount()) }),
		stat("max_lifetime_destroys_total", "Connections closed for reaching their maximum lifetime.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxLifetimeDestroyCount()) }),
		stat("max_idle_destroys_total", "Connections closed for being idle too long.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxIdleDestroyCount()) }),
	}}
}

// Describe implements prometheus.Collector.
func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range p.stats {
		ch <- s.desc
	}
}

// Collect implements prometheus.Collector.
func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.pool.Stat()
	for _, s := range p.stats {
		ch <- prometheus.MustNewConstMetric(s.desc, s.kind, s.value(st))
	}
}
