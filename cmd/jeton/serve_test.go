package main

import (
	"context"
	"net/http"
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
