package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

var opsListeningRE = regexp.MustCompile(`"msg":"ops listening","addr":"([^"]+)"`)

// TestServeOpsListener: serve answers /metrics and /debug/pprof/ on --ops-addr and neither
// on the public port; the metrics count the requests of the public port.
func TestServeOpsListener(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.Buffer
	done := make(chan error, 1)
	env := map[string]string{"JETON_DATABASE_URL": dbURL, "JETON_ISSUER": "http://127.0.0.1:8080",
		"JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "127.0.0.1:0", "JETON_SWEEP_INTERVAL": "0",
		"JETON_SHUTDOWN_DRAIN": "0s"}
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), &testkit.Buffer{}, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	public := "http://" + waitListening(t, &stderr)
	m := opsListeningRE.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no ops listener; stderr:\n%s", stderr.String())
	}
	ops := "http://" + m[1]

	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := get(public + "/healthz"); status != http.StatusOK {
		t.Fatalf("healthz: %d", status)
	}
	resp, err := hc.PostForm(public+"/token", url.Values{"grant_type": {"password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	status, body := get(ops + "/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	for _, want := range []string{
		`jeton_http_request_duration_seconds_count{grant_type="",method="GET",route="/healthz",status="2xx"} 1`,
		`jeton_http_request_duration_seconds_count{grant_type="password",method="POST",route="/token",status="4xx"} 1`,
		`jeton_db_pool_max_conns{pool="main"}`,
		`jeton_db_pool_max_conns{pool="token"}`,
		`jeton_hash_workers `,
		`jeton_hash_queue_depth 0`,
		`jeton_feed_streams 0`,
		`jeton_tokens_issued_total{grant_type="password"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if status, body := get(ops + "/debug/pprof/"); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d", status)
	}
	if status, _ := get(ops + "/debug/pprof/goroutine?debug=1"); status != http.StatusOK {
		t.Errorf("/debug/pprof/goroutine: %d", status)
	}
	// The container's health check.
	if out, err := jeton(t, nil, "", "healthcheck", "--url", public+"/readyz"); err != nil || out != "ok\n" {
		t.Errorf("healthcheck: %q %v", out, err)
	}
	if _, err := jeton(t, nil, "", "healthcheck", "--url", public+"/nope"); err == nil {
		t.Error("healthcheck of a 404 succeeded")
	}
	for _, p := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/goroutine"} {
		if status, _ := get(public + p); status != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", p, status)
		}
	}
}

// TestOpsAddrOff: "off" (or an empty --ops-addr) starts no ops listener.
func TestOpsAddrOff(t *testing.T) {
	for _, addr := range []string{"", "off"} {
		if !opsDisabled(addr) {
			t.Errorf("opsDisabled(%q) = false", addr)
		}
		srv, err := listenOps(addr, nil, nil)
		if srv != nil || err != nil {
			t.Errorf("listenOps(%q) = %v, %v", addr, srv, err)
		}
	}
}
