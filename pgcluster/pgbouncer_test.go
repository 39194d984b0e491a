package pgcluster

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPgbouncer starts a pgbouncer with one server connection per pool in front of a
// cluster of its own. It pools by transaction: two clients connected at once both get
// answers, from the same backend, which session pooling would not give the second one
// while the first stays connected. A database created after pgbouncer started is reachable
// through it. It fails, never skips, without pgbouncer or the server binaries.
func TestPgbouncer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	parent := testParent(t)
	c, err := Init(ctx, Options{Parent: parent, Settings: []string{"fsync=off"}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	pgb, err := StartPgbouncer(ctx, PgbouncerOptions{Parent: parent, Upstream: c.Host(), PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pgb.Remove()
	mustExec(t, c, "CREATE DATABASE later")

	var pids [2]int32
	for i := range pids {
		conn, err := pgx.Connect(ctx, pgb.URL("later"))
		if err != nil {
			t.Fatalf("client %d: %v\n%s", i, err, pgb.LogTail(2000))
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pids[i]); err != nil {
			t.Fatalf("client %d: %v\n%s", i, err, pgb.LogTail(2000))
		}
	}
	if pids[0] != pids[1] {
		t.Errorf("backends %v: want one, shared by transaction", pids)
	}
}
