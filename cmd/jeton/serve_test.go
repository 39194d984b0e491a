package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/dbtest"
)

// Issue 8: on SIGTERM (ctx ending), serve drains: /readyz answers 503 for --shutdown-drain
// while requests are still served, then the listener closes and serve returns.
func TestServeDrainsOnShutdown(t *testing.T) {
	const drain = 1500 * time.Millisecond
	env := map[string]string{"JETON_DATABASE_URL": dbtest.NewURL(t), "JETON_ISSUER": "http://127.0.0.1:0",
		"JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "off", "JETON_SWEEP_INTERVAL": "0",
		"JETON_SHUTDOWN_DRAIN": drain.String()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""),
			&syncBuffer{}, &stderr)
	}()
	base := "http://" + waitListening(t, &stderr)
	client := &http.Client{Timeout: 5 * time.Second}
	status := func(path string) int {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz before shutdown: %d", got)
	}
	stop := time.Now()
	cancel()
	time.Sleep(drain / 3)
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d, want 503", got)
	}
	if got := status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while draining: %d, want 200: still serving", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(drain + 15*time.Second):
		t.Fatal("serve did not return after its drain")
	}
	if took := time.Since(stop); took < drain {
		t.Errorf("serve returned %v after shutdown began, before its %v drain", took, drain)
	}
	if got := status("/healthz"); got != 0 {
		t.Errorf("/healthz after shutdown: %d, want no answer", got)
	}
}

// Issue 8: a multi-host URL in keyword form (what a primary and its standby look like to
// jeton) goes through pgx as-is: a host that refuses is skipped for the next one that
// accepts writes; each attempt gets the default connect timeout.
func TestOpenPoolMultiHost(t *testing.T) {
	u, err := url.Parse(dbtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	dsn := fmt.Sprintf("host=127.0.0.1,%s port=%d,%s user=%s dbname=%s sslmode=disable target_session_attrs=read-write",
		u.Hostname(), dead, port, u.User.Username(), strings.TrimPrefix(u.Path, "/"))
	if pw, ok := u.User.Password(); ok {
		dsn += " password=" + pw
	}
	pool, err := openPool(context.Background(), dsn)
	if err != nil {
		t.Fatalf("openPool(%q): %v", dsn, err)
	}
	defer pool.Close()
	cfg := pool.Config().ConnConfig
	if cfg.ConnectTimeout != defaultConnectTimeout || len(cfg.Fallbacks) != 1 || cfg.ValidateConnect == nil {
		t.Errorf("connect timeout %v, %d fallbacks, validation %v", cfg.ConnectTimeout, len(cfg.Fallbacks), cfg.ValidateConnect != nil)
	}
	var readOnly string
	if err := pool.QueryRow(context.Background(), "SHOW transaction_read_only").Scan(&readOnly); err != nil || readOnly != "off" {
		t.Errorf("connected to a read-only server (%q) or not at all: %v", readOnly, err)
	}
}
