// Package metrics provides jeton's Prometheus metrics: HTTP requests, tokens, revocations,
// login refusals, the hashing pool, the database pools, the sweeper and the revocation feed,
// on a registry of their own (never Prometheus's global one), served by Handler on the ops
// listener.
//
// Every label takes a bounded set of values: a route template (never a path), a method, a
// status class, a grant type, a revocation target, a sweep kind, a pool name. A tenant,
// client, user, username or token never becomes a label, so the number of series does not
// grow with the number of tenants or users.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds jeton's collectors and the registry they are registered on. It implements
// service.Observer (WithObserver) and the api package's request observer (api.Config).
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.HistogramVec
	issued        *prometheus.CounterVec
	revocations   *prometheus.CounterVec
	reuse         prometheus.Counter
	throttled     prometheus.Counter
	hashRejected  prometheus.Counter
	hashWait      prometheus.Histogram
	sweepRuns     *prometheus.CounterVec
	sweepDeleted  *prometheus.CounterVec
	sweepBacklog  *prometheus.GaugeVec
	sweepDuration prometheus.Histogram
	sweepLastOK   prometheus.Gauge
	listenChecks  *prometheus.CounterVec
	listenOK      *prometheus.GaugeVec

	// FeedStreams is the number of open revocation feed streams (GET /revocations): the
	// feed calls Inc when a stream starts and Dec when it ends.
	FeedStreams prometheus.Gauge
}

var (
	_ service.Observer       = (*Metrics)(nil)
	_ service.ListenObserver = (*Metrics)(nil)
)

// latencyBuckets span an introspection (a millisecond) to a login waiting for a busy
// hashing pool (seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Sweep kinds, as SweepStats counts them.
var sweepKinds = []string{"tokens", "sessions", "events", "tenant_rows", "throttles"}

// New returns jeton's metrics on a new registry, with Go runtime and process metrics.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = m.histogramVec("jeton_http_request_duration_seconds",
		"HTTP requests by route template, method, status class and (for /token) grant type, and how long they took.",
		latencyBuckets, "route", "method", "status", "grant_type")
	m.issued = m.counterVec("jeton_tokens_issued_total",
		"Token responses by grant type (refresh_token counts refreshes).", "grant_type")
	m.revocations = m.counterVec("jeton_revocations_total",
		"Revocations that took effect, by target: token, session, user, client, tenant.", "target")
	m.reuse = m.counter("jeton_refresh_reuse_detected_total",
		"Used refresh tokens presented again outside the reuse grace; each revoked its session.")
	m.throttled = m.counter("jeton_logins_throttled_total",
		"Password logins refused by the brute-force throttles (429).")
	m.hashRejected = m.counter("jeton_hash_rejected_total",
		"Password logins refused because every hashing worker and queue place was taken (503).")
	m.hashWait = m.histogram("jeton_hash_wait_seconds",
		"How long password logins waited for a hashing worker.", latencyBuckets)
	m.sweepRuns = m.counterVec("jeton_sweep_runs_total",
		"Sweep passes by result: done, skipped (another instance held the lock), failed.", "result")
	m.sweepDeleted = m.counterVec("jeton_sweep_deleted_rows_total",
		"Rows the sweeper deleted, by kind.", "kind")
	m.sweepBacklog = m.gaugeVec("jeton_sweep_backlog_rows",
		"Rows that were due when the latest pass of this instance started and that it deleted, by kind: one interval's worth when the sweeper keeps up, growing when it falls behind.",
		"kind")
	m.sweepDuration = m.histogram("jeton_sweep_duration_seconds",
		"How long sweep passes took (skipped ones included).", prometheus.ExponentialBuckets(.01, 4, 10))
	m.sweepLastOK = m.gauge("jeton_sweep_last_success_timestamp_seconds",
		"When the latest completed sweep pass of this instance ended (Unix time).")
	m.FeedStreams = m.gauge("jeton_feed_streams",
		"Open revocation feed streams (GET /revocations).")
	m.listenChecks = m.counterVec("jeton_listen_checks_total",
		"LISTEN self-checks (a notification sent to itself through the database pool) by channel and result: ok, or failed when it did not arrive (behind a pooler in transaction mode: give --listen-database-url a direct connection).",
		"channel", "result")
	m.listenOK = m.gaugeVec("jeton_listen_ok",
		"1 while the latest LISTEN self-check of the channel passed, 0 while notifications do not arrive and delivery waits for polls.",
		"channel")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every bounded series exists from the start at 0, so rates work from the first scrape
	// and the series count does not depend on what happened yet.
	for _, g := range service.GrantTypes {
		m.issued.WithLabelValues(g)
	}
	for _, t := range []string{"token", "session", "user", "client", "tenant"} {
		m.revocations.WithLabelValues(t)
	}
	for _, r := range []string{"done", "skipped", "failed"} {
		m.sweepRuns.WithLabelValues(r)
	}
	for _, k := range sweepKinds {
		m.sweepDeleted.WithLabelValues(k)
		m.sweepBacklog.WithLabelValues(k)
	}
	for _, ch := range listenChannels {
		m.listenChecks.WithLabelValues(ch, "ok")
		m.listenChecks.WithLabelValues(ch, "failed")
	}
	return m
}

// listenChannels are the channels jeton LISTENs on.
var listenChannels = []string{db.RevocationChannel, db.WebhookChannel}

// The constructors below build a metric and register it on m.reg in one step, so none can
// be built and left unregistered. A vector's label names come last.

func (m *Metrics) counter(name, help string) prometheus.Counter {
	return register(m, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return register(m, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

func (m *Metrics) gauge(name, help string) prometheus.Gauge {
	return register(m, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
}

func (m *Metrics) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return register(m, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels))
}

func (m *Metrics) histogram(name, help string, buckets []float64) prometheus.Histogram {
	return register(m, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}

func (m *Metrics) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return register(m, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
}

func register[C prometheus.Collector](m *Metrics, c C) C {
	m.reg.MustRegister(c)
	return c
}

// Registry returns the registry every jeton metric is registered on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// WatchHashing reports the hashing pool at each scrape: load returns how many argon2id
// computations run and how many admitted logins wait (service.HashLoad); workers and
// capacity are its fixed sizes.
func (m *Metrics) WatchHashing(load func() (running, waiting int), workers, capacity int) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jeton_hash_running", Help: "argon2id computations running now.",
		}, func() float64 { r, _ := load(); return float64(r) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jeton_hash_queue_depth", Help: "Admitted password logins waiting for a hashing worker now.",
		}, func() float64 { _, w := load(); return float64(w) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jeton_hash_workers", Help: "argon2id computations that may run at once.",
		}, func() float64 { return float64(workers) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jeton_hash_capacity", Help: "Password logins admitted at once, running or waiting; more get 503.",
		}, func() float64 { return float64(capacity) }),
	)
}

// ObserveRequest records one finished HTTP request. route is the matched route template
// ("unmatched" for none); grant is the grant_type of a /token request ("" elsewhere).
// Methods, statuses and grant types outside the known sets are recorded as "other".
func (m *Metrics) ObserveRequest(route, method string, status int, grant string, took time.Duration) {
	m.requests.WithLabelValues(route, methodLabel(method), statusClass(status), grantLabel(grant)).Observe(took.Seconds())
}

var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions}

func methodLabel(m string) string {
	if slices.Contains(methods, m) {
		return m
	}
	return "other"
}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

func grantLabel(g string) string {
	if g == "" || slices.Contains(service.GrantTypes, g) {
		return g
	}
	return "other"
}

// TokenIssued implements service.Observer.
func (m *Metrics) TokenIssued(grant string) { m.issued.WithLabelValues(grantLabel(grant)).Inc() }

// Revoked implements service.Observer.
func (m *Metrics) Revoked(target string) {
	switch target {
	case "token", "session", "user", "client", "tenant":
	default:
		target = "other"
	}
	m.revocations.WithLabelValues(target).Inc()
}

// RefreshReuseDetected implements service.Observer.
func (m *Metrics) RefreshReuseDetected() { m.reuse.Inc() }

// LoginThrottled implements service.Observer.
func (m *Metrics) LoginThrottled() { m.throttled.Inc() }

// HashRejected implements service.Observer.
func (m *Metrics) HashRejected() { m.hashRejected.Inc() }

// HashWaited implements service.Observer.
func (m *Metrics) HashWaited(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

// Swept implements service.Observer.
func (m *Metrics) Swept(st service.SweepStats, took time.Duration, err error) {
	m.sweepDuration.Observe(took.Seconds())
	counts := []int64{st.Tokens, st.Sessions, st.Events, st.TenantRows, st.Throttles}
	for i, k := range sweepKinds {
		m.sweepDeleted.WithLabelValues(k).Add(float64(counts[i]))
	}
	switch {
	case err != nil:
		m.sweepRuns.WithLabelValues("failed").Inc()
	case st.Skipped:
		m.sweepRuns.WithLabelValues("skipped").Inc()
	default:
		m.sweepRuns.WithLabelValues("done").Inc()
		for i, k := range sweepKinds {
			m.sweepBacklog.WithLabelValues(k).Set(float64(counts[i]))
		}
		m.sweepLastOK.SetToCurrentTime()
	}
}

// ListenChecked implements service.ListenObserver.
func (m *Metrics) ListenChecked(channel string, ok bool) {
	if !slices.Contains(listenChannels, channel) {
		channel = "other"
	}
	result, up := "failed", 0.0
	if ok {
		result, up = "ok", 1
	}
	m.listenChecks.WithLabelValues(channel, result).Inc()
	m.listenOK.WithLabelValues(channel).Set(up)
}
