package dbtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestParallelTestsGetSeparateMigratedDatabases(t *testing.T) {
	names := make([]string, 2)
	t.Run("group", func(t *testing.T) {
		for i := range names {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				pool := New(t)
				names[i] = mustCurrentDatabase(t, pool)
				var hasTenants bool
				if err := pool.QueryRow(t.Context(), `SELECT to_regclass('public.tenants') IS NOT NULL`).Scan(&hasTenants); err != nil {
					t.Fatal(err)
				}
				if !hasTenants {
					t.Errorf("database %s has no tenants table", names[i])
				}
				// Fails in whichever test runs second if the two share a database.
				if _, err := pool.Exec(t.Context(), `CREATE TABLE dbtest_probe (id int)`); err != nil {
					t.Errorf("create probe table in %s: %v", names[i], err)
				}
				if got := pool.Config().MaxConns; got != maxConns {
					t.Errorf("MaxConns = %d, want %d", got, maxConns)
				}
			})
		}
	})
	if names[0] == "" || names[0] == names[1] {
		t.Errorf("databases = %q, want two distinct names", names)
	}
}

func TestDatabaseDroppedAfterCleanup(t *testing.T) {
	var name string
	t.Run("sub", func(t *testing.T) {
		// A connection still open when the database is dropped must not keep it alive:
		// registered first, this cleanup closes it only after the drop.
		var straggler *pgx.Conn
		t.Cleanup(func() {
			if straggler != nil {
				straggler.Close(context.Background())
			}
		})
		pool := New(t)
		name = mustCurrentDatabase(t, pool)
		var err error
		straggler, err = pgx.ConnectConfig(t.Context(), pool.Config().ConnConfig.Copy())
		if err != nil {
			t.Fatal(err)
		}
	})
	if name == "" {
		t.Fatal("subtest did not report its database")
	}
	if mustDatabaseExists(t, name) {
		t.Errorf("database %s still exists after its test's cleanup", name)
	}
}

func TestNewURLConnectsToItsOwnDatabase(t *testing.T) {
	url := NewURL(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var name string
	if err := conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, testPrefix) {
		t.Errorf("NewURL connects to %q, want a %s* database", name, testPrefix)
	}
}

func TestTemplateIsClosedToConnections(t *testing.T) {
	mustSetup(t)
	var isTemplate, allowConn bool
	const q = `SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1`
	if err := srv.admin.QueryRow(t.Context(), q, srv.template).Scan(&isTemplate, &allowConn); err != nil {
		t.Fatalf("look up template %s: %v", srv.template, err)
	}
	if !isTemplate || allowConn {
		t.Errorf("template %s: datistemplate=%v datallowconn=%v, want true, false", srv.template, isTemplate, allowConn)
	}
	if mustDatabaseExists(t, srv.template+buildingSuffix) {
		t.Errorf("unfinished template %s left behind", srv.template+buildingSuffix)
	}
}

func TestSweepDropsOnlyStaleRuns(t *testing.T) {
	mustSetup(t)
	now := time.Now()
	// Named like another run's databases, made unique by this process's pid and sequence.
	stale := fmt.Sprintf("%s%d_%d_%d", testPrefix, now.Add(-2*time.Hour).Unix(), os.Getpid(), dbSeq.Add(1))
	fresh := fmt.Sprintf("%s%d_%d_%d", testPrefix, now.Add(-time.Minute).Unix(), os.Getpid(), dbSeq.Add(1))
	for _, name := range []string{stale, fresh} {
		if _, err := srv.admin.Exec(t.Context(), "CREATE DATABASE "+ident(name)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := dropDatabase(context.Background(), srv.admin, name); err != nil {
				t.Error(err)
			}
		})
	}
	conn, err := pgx.Connect(t.Context(), srv.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	if err := sweep(t.Context(), conn, now); err != nil {
		t.Fatal(err)
	}
	if mustDatabaseExists(t, stale) {
		t.Errorf("stale %s survived the sweep", stale)
	}
	if !mustDatabaseExists(t, fresh) {
		t.Errorf("fresh %s was swept", fresh)
	}
}

func TestStaleDatabases(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	old := now.Add(-staleAfter - time.Second).Unix()
	recent := now.Add(-staleAfter + time.Second).Unix()
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{
			name:  "older than an hour",
			names: []string{fmt.Sprintf("jeton_test_%d_42_1", old), fmt.Sprintf("jeton_test_%d_42_7", old)},
			want:  []string{fmt.Sprintf("jeton_test_%d_42_1", old), fmt.Sprintf("jeton_test_%d_42_7", old)},
		},
		{
			name:  "within the hour",
			names: []string{fmt.Sprintf("jeton_test_%d_42_1", recent)},
		},
		{
			name:  "not ours or unparseable",
			names: []string{"postgres", "jeton_test_", "jeton_test_abc_1_1", "jeton_tpl_0123456789abcdef", "jeton_test_12"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, staleDatabases(tt.names, now)); diff != "" {
				t.Errorf("staleDatabases() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func mustSetup(t *testing.T) {
	t.Helper()
	setupOnce.Do(setup)
	if srv.err != nil {
		t.Fatalf("dbtest: %v", srv.err)
	}
}

func mustCurrentDatabase(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var name string
	if err := pool.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func mustDatabaseExists(t *testing.T, name string) bool {
	t.Helper()
	mustSetup(t)
	var ok bool
	const q = `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`
	if err := srv.admin.QueryRow(t.Context(), q, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestWithExecMode(t *testing.T) {
	tests := []struct {
		name, url, mode, want string
		wantErr               bool
	}{
		{name: "unset keeps the URL", url: "postgres://h/d?sslmode=disable", want: "postgres://h/d?sslmode=disable"},
		{name: "URL", url: "postgres://h/d?sslmode=disable", mode: "exec",
			want: "postgres://h/d?default_query_exec_mode=exec&sslmode=disable"},
		{name: "URL's own mode replaced", url: "postgres://h/d?default_query_exec_mode=exec", mode: "simple_protocol",
			want: "postgres://h/d?default_query_exec_mode=simple_protocol"},
		{name: "DSN", url: "host=h dbname=d", mode: "cache_describe",
			want: "host=h dbname=d default_query_exec_mode=cache_describe"},
		{name: "unknown mode", url: "postgres://h/d", mode: "simple", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := withExecMode(tt.url, tt.mode)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("withExecMode(%q, %q) = %q, %v; want %q, error %v", tt.url, tt.mode, got, err, tt.want, tt.wantErr)
			}
			if err != nil {
				return
			}
			// What pgx makes of it is the mode asked for.
			cfg, err := pgx.ParseConfig(got)
			if err != nil {
				t.Fatal(err)
			}
			// QueryExecMode's String spells cache_describe "cache describe".
			if got := strings.ReplaceAll(cfg.DefaultQueryExecMode.String(), " ", "_"); tt.mode != "" && got != tt.mode {
				t.Errorf("pgx parses mode %s, want %s", got, tt.mode)
			}
		})
	}
}
