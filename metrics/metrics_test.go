package metrics_test

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/metrics"
	"github.com/jeton-auth/jeton/service"
)

var _ api.RequestObserver = (*metrics.Metrics)(nil)

// scrape returns the registry in the text exposition format.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// Values from outside the known sets become "other": a method, a status, a grant type or a
// revocation target never adds series of its own.
func TestLabelsAreBounded(t *testing.T) {
	m := metrics.New()
	m.ObserveRequest("/token", "BREW", 999, "urn:evil:grant", time.Millisecond)
	m.ObserveRequest("/token", "POST", 400, "jat_not_a_label", time.Millisecond)
	m.TokenIssued("jrt_whatever")
	m.Revoked("tenant-acme")
	out := scrape(t, m)
	for _, want := range []string{
		`jeton_http_request_duration_seconds_count{grant_type="other",method="other",route="/token",status="other"} 1`,
		`jeton_http_request_duration_seconds_count{grant_type="other",method="POST",route="/token",status="4xx"} 1`,
		`jeton_tokens_issued_total{grant_type="other"} 1`,
		`jeton_revocations_total{target="other"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in\n%s", want, out)
		}
	}
	for _, leak := range []string{"BREW", "evil", "jat_", "jrt_", "acme"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q became a label", leak)
		}
	}
}

func TestSwept(t *testing.T) {
	m := metrics.New()
	m.Swept(service.SweepStats{Tokens: 5, Sessions: 2, Events: 1}, time.Second, nil)
	m.Swept(service.SweepStats{Tokens: 3}, time.Second, nil)
	m.Swept(service.SweepStats{Skipped: true}, time.Millisecond, nil)
	m.Swept(service.SweepStats{Tokens: 7}, time.Second, errors.New("database gone"))
	out := scrape(t, m)
	for _, want := range []string{
		`jeton_sweep_runs_total{result="done"} 2`,
		`jeton_sweep_runs_total{result="skipped"} 1`,
		`jeton_sweep_runs_total{result="failed"} 1`,
		`jeton_sweep_deleted_rows_total{kind="tokens"} 15`,
		`jeton_sweep_deleted_rows_total{kind="sessions"} 2`,
		// The backlog is the latest completed pass's: neither the skipped nor the failed one.
		`jeton_sweep_backlog_rows{kind="tokens"} 3`,
		`jeton_sweep_backlog_rows{kind="sessions"} 0`,
		`jeton_sweep_duration_seconds_count 4`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s", want)
		}
	}
	if !strings.Contains(out, "jeton_feed_streams 0") {
		t.Error("the feed streams gauge does not start at 0")
	}
	m.FeedStreams.Inc()
	if !strings.Contains(scrape(t, m), "jeton_feed_streams 1") {
		t.Error("the feed streams gauge is not served")
	}
	if !strings.Contains(out, `jeton_listen_checks_total{channel="jeton_revocations",result="failed"} 0`) {
		t.Error("the LISTEN self-check counter does not start at 0")
	}
	m.ListenChecked("jeton_revocations", true)
	m.ListenChecked("jeton_revocations", false)
	m.ListenChecked("jeton_webhooks", true)
	out = scrape(t, m)
	for _, want := range []string{
		`jeton_listen_checks_total{channel="jeton_revocations",result="failed"} 1`,
		`jeton_listen_checks_total{channel="jeton_revocations",result="ok"} 1`,
		`jeton_listen_ok{channel="jeton_revocations"} 0`,
		`jeton_listen_ok{channel="jeton_webhooks"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s", want)
		}
	}
}

func TestWatchPoolAndHashing(t *testing.T) {
	m := metrics.New()
	pool := dbtest.New(t)
	if err := m.WatchPool("main", pool); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchPool("main", pool); err == nil {
		t.Error("a second pool named main was accepted")
	}
	m.WatchHashing(func() (int, int) { return 2, 5 }, 2, 130)
	out := scrape(t, m)
	for _, want := range []string{
		`jeton_db_pool_max_conns{pool="main"} 4`,
		`jeton_db_pool_acquires_total{pool="main"}`,
		`jeton_hash_running 2`,
		`jeton_hash_queue_depth 5`,
		`jeton_hash_workers 2`,
		`jeton_hash_capacity 130`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s", want)
		}
	}
	if n := strings.Count(out, "\njeton_db_pool_total_conns{"); n != 1 {
		t.Errorf("jeton_db_pool_total_conns: %d series, want 1", n)
	}
}
