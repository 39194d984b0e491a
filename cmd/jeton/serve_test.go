package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// TestServeDrainsOnShutdown: on SIGTERM (ctx ending), serve drains: /readyz answers 503
// while every other request is still served, then the listener closes and serve returns.
// The test asserts the order of those states, never how long one lasts.
func TestServeDrainsOnShutdown(t *testing.T) {
	// Long enough for the test to see the drain on a loaded machine; the drain always
	// lasts this long, so a longer one only slows the test.
	const drain = 3 * time.Second
	env := map[string]string{"JETON_DATABASE_URL": dbtest.NewURL(t), "JETON_ISSUER": "http://127.0.0.1:0",
		"JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "off", "JETON_SWEEP_INTERVAL": "0",
		"JETON_SHUTDOWN_DRAIN": drain.String()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""),
			&testkit.Buffer{}, &stderr)
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
	cancel()
	for got := status("/readyz"); got != http.StatusServiceUnavailable; got = status("/readyz") {
		if got != http.StatusOK {
			t.Fatalf("/readyz after shutdown began: %d, want 200 until the drain, then 503", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while draining: %d, want 200: still serving", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if got := status("/healthz"); got != 0 {
		t.Errorf("/healthz after shutdown: %d, want no answer", got)
	}
	log := stderr.String()
	if d, s := strings.Index(log, `"msg":"draining"`), strings.Index(log, `"msg":"shutting down"`); d < 0 || s < d {
		t.Errorf("log does not say draining, then shutting down:\n%s", log)
	}
}

// TestOpenPoolMultiHost: a multi-host URL in keyword form (what a primary and its standby
// look like to jeton) goes through pgx as-is: a host that refuses is skipped for the next
// one that accepts writes; each attempt gets the default connect timeout.
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
	pool, err := openPool(context.Background(), dsn, "")
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

// TestOpenPoolPrimaryOnly: a server that takes no writes (here read-only by the URL's own
// options) is refused even without target_session_attrs, so no request ever reads from
// a standby that a proxy or pooler sent jeton to.
func TestOpenPoolPrimaryOnly(t *testing.T) {
	u, err := url.Parse(dbtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery += "&options=-c%20default_transaction_read_only%3Don"
	pool, err := openPool(context.Background(), u.String(), "")
	if err == nil {
		pool.Close()
		t.Fatal("openPool connected to a read-only server")
	}
	if !errors.Is(err, pgconn.ErrReadOnlyConnection) {
		t.Errorf("openPool: %v, want a refused read-only connection", err)
	}
}
