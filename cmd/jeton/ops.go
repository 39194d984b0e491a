package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/jeton-auth/jeton/metrics"
)

// The ops listener serves what operators scrape and debug with, apart from the public
// port: /metrics (Prometheus) and /debug/pprof/ (net/http/pprof). It has no
// authentication, so it listens on loopback unless told otherwise (--ops-addr); the pprof
// handlers are registered on its own mux, never on the public server.

// opsHandler serves /metrics from m and the pprof handlers.
func opsHandler(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// opsDisabled reports whether --ops-addr turns the ops listener off: empty, or "off" (an
// empty environment variable counts as unset, so JETON_OPS_ADDR=off is how to say it there).
func opsDisabled(addr string) bool { return addr == "" || addr == "off" }

// listenOps opens the ops listener on addr and serves it in the background. The caller
// closes the returned server; it is nil when addr disables the listener.
func listenOps(addr string, m *metrics.Metrics, log *slog.Logger) (*http.Server, error) {
	if opsDisabled(addr) {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--ops-addr: %w", err)
	}
	srv := &http.Server{
		Handler:           opsHandler(m),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A CPU profile or a trace takes ?seconds= (30 by default) to write.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("ops listening", slog.String("addr", ln.Addr().String()))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ops listener failed", slog.String("err", err.Error()))
		}
	}()
	return srv, nil
}
