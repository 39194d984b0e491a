//go:build chaosha

package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/pgcluster"
)

// TestChaosHA is the chaos suite's HA form (make chaos-ha): the same instances, load,
// ledger and report as TestChaos, on three PostgreSQL nodes managed by Patroni over one
// etcd (pgcluster.DCS: ttl 10, loop_wait 1, synchronous_mode, failsafe_mode), once through
// a multi-host URL and once through HAProxy on Patroni's /primary. Each run kills the
// leader's postmaster, switches over with patronictl, stops etcd for longer than the
// leader lock's ttl and restarts the synchronous standby; after each fault the checkpoint
// holds and the instances, never restarted, serve again. Without Patroni, etcd or HAProxy
// it fails, naming what to install.
func TestChaosHA(t *testing.T) {
	for _, v := range []struct {
		name     string
		viaProxy bool
		how      string
	}{
		{"multi-host", false, "a multi-host URL over the three nodes (target_session_attrs=read-write)"},
		{"haproxy", true, "one HAProxy that checks each node's Patroni GET /primary every second"},
	} {
		t.Run(v.name, func(t *testing.T) {
			cfg := haConfig(v.name, v.how)
			c := &haCluster{viaProxy: v.viaProxy}
			e := &haEnv{env: newEnv(t, cfg, c), haCluster: c}
			defer e.report.write(t, haResultsPath(cfg))
			all := e.bases()
			e.phase(t, "baseline", "none: load only", true, all, nil)
			e.phase(t, "leader killed", "kill -9 of the leader's postmaster, Patroni left running", false, all, e.killLeader)
			e.phase(t, "switchover", "patronictl switchover to the synchronous standby", false, all, e.switchover)
			e.phase(t, "etcd down", fmt.Sprintf("etcd stopped for %v (the leader lock's ttl is 10 s; failsafe_mode)",
				e.etcdOutage()), false, all, e.etcdDown)
			e.phase(t, "replica restart", fmt.Sprintf("the synchronous standby (Patroni and PostgreSQL) stopped for %v, then started",
				cfg.outage), false, all, e.replicaRestart)
			e.checkLogs(t)
		})
	}
}

// haConfig is the run's size: the short or the full form's, with longer steady load
// around each fault than the short form's, which leaves the cluster time to settle.
func haConfig(name, how string) config {
	cfg := runConfig()
	cfg.name = "ha-" + name
	cfg.command = "make chaos-ha (go test -tags chaosha -run TestChaosHA ./chaos)"
	cfg.deployment = "PostgreSQL 15: three nodes managed by Patroni 3 over one etcd (ttl 10, loop_wait 1, " +
		"retry_timeout 4, synchronous_mode, failsafe_mode), reached through " + how
	// Three Patroni agents and etcd beside the servers saturate a 2-core machine: hash
	// workers in child processes, at the lowest OS priority, then starve for tens of
	// seconds, and logins answer 503 at the request timeout, even in the baseline, which
	// allows none. In-process hashing competes for the CPU like everything else.
	cfg.instanceEnv = []string{"JETON_HASH_PROCESSES=false"}
	cfg.steady = max(cfg.steady, 5*time.Second)
	cfg.outage = max(cfg.outage, 10*time.Second)
	return cfg
}

// haResultsPath is the run's results file: -chaos.results with the run's name before the
// extension, or the default.
func haResultsPath(cfg config) string {
	if *resultsFlag == "" {
		return resultsPath(cfg)
	}
	ext := filepath.Ext(*resultsFlag)
	return strings.TrimSuffix(*resultsFlag, ext) + "-" + strings.TrimPrefix(cfg.name, "ha-") + ext
}

// haCluster is a Patroni cluster of three nodes over one etcd (pgcluster.StartHA), which
// the instances reach through a multi-host URL or, viaProxy, through HAProxy.
type haCluster struct {
	viaProxy bool
	ha       *pgcluster.HA
	proxy    *pgcluster.HAProxy
}

var _ cluster = (*haCluster)(nil)

func (c *haCluster) start(ctx context.Context, t *testing.T, dir string) (string, error) {
	// The pair's settings, in Patroni's dynamic configuration.
	params := map[string]any{}
	for _, s := range pgSettings {
		k, v, _ := strings.Cut(s, "=")
		params[k] = v
	}
	h, err := pgcluster.StartHA(ctx, pgcluster.HAOptions{Parent: dir, Parameters: params, Logf: t.Logf})
	if err != nil {
		return "", err
	}
	c.ha = h
	t.Cleanup(h.Remove)
	leader, err := h.Leader(ctx, "")
	if err != nil {
		return "", err
	}
	if err := execSQL(ctx, leader, "postgres", "CREATE DATABASE jeton"); err != nil {
		return "", err
	}
	// A replica that has not replayed the new database yet answers 3D000 to a connection,
	// which ends pgx's walk through a multi-host URL: wait until every node has it.
	for _, n := range h.Nodes {
		for execSQL(ctx, n, "jeton", "SELECT 1") != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("%s never had the database jeton: %w", n.Name, ctx.Err())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	hosts := strings.Join(h.Hosts(), ",")
	if c.viaProxy {
		if c.proxy, err = h.StartHAProxy(ctx); err != nil {
			return "", err
		}
		t.Cleanup(c.proxy.Remove)
		hosts = c.proxy.Host()
	}
	return fmt.Sprintf("postgres://postgres@%s/jeton?sslmode=disable&target_session_attrs=read-write", hosts), nil
}

func (c *haCluster) logs(n int) string {
	if c.ha == nil {
		return "" // StartHA failed, with the logs in its error
	}
	return c.ha.Logs(n)
}

// haEnv is a run on a Patroni cluster, whose faults go through Patroni, patronictl and
// etcd.
type haEnv struct {
	*env
	*haCluster
}

// etcdOutage is how long etcd stays down: three times the leader lock's ttl, so that a
// leader without failsafe_mode would have demoted itself well before the end.
func (e *haEnv) etcdOutage() time.Duration {
	return max(e.cfg.longOut, 30*time.Second)
}

// settle waits, after a fault's end, until the cluster is whole again (a writable leader,
// a synchronous standby, every node running), so that the next phase starts from there.
func (e *haEnv) settle(ctx context.Context, p *phase) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := e.ha.WaitHealthy(ctx); err != nil {
		p.violate("the Patroni cluster did not recover: %v", err)
	}
}

// leader returns the node that leads and accepts writes, waiting for one for a while.
func (e *haEnv) leader(ctx context.Context, p *phase, not string) *pgcluster.Node {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	n, err := e.ha.Leader(ctx, not)
	if err != nil {
		p.violate("%v", err)
	}
	return n
}

// killLeader kills the leader's postmaster with SIGKILL and leaves Patroni to handle it:
// it starts PostgreSQL again on the same node, its backends having died with it. The fault
// ends when a leader accepts writes again.
func (e *haEnv) killLeader(ctx context.Context, p *phase) {
	old := e.leader(ctx, p, "")
	if old == nil {
		return
	}
	p.mark("fault")
	if old.KillPostmaster() == 0 {
		p.violate("%s: no postmaster to kill", old.Name)
		return
	}
	// The signal takes a moment: wait until the server refuses, then until one accepts.
	for deadline := time.Now().Add(10 * time.Second); old.Writable(ctx) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	next := e.leader(ctx, p, "")
	if next == nil {
		return
	}
	p.mark("back")
	p.note("leader %s killed; %s leads, accepting writes", old.Name, next.Name)
	e.settle(ctx, p)
}

// switchover hands the leader's role to the synchronous standby with patronictl, as an
// operator does before maintenance. The fault ends when the new leader accepts writes.
func (e *haEnv) switchover(ctx context.Context, p *phase) {
	old := e.leader(ctx, p, "")
	if old == nil {
		return
	}
	p.mark("fault")
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	err := e.ha.Switchover(sctx, old)
	cancel()
	if err != nil {
		p.violate("%v", err)
		return
	}
	next := e.leader(ctx, p, old.Name)
	if next == nil {
		return
	}
	p.mark("back")
	p.note("switched over from %s to %s", old.Name, next.Name)
	e.settle(ctx, p)
}

// etcdDown stops etcd for longer than the leader lock's ttl. With failsafe_mode the leader
// stays primary while every member answers it, so jeton keeps serving: every login and
// introspection during the outage is answered as it is without one (the load's own checks
// and the checkpoint cover revocations), and the leader is still the leader after.
func (e *haEnv) etcdDown(ctx context.Context, p *phase) {
	leader := e.leader(ctx, p, "")
	if leader == nil {
		return
	}
	p.mark("fault")
	if err := e.ha.Etcd.Stop(); err != nil {
		p.violate("stop etcd: %v", err)
	}
	time.Sleep(e.etcdOutage())
	role, err := leader.Role(ctx) // Patroni's own view, without etcd
	if !leader.Writable(ctx) {
		p.violate("%s no longer accepts writes at the end of the etcd outage (Patroni says role %q, %v): "+
			"failsafe_mode should have kept it primary", leader.Name, role, err)
	}
	if err := e.ha.Etcd.Start(ctx); err != nil {
		p.violate("start etcd: %v", err)
		return
	}
	p.mark("back")
	e.checkServedDuring(p, "login", "introspect", "introspect after revoke")
	e.settle(ctx, p)
	if after := e.leader(ctx, p, ""); after != nil {
		p.note("%s led before the etcd outage (Patroni's role at its end: %q) and %s leads after", leader.Name, role, after.Name)
	}
}

// checkServedDuring: every request of ops that started between the fault and its end got
// the answer it would get without a fault, and there was at least one of each.
func (e *haEnv) checkServedDuring(p *phase, ops ...string) {
	fault, _ := p.markAt("fault")
	back, _ := p.markAt("back")
	p.mu.Lock()
	defer p.mu.Unlock()
	served, failed := map[string]int{}, map[string]int{}
	for _, r := range p.recs {
		if r.start.Before(fault) || r.start.After(back) {
			continue
		}
		if r.class == ok {
			served[r.op]++
		} else {
			failed[r.op]++
		}
	}
	var counts []string
	for _, op := range ops {
		counts = append(counts, fmt.Sprintf("%s %d", op, served[op]))
		if failed[op] > 0 || served[op] == 0 {
			p.violations = append(p.violations, fmt.Sprintf("during the outage: %d %s requests answered, %d failed",
				served[op], op, failed[op]))
		}
	}
	p.notes = append(p.notes, "answered during the outage: "+strings.Join(counts, ", "))
}

// replicaRestart stops the synchronous standby's Patroni (which stops its PostgreSQL) for
// cfg.outage and starts it again: Patroni makes the other replica synchronous meanwhile,
// commits waiting for the standby until then. The fault ends when the cluster is whole.
func (e *haEnv) replicaRestart(ctx context.Context, p *phase) {
	var standby *pgcluster.Node
	if ms, err := e.ha.Members(ctx); err == nil {
		for _, m := range ms {
			if m.Role == "sync_standby" {
				standby = e.ha.Node(m.Name)
			}
		}
	}
	if standby == nil {
		p.violate("no synchronous standby to restart")
		return
	}
	p.mark("fault")
	if err := standby.Stop(); err != nil {
		p.violate("stop %s: %v", standby.Name, err)
	}
	time.Sleep(e.cfg.outage)
	if err := standby.Start(); err != nil {
		p.violate("start %s: %v", standby.Name, err)
		return
	}
	e.settle(ctx, p)
	p.mark("back")
	p.note("%s (the synchronous standby) stopped and started again", standby.Name)
}
