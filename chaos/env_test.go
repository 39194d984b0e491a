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
	t      *testing.T
	cfg    config
	dir    string
	bin    string
	dbURL  string // the URL the instances use
	inst   []*instance
	http   *http.Client
	seed   seed
	ledger *ledger
	report *report
}

// pgSettings are the clusters' command-line settings. fsync is off: the suite kills
// processes, never the machine, so the operating system's cache keeps what PostgreSQL
// wrote, and the 2-core CI box is spared the flushes. Durability across the failover comes
// from synchronous replication, which does not depend on fsync.
var pgSettings = []string{"fsync=off", "max_connections=200", "wal_retrieve_retry_interval=500ms",
	"log_min_messages=warning", "log_connections=off"}

// cluster is the PostgreSQL deployment under a run: the suite's own primary and
// synchronous standby (pair), or three Patroni nodes (haCluster, the HA form).
type cluster interface {
	// start brings it up under dir with an empty database called jeton, registering its
	// removal with t.Cleanup, and returns the URL the instances are given.
	start(ctx context.Context, t *testing.T, dir string) (string, error)
	// logs returns the last n bytes of each server's log.
	logs(n int) string
}

// pair is a primary with one synchronous streaming standby, both run by the suite, reached
// through a multi-host URL (target_session_attrs=read-write).
type pair struct {
	primary *pgcluster.Cluster
	standby *pgcluster.Cluster
}

var _ cluster = (*pair)(nil)

func (c *pair) start(ctx context.Context, t *testing.T, dir string) (string, error) {
	var err error
	c.primary, err = pgcluster.Init(ctx, pgcluster.Options{Parent: dir, Settings: pgSettings, Logf: t.Logf})
	if err != nil {
		return "", err
	}
	t.Cleanup(c.primary.Remove)
	// In postgresql.auto.conf, where the standby inherits it (pg_basebackup copies it) as it
	// would inherit an identical postgresql.conf; it must be cleared there before promotion.
	for _, sql := range []string{"ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()"} {
		if err := execSQL(ctx, c.primary, "postgres", sql); err != nil {
			return "", fmt.Errorf("%s: %w", sql, err)
		}
	}
	c.standby, err = c.primary.Standby(ctx, pgcluster.Options{Parent: dir, Settings: pgSettings, Logf: t.Logf})
	if err != nil {
		return "", err
	}
	t.Cleanup(c.standby.Remove)
	if err := execSQL(ctx, c.primary, "postgres", "CREATE DATABASE jeton"); err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://postgres@%s,%s/jeton?sslmode=disable&target_session_attrs=read-write",
		c.primary.Host(), c.standby.Host()), nil
}

func (c *pair) logs(n int) string {
	if c.standby == nil {
		return "" // start failed, and said why
	}
	return fmt.Sprintf("--- primary log (tail)\n%s\n--- standby log (tail)\n%s", c.primary.LogTail(n), c.standby.LogTail(n))
}

// newEnv starts db and three instances on it, and seeds the tenant.
func newEnv(t *testing.T, cfg config, db cluster) *env {
	t.Helper()
	needBinaries(t)
	e := &env{t: t, cfg: cfg, dir: suiteDir(t), ledger: newLedger(), report: newReport(cfg)}
	e.bin = buildJeton(t, e.dir)
	e.http = newHTTPClient()
	// A Patroni cluster on a busy 2-core machine may take minutes to bootstrap.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var err error
	if e.dbURL, err = db.start(ctx, t, e.dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s", db.logs(3000))
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range e.inst {
				t.Logf("--- %s log (tail)\n%s", in.name, tail(in.logPath, 3000))
			}
		}
	})
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
	return e
}

// server is one PostgreSQL server the suite talks to directly: a *pgcluster.Cluster or a
// Patroni *pgcluster.Node.
type server interface {
	URL(db string) string
}

func execSQL(ctx context.Context, c server, db, sql string, args ...any) error {
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
func connect(ctx context.Context, c server, db string) (*pgx.Conn, error) {
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
