package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/metrics"
	"github.com/jeton-auth/jeton/migrations"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

// serverFlags are the settings of the server, which serve and dev share. The command's tag
// sets log_format and shutdown_drain: dev logs text and stops at once.
type serverFlags struct {
	Addr                    string        `default:"127.0.0.1:8080" env:"JETON_ADDR" help:"address to listen on"`
	Issuer                  string        `env:"JETON_ISSUER" placeholder:"URL" help:"issuer URL: https, or http on loopback (required by serve; dev's default is http://ADDR)"`
	TLSCert                 string        `name:"tls-cert" env:"JETON_TLS_CERT" placeholder:"FILE" help:"TLS certificate file (PEM)"`
	TLSKey                  string        `name:"tls-key" env:"JETON_TLS_KEY" placeholder:"FILE" help:"TLS private key file (PEM)"`
	BehindTLSProxy          bool          `name:"behind-tls-proxy" env:"JETON_BEHIND_TLS_PROXY" help:"allow plain HTTP on a non-loopback address behind a TLS-terminating proxy (needs --trusted-proxy)"`
	TrustedProxies          list          `name:"trusted-proxy" env:"JETON_TRUSTED_PROXY" placeholder:"CIDR" help:"CIDR of a proxy whose X-Forwarded-For is believed (repeatable, or comma-separated)"`
	Migrate                 bool          `name:"migrate" default:"true" env:"JETON_MIGRATE" help:"apply pending migrations at start"`
	ShutdownDrain           time.Duration `name:"shutdown-drain" default:"${shutdown_drain}" env:"JETON_SHUTDOWN_DRAIN" help:"on SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes"`
	ShutdownTimeout         time.Duration `name:"shutdown-timeout" default:"10s" env:"JETON_SHUTDOWN_TIMEOUT" help:"how long in-flight requests may finish on shutdown"`
	RequestTimeout          time.Duration `name:"request-timeout" default:"${request_timeout}" env:"JETON_REQUEST_TIMEOUT" help:"longest /token, /introspect, /revoke or /readyz request; past it the answer is 503 temporarily_unavailable"`
	AdminTimeout            time.Duration `name:"admin-timeout" default:"${admin_timeout}" env:"JETON_ADMIN_TIMEOUT" help:"longest admin API request; past it the answer is a 503 problem"`
	SweepInterval           time.Duration `name:"sweep-interval" default:"1m" env:"JETON_SWEEP_INTERVAL" help:"how often expired rows are swept (0 disables)"`
	LogFormat               string        `name:"log-format" default:"${log_format}" enum:"json,text" env:"JETON_LOG_FORMAT" help:"json or text"`
	MaxConnections          int           `name:"max-connections" default:"4096" env:"JETON_MAX_CONNECTIONS" help:"concurrent client connections; more wait to be accepted"`
	MemoryLimit             byteSize      `name:"memory-limit" default:"auto" env:"JETON_MEMORY_LIMIT" help:"soft memory limit of the Go runtime, e.g. 512MiB; auto: start-up's footprint + 32 MiB + 64 KiB per open connection (+ 2.5 × hash workers × argon2 memory with --hash-processes=false); off: none (GOMEMLIMIT applies)"`
	HashWorkers             int           `name:"hash-workers" default:"0" env:"JETON_HASH_WORKERS" help:"argon2id computations at once (0: one per CPU)"`
	HashQueue               int           `name:"hash-queue" default:"0" env:"JETON_HASH_QUEUE" help:"logins that may wait for an argon2id worker before 503 (0: 32 per worker); fewer are admitted when they could not expect their hash within ¾ of --request-timeout"`
	HashProcesses           bool          `name:"hash-processes" default:"true" env:"JETON_HASH_PROCESSES" help:"verify and hash passwords in child processes, one per hash worker, at a lower OS priority than request handling"`
	TokenDBConnections      int           `name:"token-db-connections" default:"0" env:"JETON_TOKEN_DB_CONNECTIONS" help:"database connections of /token and the admin API, apart from introspection's (0: as many as the main pool)"`
	FeedMaxStreams          int           `name:"feed-max-streams" default:"${feed_max_streams}" env:"JETON_FEED_MAX_STREAMS" help:"open revocation feed streams (GET /revocations) of this instance; more get 503"`
	FeedMaxStreamsPerTenant int           `name:"feed-max-streams-per-tenant" default:"${feed_max_streams_per_tenant}" env:"JETON_FEED_MAX_STREAMS_PER_TENANT" help:"open revocation feed streams of one tenant on this instance; more get 503"`
	FeedRetention           time.Duration `name:"feed-retention" default:"${feed_retention}" env:"JETON_FEED_RETENTION" help:"how long the revocation log keeps a revocation for feed replay (0: forever); a stream further behind is reset"`
	FeedPollInterval        time.Duration `name:"feed-poll-interval" default:"${feed_poll_interval}" env:"JETON_FEED_POLL_INTERVAL" help:"how often the revocation feed reads the log without a notification: the pace of delivery while notifications do not arrive (LISTEN self-check failed, connection down) and with --feed-poll-only"`
	FeedPollOnly            bool          `name:"feed-poll-only" env:"JETON_FEED_POLL_ONLY" help:"never LISTEN for revocations, only read the log every --feed-poll-interval (for deployments that cannot give each instance a direct connection to PostgreSQL)"`
	Console                 bool          `name:"console" default:"true" env:"JETON_CONSOLE" help:"serve the admin console at /console/ (--console=false turns it off)"`
	OpsAddr                 string        `name:"ops-addr" default:"127.0.0.1:9090" env:"JETON_OPS_ADDR" help:"address of the ops listener (/metrics, /debug/pprof/), without authentication; empty or off disables it"`
	Webhooks                webhookFlags  `embed:"" prefix:"webhook-"`
	// listen is where the feed and the webhook dispatcher LISTEN (serve's
	// --listen-database-url); nil: the main pool's settings.
	listen            *pgx.ConnConfig
	BreachedPasswords string `name:"breached-passwords" env:"JETON_BREACHED_PASSWORDS" placeholder:"FILE" help:"breached-password filter file (jeton breach import), memory-mapped and reloaded on SIGHUP; new passwords found in it are refused"`
	BreachCheckLogin  bool   `name:"breach-check-login" env:"JETON_BREACH_CHECK_LOGIN" help:"a correct password found in --breached-passwords at login must be changed (reason breached) before tokens are issued"`
}

// config is the service configuration of a server: the deployment's settings and the
// server's own share of them.
func (o serverFlags) config(d deploymentFlags) service.Config {
	c := d.config()
	c.HashWorkers, c.HashQueue, c.FeedRetention = o.HashWorkers, o.HashQueue, o.FeedRetention
	// A queued login must expect its hash done with a quarter of its timeout to spare.
	c.HashMaxWait = o.RequestTimeout * 3 / 4
	return c
}

// serveCmd is "jeton serve".
type serveCmd struct {
	databaseFlags     `embed:""`
	ListenDatabaseURL string          `name:"listen-database-url" env:"JETON_LISTEN_DATABASE_URL" placeholder:"URL" help:"PostgreSQL URL of the LISTEN connections of the revocation feed and the webhook dispatcher, one each (default: --database-url); behind a pooler in transaction mode, a direct one to the same database"`
	Server            serverFlags     `embed:""`
	Deployment        deploymentFlags `embed:"" group:"deployment"`
}

func (c *serveCmd) Run(ctx context.Context, e env) error {
	if err := c.requireURL(); err != nil {
		return err
	}
	cfg := c.Server.config(c.Deployment)
	if err := checkListen(c.Server); err != nil {
		return err
	}
	keys, err := loadKeys(e.getenv, c.Deployment.SecretKeysFile)
	if err != nil {
		return err
	}
	cfg.Keys = keys
	if err := errors.Join(checkServer(c.Server), checkConfig(cfg)); err != nil {
		return err
	}
	if c.ListenDatabaseURL != "" {
		if c.Server.listen, err = listenConfig(c.ListenDatabaseURL); err != nil {
			return err
		}
	}
	pool, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Before migrating: a release too old for the schema changes nothing.
	if err := checkSchemaVersion(ctx, db.New(pool), version); err != nil {
		return err
	}
	if c.Server.Migrate {
		if err := migrations.Up(ctx, pool); err != nil {
			return err
		}
	}
	return listenAndServe(ctx, e, c.Server, pool, cfg, nil)
}

// checkListen enforces TLS: plain HTTP only on loopback, or behind a TLS proxy whose
// address is trusted; an https issuer unless on loopback.
func checkListen(o serverFlags) error {
	if o.Issuer == "" {
		return errors.New("--issuer (JETON_ISSUER) is required")
	}
	iss, err := url.Parse(o.Issuer)
	if err != nil || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" || iss.User != nil {
		return fmt.Errorf("--issuer %q must be an absolute URL without query or fragment", o.Issuer)
	}
	if iss.Scheme != "https" && !(iss.Scheme == "http" && isLoopbackHost(iss.Hostname())) {
		return fmt.Errorf("--issuer %q must use https (http only on loopback)", o.Issuer)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", o.Addr, err)
	}
	if o.TLSCert == "" && !isLoopbackHost(host) {
		if !o.BehindTLSProxy || len(o.TrustedProxies) == 0 {
			return fmt.Errorf("refusing plain HTTP on non-loopback %s: give --tls-cert/--tls-key, or --behind-tls-proxy with --trusted-proxy", o.Addr)
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

// checkServer refuses server settings out of range, before anything connects.
func checkServer(o serverFlags) error {
	switch {
	case o.FeedMaxStreams < 1 || o.FeedMaxStreamsPerTenant < 1 || o.FeedRetention < 0 || o.FeedPollInterval <= 0:
		return errors.New("--feed-max-streams, --feed-max-streams-per-tenant and --feed-poll-interval must be positive, --feed-retention not negative")
	case o.RequestTimeout <= 0 || o.AdminTimeout <= 0 || o.ShutdownDrain < 0:
		return errors.New("--request-timeout and --admin-timeout must be positive, --shutdown-drain not negative")
	case o.HashWorkers < 0 || o.HashQueue < 0:
		return errors.New("--hash-workers and --hash-queue cannot be negative")
	}
	return o.Webhooks.check()
}

// listenAndServe serves jeton until ctx ends, then shuts down gracefully. An empty issuer
// becomes http://ADDR of the bound address (dev only). ready, when not nil, is called with
// the issuer once the listener is open.
func listenAndServe(ctx context.Context, e env, o serverFlags, pool *pgxpool.Pool, cfg service.Config, ready func(issuer string)) error {
	s, err := startServer(ctx, e, o, pool, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	if ready != nil {
		ready(s.issuer)
	}
	return s.serve(ctx)
}

// server is a running jeton: its service, listeners and background work, from startServer
// to close.
type server struct {
	o       serverFlags
	log     *slog.Logger
	metrics *metrics.Metrics
	issuer  string
	svc     *service.Service
	handler *api.Server
	feed    *service.Feed
	http    *http.Server
	ln      net.Listener
	undo    []func() // what close runs, last first
}

// onClose makes close run f.
func (s *server) onClose(f func()) { s.undo = append(s.undo, f) }

// close releases what startServer acquired, in reverse order.
func (s *server) close() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
}

// startServer opens the token pool, the service and its hashing workers, the listeners
// (public and ops) and starts the revocation feed and the sweeper. On error it has
// released everything again.
func startServer(ctx context.Context, e env, o serverFlags, pool *pgxpool.Pool, cfg service.Config) (_ *server, err error) {
	s := &server{o: o, log: newLogger(o.LogFormat, e.stderr), metrics: metrics.New()}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	accessBuf := newLineBuffer(e.stderr)
	s.onClose(func() { _ = accessBuf.Close() })
	inProcessHashers, err := s.startService(ctx, pool, cfg)
	if err != nil {
		return nil, err
	}
	conns, err := s.listen()
	if err != nil {
		return nil, err
	}
	memCtx, stopMem := context.WithCancel(ctx)
	s.onClose(stopMem)
	setMemoryLimit(memCtx, o.MemoryLimit, inProcessHashers, cfg.Hash.Memory, conns, s.log)
	s.issuer = cmp.Or(o.Issuer, "http://"+s.ln.Addr().String())
	if err := s.startHandler(ctx, pool, newLogger(o.LogFormat, accessBuf)); err != nil {
		return nil, err
	}
	ops, err := listenOps(o.OpsAddr, s.metrics, s.log)
	if err != nil {
		return nil, err
	}
	if ops != nil {
		s.onClose(func() { _ = ops.Close() })
	}
	if err := s.startTLS(); err != nil {
		return nil, err
	}
	s.log.Info("listening", slog.String("addr", s.ln.Addr().String()), slog.String("issuer", s.issuer),
		slog.String("version", version), slog.Bool("tls", o.TLSCert != ""))
	if o.SweepInterval > 0 {
		sweepCtx, stopSweep := context.WithCancel(ctx)
		s.onClose(stopSweep)
		go s.svc.RunSweeper(sweepCtx, o.SweepInterval)
	}
	return s, nil
}

// startService opens the token pool and the service with its hashing workers. It returns
// how many of those hash in this process (none with --hash-processes), for the memory limit.
func (s *server) startService(ctx context.Context, pool *pgxpool.Pool, cfg service.Config) (inProcess int, err error) {
	// /token and the admin API get a pool of their own: a login flood waits for those
	// connections, never for introspection's.
	tcfg := pool.Config().Copy()
	if s.o.TokenDBConnections > 0 {
		tcfg.MaxConns = int32(s.o.TokenDBConnections)
	}
	tcfg.MinConns = 0
	tokenPool, err := pgxpool.NewWithConfig(ctx, tcfg)
	if err != nil {
		return 0, fmt.Errorf("database: %w", err)
	}
	s.onClose(tokenPool.Close)
	if err := errors.Join(s.metrics.WatchPool("main", pool), s.metrics.WatchPool("token", tokenPool)); err != nil {
		return 0, err
	}
	sender := s.o.Webhooks.sender()
	opts := []service.Option{service.WithLogger(s.log), service.WithObserver(s.metrics),
		service.WithWebhookSender(sender)}
	// argon2id's memory, its garbage and its CPU go to child processes: the collector of
	// this one never runs for them, and requests get the CPU first.
	inProcess = cmp.Or(cfg.HashWorkers, runtime.GOMAXPROCS(0))
	if s.o.HashProcesses {
		hs, err := password.ProcessWorkers(inProcess)
		if err != nil {
			return 0, err
		}
		opts = append(opts, service.WithHashers(hs))
		inProcess = 0
	}
	bl, closeList, err := openBreachList(ctx, s.o, s.log)
	if err != nil {
		return 0, err
	}
	if bl != nil {
		s.onClose(closeList)
		opts = append(opts, service.WithBreachList(bl))
	}
	cfg.BreachCheckLogin = s.o.BreachCheckLogin
	if s.svc, err = service.New(db.New(pool, db.WithTokenPool(tokenPool)), cfg, opts...); err != nil {
		return 0, err
	}
	s.onClose(func() { _ = s.svc.Close() })
	if err := checkKeys(ctx, s.svc, cfg.Keys); err != nil {
		return 0, err
	}
	s.metrics.WatchHashing(s.svc.HashLoad, s.svc.HashWorkers(), s.svc.HashCapacity())
	s.onClose(startWebhooks(s.o.Webhooks, sender, s.store(pool), s.metrics, s.log))
	return inProcess, nil
}

// listen opens the public listener, under --max-connections. conns counts its open
// connections (nil without a limit).
func (s *server) listen() (conns func() int, err error) {
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return nil, err
	}
	if s.o.MaxConnections > 0 {
		ll := newLimitListener(ln, s.o.MaxConnections)
		ln, conns = ll, ll.open
	}
	s.ln = ln
	s.onClose(func() { _ = s.ln.Close() })
	return conns, nil
}

// store is a Store on pool whose LISTEN connections go to --listen-database-url, for the
// feed and the webhook dispatcher.
func (s *server) store(pool *pgxpool.Pool) *db.Store {
	if s.o.listen == nil {
		return db.New(pool)
	}
	return db.New(pool, db.WithListenConfig(s.o.listen))
}

// startHandler starts the revocation feed and builds the HTTP handler and server.
func (s *server) startHandler(ctx context.Context, pool *pgxpool.Pool, accessLog *slog.Logger) error {
	// The revocation feed reads the log on the main pool and LISTENs on a connection of its
	// own; it runs until the server has shut down.
	s.feed = service.NewFeed(s.store(pool), service.FeedConfig{MaxStreams: s.o.FeedMaxStreams,
		MaxStreamsPerTenant: s.o.FeedMaxStreamsPerTenant, Poll: s.o.FeedPollInterval, PollOnly: s.o.FeedPollOnly,
		Gauge: s.metrics.FeedStreams, Observer: s.metrics}, s.log)
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	s.onClose(stopFeed)
	go s.feed.Run(feedCtx)
	consoleFiles, err := consoleHandler(s.o.Console, s.log)
	if err != nil {
		return err
	}
	s.handler, err = api.NewServer(api.Config{Issuer: s.issuer, TrustedProxies: s.o.TrustedProxies, Requests: s.metrics,
		Feed: s.feed, RequestTimeout: s.o.RequestTimeout, AdminTimeout: s.o.AdminTimeout,
		RefusalDelay: api.DefaultRefusalDelay, AccessLog: accessLog, Console: consoleFiles}, s.svc, s.log)
	if err != nil {
		return err
	}
	s.http = newHTTPServer(s.handler, s.log, max(s.o.RequestTimeout, s.o.AdminTimeout)+5*time.Second)
	return nil
}

// startTLS wraps the listener in TLS 1.2+ with --tls-cert and --tls-key, if given.
func (s *server) startTLS() error {
	if s.o.TLSCert == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.o.TLSCert, s.o.TLSKey)
	if err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	s.ln = tls.NewListener(s.ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})
	return nil
}

// serve serves until ctx ends, then shuts down. It returns the listener's error, or
// shutdown's.
func (s *server) serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return s.shutdown()
}

// shutdown drains: /readyz answers 503 and responses ask clients to reconnect, while every
// request is still served, so load balancers take the instance out before the listener
// closes. Then the feed's streams end (told to retry), then in-flight requests finish.
func (s *server) shutdown() error {
	s.handler.Drain()
	if s.o.ShutdownDrain > 0 {
		s.log.Info("draining", slog.Duration("for", s.o.ShutdownDrain))
		time.Sleep(s.o.ShutdownDrain)
	}
	s.log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), s.o.ShutdownTimeout)
	defer cancel()
	// Shutdown waits for every handler, streams included: they end first, told to retry.
	if err := s.feed.Drain(ctx); err != nil {
		s.log.Warn("revocation feed streams still open at shutdown", slog.Int("streams", s.feed.Streams()))
	}
	if err := s.http.Shutdown(ctx); err != nil {
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
