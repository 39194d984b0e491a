package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/metrics"
	"github.com/jeton-auth/jeton/migrations"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

// httpOptions are the listener settings serve and dev share.
type httpOptions struct {
	addr           string
	issuer         string
	tlsCert        string
	tlsKey         string
	behindProxy    bool
	trustedProxies list
	shutdown       time.Duration
	sweepEvery     time.Duration
	logFormat      string
	maxConns       int
	hashProcesses  bool
	memoryLimit    byteSize
	tokenDBConns   int
	opsAddr        string
	feed           service.FeedConfig
	feedRetention  time.Duration
	requestTimeout time.Duration
	adminTimeout   time.Duration
	drain          time.Duration // serve only: dev stops at once
}

func httpFlags(fs *flag.FlagSet, o *httpOptions, logDefault string) {
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.issuer, "issuer", "", "issuer URL (https, or http on loopback)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.BoolVar(&o.behindProxy, "behind-tls-proxy", false, "allow plain HTTP on a non-loopback address behind a TLS-terminating proxy (needs --trusted-proxy)")
	fs.Var(&o.trustedProxies, "trusted-proxy", "CIDR of a proxy whose X-Forwarded-For is believed (repeatable)")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 10*time.Second, "how long in-flight requests may finish on shutdown")
	fs.DurationVar(&o.requestTimeout, "request-timeout", api.DefaultRequestTimeout, "longest /token, /introspect, /revoke or /readyz request; past it the answer is 503 temporarily_unavailable")
	fs.DurationVar(&o.adminTimeout, "admin-timeout", api.DefaultAdminTimeout, "longest admin API request; past it the answer is a 503 problem")
	fs.DurationVar(&o.sweepEvery, "sweep-interval", time.Minute, "how often expired rows are swept (0 disables)")
	fs.StringVar(&o.logFormat, "log-format", logDefault, "json or text")
	fs.IntVar(&o.maxConns, "max-connections", 4096, "concurrent client connections; more wait to be accepted")
	o.memoryLimit = autoMemoryLimit
	fs.Var(&o.memoryLimit, "memory-limit", `soft memory limit of the Go runtime, e.g. 512MiB; "auto": start-up's footprint + 32 MiB + 64 KiB per open connection (+ 2.5 × hash workers × argon2 memory with --hash-processes=false); "off": none (GOMEMLIMIT applies)`)
	fs.BoolVar(&o.hashProcesses, "hash-processes", true, "verify and hash passwords in child processes, one per hash worker, at a lower OS priority than request handling")
	fs.IntVar(&o.tokenDBConns, "token-db-connections", 0, "database connections of /token and the admin API, apart from introspection's (0: as many as the main pool)")
	fd := service.DefaultFeedConfig()
	fs.IntVar(&o.feed.MaxStreams, "feed-max-streams", fd.MaxStreams, "open revocation feed streams (GET /revocations) of this instance; more get 503")
	fs.IntVar(&o.feed.MaxStreamsPerTenant, "feed-max-streams-per-tenant", fd.MaxStreamsPerTenant, "open revocation feed streams of one tenant on this instance; more get 503")
	fs.DurationVar(&o.feedRetention, "feed-retention", service.DefaultConfig().FeedRetention, "how long the revocation log keeps a revocation for feed replay (0: forever); a stream further behind is reset")
	fs.StringVar(&o.opsAddr, "ops-addr", "127.0.0.1:9090", `address of the ops listener (/metrics, /debug/pprof/), without authentication; "" or "off" disables it`)
}

func serve(ctx context.Context, e env) error {
	fs := newFlags("serve", e)
	var o httpOptions
	httpFlags(fs, &o, "json")
	fs.DurationVar(&o.drain, "shutdown-drain", 5*time.Second, "on SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes")
	dbURL := fs.String("database-url", "", "PostgreSQL URL")
	migrate := fs.Bool("migrate", true, "apply pending migrations at start")
	cfg := serviceFlags(fs)
	if err := parseWithEnv(fs, e); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("JETON_DATABASE_URL (or --database-url) is required")
	}
	if err := checkListen(o); err != nil {
		return err
	}
	if err := checkConfig(cfg()); err != nil {
		return err
	}
	pool, err := openPool(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Before migrating: a release too old for the schema changes nothing.
	if err := checkSchemaVersion(ctx, db.New(pool), version); err != nil {
		return err
	}
	if *migrate {
		if err := migrations.Up(ctx, pool); err != nil {
			return err
		}
	}
	return listenAndServe(ctx, e, o, pool, cfg(), nil)
}

// checkListen enforces TLS: plain HTTP only on loopback, or behind a TLS proxy whose
// address is trusted; an https issuer unless on loopback.
func checkListen(o httpOptions) error {
	if o.issuer == "" {
		return errors.New("--issuer (JETON_ISSUER) is required")
	}
	iss, err := url.Parse(o.issuer)
	if err != nil || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" || iss.User != nil {
		return fmt.Errorf("--issuer %q must be an absolute URL without query or fragment", o.issuer)
	}
	if iss.Scheme != "https" && !(iss.Scheme == "http" && isLoopbackHost(iss.Hostname())) {
		return fmt.Errorf("--issuer %q must use https (http only on loopback)", o.issuer)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", o.addr, err)
	}
	if o.tlsCert == "" && !isLoopbackHost(host) {
		if !o.behindProxy || len(o.trustedProxies) == 0 {
			return fmt.Errorf("refusing plain HTTP on non-loopback %s: give --tls-cert/--tls-key, or --behind-tls-proxy with --trusted-proxy", o.addr)
		}
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// listenAndServe serves jeton until ctx ends, then shuts down gracefully. An empty issuer
// becomes http://ADDR of the bound address (dev only). ready, when not nil, is called with
// the issuer once the listener is open.
func listenAndServe(ctx context.Context, e env, o httpOptions, pool *pgxpool.Pool, cfg service.Config, ready func(issuer string)) error {
	log := newLogger(o.logFormat, e.stderr)
	accessBuf := newLineBuffer(e.stderr)
	defer accessBuf.Close()
	if o.feed.MaxStreams < 1 || o.feed.MaxStreamsPerTenant < 1 || o.feedRetention < 0 {
		return errors.New("--feed-max-streams and --feed-max-streams-per-tenant must be positive, --feed-retention not negative")
	}
	cfg.FeedRetention = o.feedRetention
	if o.requestTimeout <= 0 || o.adminTimeout <= 0 || o.drain < 0 {
		return errors.New("--request-timeout and --admin-timeout must be positive, --shutdown-drain not negative")
	}
	// /token and the admin API get a pool of their own: a login flood waits for those
	// connections, never for introspection's.
	tcfg := pool.Config().Copy()
	if o.tokenDBConns > 0 {
		tcfg.MaxConns = int32(o.tokenDBConns)
	}
	tcfg.MinConns = 0
	tokenPool, err := pgxpool.NewWithConfig(ctx, tcfg)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer tokenPool.Close()
	m := metrics.New()
	if err := errors.Join(m.WatchPool("main", pool), m.WatchPool("token", tokenPool)); err != nil {
		return err
	}
	// A queued login must expect its hash done with a quarter of its timeout to spare.
	cfg.HashMaxWait = o.requestTimeout * 3 / 4
	opts := []service.Option{service.WithLogger(log), service.WithTokenStore(db.New(tokenPool)), service.WithObserver(m)}
	// argon2id's memory, its garbage and its CPU go to child processes: the collector of
	// this one never runs for them, and requests get the CPU first.
	hashMemWorkers := cfg.HashWorkers
	if hashMemWorkers == 0 {
		hashMemWorkers = runtime.GOMAXPROCS(0)
	}
	if o.hashProcesses {
		hs, err := password.ProcessWorkers(hashMemWorkers)
		if err != nil {
			return err
		}
		opts = append(opts, service.WithHashers(hs))
		hashMemWorkers = 0
	}
	svc, err := service.New(db.New(pool), cfg, opts...)
	if err != nil {
		return err
	}
	defer svc.Close()
	m.WatchHashing(svc.HashLoad, svc.HashWorkers(), svc.HashCapacity())
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	var conns func() int
	if o.maxConns > 0 {
		ll := newLimitListener(ln, o.maxConns)
		ln, conns = ll, ll.open
	}
	memCtx, stopMem := context.WithCancel(ctx)
	defer stopMem()
	setMemoryLimit(memCtx, o.memoryLimit, hashMemWorkers, cfg.Hash.Memory, conns, log)
	if o.issuer == "" {
		o.issuer = "http://" + ln.Addr().String()
	}
	// The revocation feed reads the log on the main pool and LISTENs on a connection of its
	// own; it runs until the server has shut down.
	o.feed.Gauge = m.FeedStreams
	feed := service.NewFeed(db.New(pool), o.feed, log)
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFeed()
	go feed.Run(feedCtx)
	h, err := api.NewServer(api.Config{Issuer: o.issuer, TrustedProxies: o.trustedProxies, Requests: m, Feed: feed,
		RequestTimeout: o.requestTimeout, AdminTimeout: o.adminTimeout, RefusalDelay: api.DefaultRefusalDelay, AccessLog: newLogger(o.logFormat, accessBuf)}, svc, log)
	if err != nil {
		ln.Close()
		return err
	}
	ops, err := listenOps(o.opsAddr, m, log)
	if err != nil {
		ln.Close()
		return err
	}
	if ops != nil {
		defer ops.Close()
	}
	srv := newHTTPServer(h, log, max(o.requestTimeout, o.adminTimeout)+5*time.Second)
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("TLS: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("issuer", o.issuer), slog.String("version", version),
		slog.Bool("tls", o.tlsCert != ""))
	if ready != nil {
		ready(o.issuer)
	}

	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	if o.sweepEvery > 0 {
		go svc.RunSweeper(sweepCtx, o.sweepEvery)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain: /readyz answers 503 and responses ask clients to reconnect, while every request
	// is still served, so load balancers take the instance out before the listener closes.
	// Then the feed's streams end (told to retry), then in-flight requests finish.
	h.Drain()
	if o.drain > 0 {
		log.Info("draining", slog.Duration("for", o.drain))
		time.Sleep(o.drain)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdown)
	defer cancel()
	// Shutdown waits for every handler, streams included: they end first, told to retry.
	if err := feed.Drain(sctx); err != nil {
		log.Warn("revocation feed streams still open at shutdown", slog.Int("streams", feed.Streams()))
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// newHTTPServer is jeton's http.Server: every phase of a request has a deadline, so a slow
// client holds a connection for seconds, not forever; headers are bounded. Revocation feed
// streams set their own write deadline per write instead of WriteTimeout, and give back
// their connection's place under --max-connections (connContext). writeTimeout, at least
// 15 s, must exceed the longest request timeout, or the connection would be cut before a
// 503 could be written.
func newHTTPServer(h http.Handler, log *slog.Logger, writeTimeout time.Duration) *http.Server {
	return &http.Server{
		ConnContext:       connContext,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      max(writeTimeout, 15*time.Second),
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
