package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

func TestByteSizeFlag(t *testing.T) {
	tests := []struct {
		in   string
		want byteSize
		ok   bool
	}{
		{"auto", autoMemoryLimit, true},
		{"off", noMemoryLimit, true},
		{"0", noMemoryLimit, true},
		{"512MiB", 512 << 20, true},
		{"2GiB", 2 << 30, true},
		{"64KiB", 64 << 10, true},
		{"1048576", 1 << 20, true},
		{"100B", 100, true},
		{"-1", 0, false},
		{"1.5GiB", 0, false},
		{"lots", 0, false},
		{"9999999999GiB", 0, false},
	}
	for _, tt := range tests {
		var b byteSize
		err := b.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && b != tt.want) {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d, ok %v", tt.in, b, err, tt.want, tt.ok)
		}
	}
}

// TestHTTPServerLimits: every phase of a request has a deadline and headers are bounded.
func TestHTTPServerLimits(t *testing.T) {
	s := newHTTPServer(http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)), 10*time.Second)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 ||
		s.MaxHeaderBytes > 64<<10 {
		t.Errorf("server %+v lacks a timeout or a header bound", s)
	}
}

// TestServeBoundsConnections: the served process refuses oversized headers (431) and
// accepts no more than --max-connections connections at once; a connection past the cap
// waits until one closes.
func TestServeBoundsConnections(t *testing.T) {
	env := map[string]string{"JETON_DATABASE_URL": dbtest.NewURL(t), "JETON_ISSUER": "http://127.0.0.1:0",
		"JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "off", "JETON_SWEEP_INTERVAL": "0",
		"JETON_MAX_CONNECTIONS": "2", "JETON_MEMORY_LIMIT": "off", "JETON_SHUTDOWN_DRAIN": "0s"}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""),
			&testkit.Buffer{}, &stderr)
	}()
	defer func() { cancel(); <-done }()
	addr := waitListening(t, &stderr)
	get := func(timeout time.Duration, header string) (int, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
		if header != "" {
			req.Header.Set("X-Big", header)
		}
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if got, err := get(10*time.Second, strings.Repeat("x", 32<<10)); err != nil || got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("32 KiB header: %d, %v; want 431", got, err)
	}
	// Two connections that say nothing hold both places.
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them
	if got, err := get(500*time.Millisecond, ""); err == nil {
		t.Errorf("a third connection was served (%d) while two held the places", got)
	}
	for _, c := range held {
		c.Close()
	}
	if got, err := get(10*time.Second, ""); err != nil || got != http.StatusOK {
		t.Errorf("after the connections closed: %d, %v", got, err)
	}
}
