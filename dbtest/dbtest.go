// Package dbtest gives each database test its own PostgreSQL database, cloned from a
// template that holds the migrated schema, so tests and test packages run in parallel
// without sharing rows or racing on migrations.
//
// With JETON_TEST_PGBOUNCER=1 (make test-pgbouncer) the first test starts a pgbouncer in
// transaction mode in front of the server (pgcluster.StartPgbouncer) and every URL and pool
// handed out goes through it, as jeton's pools do behind pgbouncer in production; only
// LISTEN connections (ListenConfig) and dbtest's own administration stay direct.
//
// The template is named after migrations.Hash(), so a schema change builds a new one and a
// stale one is never used. It is built once, by whichever test process gets there first,
// under an advisory lock, and nothing connects to it afterwards: CREATE DATABASE ... TEMPLATE
// fails while anyone is connected to the source.
package dbtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jeton-auth/jeton/migrations"
	"github.com/jeton-auth/jeton/pgcluster"
	"github.com/jeton-auth/jeton/pgserver"
	"github.com/jeton-auth/jeton/pgserver/pgcontainer"
)

const (
	// EnvVar names the variable that points the tests at a server.
	EnvVar = "TEST_DATABASE_URL"
	// PgbouncerEnvVar, set to 1, sends the tests' connections through a pgbouncer in
	// transaction mode.
	PgbouncerEnvVar = "JETON_TEST_PGBOUNCER"
	// pgbouncerExecMode is the pgx query mode of connections through pgbouncer: its
	// default (cached named statements) collides on pooled server connections; every
	// statement works in exec (issue 21), the mode docs/OPERATIONS.md recommends there.
	pgbouncerExecMode = "exec"

	// ExecModeEnvVar names the variable that runs every test database's connections in
	// one of pgx's query exec modes (cache_statement, cache_describe, exec,
	// simple_protocol), as jeton's --database-exec-mode would: the statements that only
	// work with a server-side described statement fail under exec and simple_protocol,
	// the modes a pooler in transaction mode needs. Unset, pgx's default.
	ExecModeEnvVar = "JETON_TEST_EXEC_MODE"

	testPrefix     = "jeton_test_"
	templatePrefix = "jeton_tpl_"
	buildingSuffix = "_building"

	// staleAfter is how old a test run must be before its leftover databases (from a
	// crashed or killed run, whose t.Cleanup never ran) are swept. go test's default
	// timeout is ten minutes, so no live run is that old.
	staleAfter = time.Hour

	// lockKey is the pg_advisory_lock key that serialises template builds and sweeps across
	// test processes. Advisory locks are per database: every process takes it on the
	// server's maintenance database, the one its URL names.
	lockKey int64 = 0x6a65746f6e746c // "jetontl"

	setupTimeout = 3 * time.Minute
	dropTimeout  = 30 * time.Second
	maxConns     = 4
)

// server is what the first test in a process sets up; every later test reuses it.
type server struct {
	url      string        // the maintenance database
	admin    *pgxpool.Pool // on url, for CREATE and DROP DATABASE
	template string
	runID    string // start time and pid, so a later sweep can tell how old a leftover is
	// pgb, with JETON_TEST_PGBOUNCER=1, is the pgbouncer every handed-out URL goes through.
	pgb    *pgcluster.Pgbouncer
	direct *pgx.ConnConfig // the server's own, behind pgb
	err    error
}

var (
	setupOnce sync.Once
	srv       server
	dbSeq     atomic.Int64
)

// New returns a pool (at most 4 connections) on a fresh database cloned from the migrated
// template. The pool is closed and the database dropped in t.Cleanup. New fails the test
// when no server can be found or the database cannot be created; it never skips.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return NewWithConfig(t, nil)
}

// NewWithConfig is New with configure applied to the pool's configuration before the pool
// opens, for tests that need, say, a query tracer. configure may be nil.
func NewWithConfig(t testing.TB, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	url := NewURL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("dbtest: parse test database URL: %v", err)
	}
	cfg.MaxConns = maxConns
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("dbtest: open pool: %v", err)
	}
	// Registered after NewURL's drop, so it runs before it.
	t.Cleanup(pool.Close)
	return pool
}

// NewURL creates a fresh database cloned from the migrated template and returns its URL,
// for tests that run jeton itself against it. The database is dropped (forcibly, so open
// connections do not keep it alive) in t.Cleanup. NewURL fails the test when no server can
// be found or the database cannot be created; it never skips.
func NewURL(t testing.TB) string {
	t.Helper()
	setupOnce.Do(setup)
	if srv.err != nil {
		t.Fatalf("dbtest: %v", srv.err)
	}
	name := fmt.Sprintf("%s%s_%d", testPrefix, srv.runID, dbSeq.Add(1))
	if err := createFromTemplate(t.Context(), srv.admin, name, srv.template); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		if err := dropDatabase(ctx, srv.admin, name); err != nil {
			t.Errorf("dbtest: %v", err)
		}
	})
	url, err := pgserver.WithDatabase(srv.url, name)
	if err == nil {
		url, err = withExecMode(url, os.Getenv(ExecModeEnvVar))
	}
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	if srv.pgb != nil {
		u, err := neturl.Parse(url)
		if err != nil {
			t.Fatalf("dbtest: %v", err)
		}
		q := u.Query()
		q.Set("default_query_exec_mode", pgbouncerExecMode)
		u.Host, u.RawQuery = srv.pgb.Host(), q.Encode()
		url = u.String()
	}
	return url
}

// ListenConfig returns the configuration of a LISTEN connection to pool's database: the
// pool's own, or, through the test pgbouncer (which drops a LISTEN's notifications in
// transaction mode), one to the server itself, as --listen-database-url gives jeton.
func ListenConfig(pool *pgxpool.Pool) *pgx.ConnConfig {
	cfg := pool.Config().ConnConfig.Copy()
	if srv.pgb != nil && cfg.Port == uint16(srv.pgb.Port) {
		cfg.Host, cfg.Port, cfg.Fallbacks = srv.direct.Host, srv.direct.Port, nil
	}
	return cfg
}

// withExecMode returns url with pgx's default_query_exec_mode set to mode, or url itself
// when mode is empty. It returns an error for a mode pgx does not know, so a misspelt
// JETON_TEST_EXEC_MODE fails the run instead of testing the default.
func withExecMode(url, mode string) (string, error) {
	if mode == "" {
		return url, nil
	}
	switch mode {
	case "cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol":
	default:
		return "", fmt.Errorf("%s=%q: want cache_statement, cache_describe, describe_exec, exec or simple_protocol", ExecModeEnvVar, mode)
	}
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return url + " default_query_exec_mode=" + mode, nil
	}
	u, err := neturl.Parse(url)
	if err != nil {
		return "", fmt.Errorf("parse test database URL: %w", err)
	}
	q := u.Query()
	q.Set("default_query_exec_mode", mode)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// setup finds the server, sweeps stale databases and makes sure the template exists. A
// container started by the finder lives until the process exits, when testcontainers'
// reaper removes it: a test binary has no later point at which to stop it.
func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	start := time.Now()
	srv.runID = fmt.Sprintf("%d_%d", start.Unix(), os.Getpid())
	srv.template = templatePrefix + migrations.Hash()

	url, _, _, err := pgserver.Finder{EnvVar: EnvVar, StartContainer: pgcontainer.Start}.Find(ctx)
	if err != nil {
		srv.err = err
		return
	}
	srv.url = url
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		srv.err = fmt.Errorf("parse server URL: %w", err)
		return
	}
	cfg.MaxConns = maxConns
	srv.admin, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		srv.err = fmt.Errorf("open maintenance pool: %w", err)
		return
	}
	if srv.err = prepare(ctx, url, srv.template, start); srv.err != nil {
		return
	}
	if os.Getenv(PgbouncerEnvVar) == "1" {
		srv.direct = cfg.ConnConfig
		up := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
		// It runs until the test process exits (SIGKILL as its parent dies), as the
		// finder's container does.
		if srv.pgb, srv.err = pgcluster.StartPgbouncer(ctx, pgcluster.PgbouncerOptions{Upstream: up}); srv.err != nil {
			srv.err = fmt.Errorf("%s=1: %w", PgbouncerEnvVar, srv.err)
		}
	}
}

// prepare holds the advisory lock on a connection of its own (the lock belongs to the
// session, so it cannot go through a pool) while it sweeps and builds the template.
func prepare(ctx context.Context, url, template string, now time.Time) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to maintenance database: %w", err)
	}
	// Closing the session releases the lock, also when a step below fails.
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("take template lock: %w", err)
	}

	if err := sweep(ctx, conn, now); err != nil {
		return err
	}
	return ensureTemplate(ctx, conn, url, template)
}

// sweep drops the databases of test runs that started more than staleAfter ago.
func sweep(ctx context.Context, conn *pgx.Conn, now time.Time) error {
	const q = `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`
	rows, err := conn.Query(ctx, q, testPrefix)
	if err != nil {
		return fmt.Errorf("list test databases: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list test databases: %w", err)
	}
	for _, name := range staleDatabases(names, now) {
		if err := dropDatabase(ctx, conn, name); err != nil {
			return err
		}
	}
	return nil
}

// staleDatabases returns the test databases among names whose run started more than
// staleAfter before now. Names it cannot parse are left alone.
func staleDatabases(names []string, now time.Time) []string {
	var stale []string
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, testPrefix)
		if !ok {
			continue
		}
		startStr, _, ok := strings.Cut(rest, "_")
		if !ok {
			continue
		}
		sec, err := strconv.ParseInt(startStr, 10, 64)
		if err != nil {
			continue
		}
		if now.Sub(time.Unix(sec, 0)) > staleAfter {
			stale = append(stale, name)
		}
	}
	return stale
}

// ensureTemplate builds the template unless it exists. The caller holds the lock, so a
// database still named *_building was left by a build that died; it is rebuilt. Only a
// finished template carries the final name, so a half-built one is never cloned.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, url, template string) error {
	const exists = `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`
	var ok bool
	if err := conn.QueryRow(ctx, exists, template).Scan(&ok); err != nil {
		return fmt.Errorf("look up template: %w", err)
	}
	if ok {
		return nil
	}

	building := template + buildingSuffix
	// A build that died between marking and renaming left a template, which DROP refuses.
	const unmark = `SELECT datname FROM pg_database WHERE datname = $1 AND datistemplate`
	var left string
	switch err := conn.QueryRow(ctx, unmark, building).Scan(&left); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("look up unfinished template: %w", err)
	default:
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(building)+" WITH IS_TEMPLATE false"); err != nil {
			return fmt.Errorf("unmark unfinished template: %w", err)
		}
	}
	if err := dropDatabase(ctx, conn, building); err != nil {
		return err
	}
	// template0 rather than the default template1, which a server's admin may have filled.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(building)+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	buildingURL, err := pgserver.WithDatabase(url, building)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, buildingURL)
	if err != nil {
		return fmt.Errorf("connect to template: %w", err)
	}
	err = migrations.Up(ctx, pool)
	pool.Close() // before the rename, which needs the database to have no connections
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}

	// ALLOW_CONNECTIONS false keeps a stray psql from blocking every clone; IS_TEMPLATE lets
	// roles with CREATEDB but not ownership clone it.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(building)+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("mark template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(building)+" RENAME TO "+ident(template)); err != nil {
		return fmt.Errorf("rename template: %w", err)
	}
	return nil
}

// execer is what both the advisory-lock connection and the admin pool offer.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

var (
	_ execer = (*pgx.Conn)(nil)
	_ execer = (*pgxpool.Pool)(nil)
)

// createFromTemplate clones template into name. PostgreSQL refuses while any session is
// connected to the template (SQLSTATE 55006); nothing should be, but a build finishing in
// another process or a stray client can be, briefly, so it retries with a short backoff.
func createFromTemplate(ctx context.Context, db execer, name, template string) error {
	sql := "CREATE DATABASE " + ident(name) + " TEMPLATE " + ident(template)
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := db.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || attempt == 6 {
			if err != nil {
				return fmt.Errorf("create database %s from %s: %w", name, template, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create database %s: %w", name, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// dropDatabase drops name if it exists, disconnecting anyone still using it.
func dropDatabase(ctx context.Context, db execer, name string) error {
	if _, err := db.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// ident quotes a database name for DDL, which takes no parameters.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
