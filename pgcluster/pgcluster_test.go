package pgcluster

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPrimaryStandbyPromote runs the life a chaos test gives a pair of clusters: a primary,
// a synchronous standby that sees its commits, a restart, a crash of the primary and the
// promotion of the standby, which then takes writes. It fails, never skips, without the
// server binaries.
func TestPrimaryStandbyPromote(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	parent := testParent(t)
	primary, err := Init(ctx, Options{Parent: parent, Settings: []string{"fsync=off"}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Remove()
	mustExec(t, primary, "ALTER SYSTEM SET synchronous_standby_names = '*'")
	mustExec(t, primary, "SELECT pg_reload_conf()")
	standby, err := primary.Standby(ctx, Options{Parent: parent, Settings: []string{"fsync=off"}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Remove()

	// Synchronous: the commit returns once the standby has flushed it; it shows there
	// once replayed, a moment later.
	mustExec(t, primary, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
	for deadline := time.Now().Add(10 * time.Second); rows(standby) != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the standby never showed the primary's row")
		}
	}

	if err := primary.Stop(Fast); err != nil {
		t.Fatal(err)
	}
	if primary.Running() {
		t.Fatal("Running after Stop")
	}
	if err := primary.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, primary, "INSERT INTO t VALUES (2)")

	if err := primary.Stop(Immediate); err != nil {
		t.Fatal(err)
	}
	// The standby inherited synchronous_standby_names; promoted without a standby of its
	// own it would wait forever on every commit.
	mustExec(t, standby, "ALTER SYSTEM SET synchronous_standby_names = ''")
	mustExec(t, standby, "SELECT pg_reload_conf()")
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, standby, "INSERT INTO t VALUES (3)")
	if got := rows(standby); got != 3 {
		t.Fatalf("promoted standby has %d rows, want 3", got)
	}
}

func mustExec(t *testing.T, c *Cluster, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// rows counts t's rows on c, or returns -1 when it cannot.
func rows(c *Cluster) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return -1
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		return -1
	}
	return n
}

// testParent returns a directory for a test's clusters, removed at its end. Not
// t.TempDir(): its 0700 parent keeps the postgres user out.
func testParent(t *testing.T) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	return parent
}
