//go:build chaosha

package pgcluster

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestHA runs what the chaos suite's HA form does to a Patroni cluster: a synchronous
// standby that has every commit, the leader's postmaster killed (Patroni starts it
// again), a switchover, and HAProxy following the leader. Built with the chaosha tag
// (make chaos-ha); it fails, never skips, without Patroni, etcd or HAProxy.
func TestHA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h, err := StartHA(ctx, HAOptions{Parent: testParent(t), Parameters: map[string]any{"fsync": "off"}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Remove()
	defer func() {
		if t.Failed() {
			t.Log(h.Logs(3000))
		}
	}()
	leader, err := h.Leader(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	mustExecURL(t, leader.URL("postgres"), "CREATE TABLE t (v int); INSERT INTO t VALUES (1)")

	if pm := leader.KillPostmaster(); pm == 0 {
		t.Fatal("no postmaster to kill")
	}
	if err := h.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	same, err := h.Leader(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	mustExecURL(t, same.URL("postgres"), "INSERT INTO t VALUES (2)")

	proxy, err := h.StartHAProxy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Remove()
	if err := h.Switchover(ctx, same); err != nil {
		t.Fatal(err)
	}
	next, err := h.Leader(ctx, same.Name)
	if err != nil {
		t.Fatal(err)
	}
	if role, err := next.Role(ctx); err != nil || (role != "master" && role != "primary") {
		t.Errorf("%s after the switchover: role %q, %v", next.Name, role, err)
	}
	// Through HAProxy, once it has seen the switchover: the new leader, with every row.
	url := "postgres://postgres@" + proxy.Host() + "/postgres?sslmode=disable&connect_timeout=2"
	for deadline := time.Now().Add(30 * time.Second); !writable(ctx, url); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("HAProxy never reached the new leader")
		}
	}
	mustExecURL(t, url, "INSERT INTO t VALUES (3)")
	var n int
	if err := queryRow(t, next.URL("postgres"), "SELECT count(*) FROM t", &n); err != nil || n != 3 {
		t.Fatalf("the new leader has %d rows (%v), want 3", n, err)
	}
}

func mustExecURL(t *testing.T, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryRow(t *testing.T, url, sql string, dest ...any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dest...)
}
