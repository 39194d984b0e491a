package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// TestServeFeed runs the real serve command with --max-connections 1: an open revocation
// feed stream leaves that one place to other requests, and on shutdown the stream gets
// retry: 1000 and ends before serve returns.
func TestServeFeed(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	admin := withEnv(fastArgon, "JETON_DATABASE_URL", dbURL)
	if _, err := jeton(t, admin, "", "tenant", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	rs := createClient(t, admin, "--name", "api", "--introspect")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testkit.Buffer
	done := make(chan error, 1)
	env := map[string]string{"JETON_DATABASE_URL": dbURL, "JETON_ISSUER": "http://127.0.0.1", "JETON_ADDR": "127.0.0.1:0",
		"JETON_OPS_ADDR": "off", "JETON_SWEEP_INTERVAL": "0", "JETON_MAX_CONNECTIONS": "1", "JETON_SHUTDOWN_DRAIN": "0s"}
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), &testkit.Buffer{}, &stderr)
	}()
	addr := waitListening(t, &stderr)

	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/revocations", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(rs["client_id"], rs["client_secret"])
	streams := &http.Client{Transport: &http.Transport{}}
	resp, err := streams.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /revocations: %d", resp.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() (string, bool) {
		t.Helper()
		select {
		case l, ok := <-lines:
			return l, ok
		case <-time.After(30 * time.Second):
			t.Fatal("nothing on the stream for 30s")
		}
		return "", false
	}
	for l, ok := next(); !strings.HasPrefix(l, `data: {"head":`); l, ok = next() { // ready's
		if !ok {
			t.Fatal("the stream ended before ready")
		}
	}

	// The stream gave its place back: a request on another connection is served.
	other := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	h, err := other.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("a request beside the stream: %v", err)
	}
	h.Body.Close()
	other.CloseIdleConnections() // its place is needed by nobody else, but shutdown waits for no idle one

	cancel()
	var rest []string
	for l, ok := next(); ok; l, ok = next() {
		if l != "" && !strings.HasPrefix(l, ":") {
			rest = append(rest, l)
		}
	}
	if len(rest) != 1 || rest[0] != "retry: 1000" {
		t.Errorf("the stream ended with %q, want retry: 1000", rest)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return")
	}
}
