package chaos

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/pgcluster"
)

// env is one run's world: the clusters, the jeton instances and what was seeded.
type env struct {
	t       *testing.T
	cfg     config
	dir     string
	bin     string
	primary *pgcluster.Cluster
	standby *pgcluster.Cluster
	dbURL   string // the multi-host URL the instances use
	inst    []*instance
	http    *http.Client
	seed    seed
	ledger  *ledger
	report  *report
}

// pgSettings are the clusters' command-line settings. fsync is off: the suite kills
// processes, never the machine, so the operating system's cache keeps what PostgreSQL
// wrote, and the 2-core CI box is spared the flushes. Durability across the failover comes
// from synchronous replication, which does not depend on fsync.
var pgSettings = []string{"fsync=off", "max_connections=200", "wal_retrieve_retry_interval=500ms",
	"log_min_messages=warning", "log_connections=off"}

// newEnv starts the clusters and three instances, and seeds the tenant.
func newEnv(t *testing.T, cfg config) *env {
	t.Helper()
	needBinaries(t)
	e := &env{t: t, cfg: cfg, dir: suiteDir(t), ledger: newLedger(), report: newReport(cfg)}
	e.bin = buildJeton(t, e.dir)
	e.http = newHTTPClient()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var err error
	e.primary, err = pgcluster.Init(ctx, pgcluster.Options{Parent: e.dir, Settings: pgSettings, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.primary.Remove)
	// In postgresql.auto.conf, where the standby inherits it (pg_basebackup copies it) as it
	// would inherit an identical postgresql.conf; it must be cleared there before promotion.
	e.sql(ctx, e.primary, "postgres", "ALTER SYSTEM SET synchronous_standby_names = '*'")
	e.sql(ctx, e.primary, "postgres", "SELECT pg_reload_conf()")
	e.standby, err = e.primary.Standby(ctx, pgcluster.Options{Parent: e.dir, Settings: pgSettings, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.standby.Remove)
	e.sql(ctx, e.primary, "postgres", "CREATE DATABASE jeton")
	e.dbURL = fmt.Sprintf("postgres://postgres@%s,%s/jeton?sslmode=disable&target_session_attrs=read-write",
		e.primary.Host(), e.standby.Host())

	for i := range 3 {
		in, err := newInstance(e, fmt.Sprintf("i%d", i))
		if err != nil {
			t.Fatal(err)
		}
		e.inst = append(e.inst, in)
		t.Cleanup(in.kill)
		// The first migrates; the others find the schema done (goose's lock would
		// serialise them anyway).
		if err := in.start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.seedTenant(ctx)
	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range e.inst {
				t.Logf("--- %s log (tail)\n%s", in.name, tail(in.logPath, 3000))
			}
			t.Logf("--- primary log (tail)\n%s", e.primary.LogTail(3000))
			t.Logf("--- standby log (tail)\n%s", e.standby.LogTail(3000))
		}
	})
	return e
}

// sql runs statements on db of cluster c, failing the test on error.
func (e *env) sql(ctx context.Context, c *pgcluster.Cluster, db, sql string, args ...any) {
	e.t.Helper()
	if err := execSQL(ctx, c, db, sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func execSQL(ctx context.Context, c *pgcluster.Cluster, db, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, c, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// connect opens a connection to db on c, straight to that server.
func connect(ctx context.Context, c *pgcluster.Cluster, db string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, c.URL(db))
}

// bases returns the instances' base URLs.
func (e *env) bases() []string {
	out := make([]string, len(e.inst))
	for i, in := range e.inst {
		out[i] = in.base()
	}
	return out
}

// anyReady returns the base URL of an instance that answers /readyz, waiting for one.
func (e *env) anyReady(ctx context.Context) string {
	for {
		for _, in := range e.inst {
			if in.pid() == 0 {
				continue
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.base()+"/readyz", nil)
			if resp, err := e.http.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return in.base()
				}
			}
		}
		select {
		case <-ctx.Done():
			return e.inst[0].base()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitAllReady waits until every running instance answers /readyz 200, and returns when
// the last one did.
func (e *env) waitAllReady(ctx context.Context) error {
	for _, in := range e.inst {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.base()+"/readyz", nil)
			resp, err := e.http.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not ready: %w", in.name, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	// Past the hang bound the request is a hang: the client gives up a little later, so
	// the record shows the latency of every answer that came.
	return &http.Client{Transport: tr, Timeout: adminTimeout + hangMargin + 5*time.Second}
}

// randomPassword returns 24 letters: long enough for jeton's 15-character minimum.
func randomPassword() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b strings.Builder
	for range 24 {
		b.WriteByte(letters[randIntN(len(letters))])
	}
	return b.String()
}
