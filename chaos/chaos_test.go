package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/pgcluster"
)

// TestChaos runs every fault in turn on one deployment (a primary with a synchronous
// standby, three instances), each under load and followed by a checkpoint of the clients'
// records. The failover comes last: it leaves the standby as the only server.
func TestChaos(t *testing.T) {
	cfg := runConfig()
	c := &pair{}
	e := &pairEnv{env: newEnv(t, cfg, c), pair: c}
	defer e.report.write(t, resultsPath(cfg))
	all := e.bases()

	e.phase(t, "baseline", "none: load only", true, all, nil)
	e.phase(t, "restart", fmt.Sprintf("PostgreSQL stopped (fast) for %v, then started", cfg.outage), false, all,
		func(ctx context.Context, p *phase) { e.outage(ctx, p, cfg.outage) })
	e.phase(t, "terminate", fmt.Sprintf("pg_terminate_backend of every jeton connection, %d times", cfg.terminate), false, all,
		e.terminate)
	e.phase(t, "freeze", fmt.Sprintf("PostgreSQL frozen (SIGSTOP) for %v", cfg.freeze), false, all, e.freeze)
	e.phase(t, "standby down", fmt.Sprintf("synchronous standby stopped for %v, then started", cfg.outage), false, all,
		e.standbyDown)
	if *fullFlag {
		e.phase(t, "long outage", fmt.Sprintf("PostgreSQL stopped for %v", cfg.longOut), false, all,
			func(ctx context.Context, p *phase) { e.outage(ctx, p, cfg.longOut) })
	}
	e.phase(t, "instances", "none: revoke, rotate, disable through one instance, check through the others", true, all,
		e.crossInstance)
	px := e.newProxy(t, e.inst[0], e.inst[1])
	t.Cleanup(px.close)
	e.phase(t, "rolling restart", "SIGTERM and restart of two instances in turn, behind a health-checking proxy", true,
		[]string{px.url}, func(ctx context.Context, p *phase) { e.rolling(ctx, p, px) })
	e.phase(t, "failover", "primary crashed (immediate stop), standby promoted", false, all, e.failover)
	e.checkLogs(t)
}

// pairEnv is a run on the suite's own primary and standby, whose faults reach into both.
type pairEnv struct {
	*env
	*pair
}

// phase runs one scenario: load, the fault, load again, then the checkpoint.
func (e *env) phase(t *testing.T, name, fault string, strict bool, targets []string, inject func(context.Context, *phase)) {
	t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
		ctx := context.Background()
		p := newPhase(name, strict)
		wctx, stopWatch := context.WithCancel(ctx)
		watching := e.watchReady(wctx, p)
		l := e.startLoad(p, targets)
		time.Sleep(e.cfg.steady)
		if inject != nil {
			inject(ctx, p)
		}
		time.Sleep(e.cfg.steady)
		l.stop()
		stopWatch()
		watching.Wait()
		e.checkpoint(ctx, p)
		e.checkFeed(ctx, p)
		e.report.finish(t, p, fault)
	})
}

// outage stops PostgreSQL (fast shutdown: backends are terminated) for d and starts it
// again, watching each instance's goroutines and memory meanwhile: they must not grow with
// the outage's length.
func (e *pairEnv) outage(ctx context.Context, p *phase, d time.Duration) {
	before := e.sample()
	p.mark("fault")
	if err := e.primary.Stop(pgcluster.Fast); err != nil {
		p.violate("stop primary: %v", err)
	}
	time.Sleep(d / 4)
	early := e.sample()
	e.checkHealthz(ctx, p)
	time.Sleep(d - d/4)
	late := e.sample()
	if err := e.primary.Start(ctx); err != nil {
		p.violate("start primary: %v", err)
		return
	}
	p.mark("back")
	e.checkWentUnready(p)
	time.Sleep(e.cfg.steady)
	after := e.sample()
	for i, in := range e.inst {
		b, x, y, a := before[i], early[i], late[i], after[i]
		p.note("%s: goroutines %d before, %d a quarter into the outage, %d at its end, %d after; RSS %d, %d, %d, %d MiB",
			in.name, b.goroutines, x.goroutines, y.goroutines, a.goroutines, b.rss>>20, x.rss>>20, y.rss>>20, a.rss>>20)
		// Bounded: no growth between a quarter and the end of the outage beyond what the
		// load's few requests in flight hold, and back near the start after.
		if y.goroutines > x.goroutines+50 || y.goroutines > b.goroutines+200 {
			p.violate("%s: goroutines grew during the outage: %d, %d, %d", in.name, b.goroutines, x.goroutines, y.goroutines)
		}
		if y.rss > b.rss+64<<20 {
			p.violate("%s: RSS grew by %d MiB during the outage", in.name, (y.rss-b.rss)>>20)
		}
		if a.goroutines > b.goroutines+50 {
			p.violate("%s: %d goroutines after recovery, %d before", in.name, a.goroutines, b.goroutines)
		}
	}
}

// checkHealthz: /healthz stays 200 while the database is away.
func (e *env) checkHealthz(ctx context.Context, p *phase) {
	for _, in := range e.inst {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.base()+"/healthz", nil)
		resp, err := e.http.Do(req)
		if err != nil {
			p.violate("%s /healthz during the outage: %v", in.name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			p.violate("%s /healthz during the outage: %d", in.name, resp.StatusCode)
		}
	}
}

// procSample is one instance's goroutines (from its ops listener's pprof) and RSS.
type procSample struct {
	goroutines int
	rss        int64
}

func (e *env) sample() []procSample {
	out := make([]procSample, len(e.inst))
	for i, in := range e.inst {
		if resp, err := e.http.Get("http://" + in.opsAddr + "/debug/pprof/goroutine?debug=1"); err == nil {
			var first string
			buf := make([]byte, 128)
			n, _ := resp.Body.Read(buf)
			resp.Body.Close()
			first, _, _ = strings.Cut(string(buf[:n]), "\n")
			out[i].goroutines, _ = strconv.Atoi(strings.TrimPrefix(first, "goroutine profile: total "))
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", in.pid())); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					kib, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					out[i].rss = kib << 10
				}
			}
		}
	}
	return out
}

// terminate kills every connection of the jeton database with pg_terminate_backend,
// cfg.terminate times, a second apart: jeton's pools and the feed's LISTEN connection
// reconnect by themselves.
func (e *pairEnv) terminate(ctx context.Context, p *phase) {
	const kill = `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = 'jeton' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`
	total := 0
	for i := range e.cfg.terminate {
		if i > 0 {
			time.Sleep(time.Second)
		}
		p.mark("fault")
		p.mark("back")
		n, err := queryInt(ctx, e.primary, "jeton", kill)
		if err != nil {
			p.violate("pg_terminate_backend: %v", err)
		}
		total += n
	}
	p.note("%d backends terminated in %d rounds", total, e.cfg.terminate)
	// The marks of the last round count: recovery is measured from it.
	p.mu.Lock()
	last := p.marks[len(p.marks)-1].at
	p.marks = []mark{{"fault", last}, {"back", last}}
	p.mu.Unlock()
}

// freeze stops every process of the primary (SIGSTOP), as a hung server or a network
// partition would look: connections open, nothing answers. jeton must still answer every
// request within its timeout.
func (e *pairEnv) freeze(ctx context.Context, p *phase) {
	pids := pgcluster.ProcessTree(e.primary.Pid())
	signalAll(pids, syscall.SIGSTOP)
	p.mark("fault")
	defer signalAll(pids, syscall.SIGCONT) // never leave a stopped server behind
	time.Sleep(e.cfg.freeze)
	e.checkHealthz(ctx, p)
	signalAll(pids, syscall.SIGCONT)
	p.mark("back")
	e.checkWentUnready(p)
	p.note("%d PostgreSQL processes frozen", len(pids))
}

// checkWentUnready: every instance's /readyz said 503 at some point of the fault.
func (e *env) checkWentUnready(p *phase) {
	fault, _ := p.markAt("fault")
	back, _ := p.markAt("back")
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range e.inst {
		seen := false
		for i, c := range p.ready[in.name] {
			// Unready at the fault, or became so during it.
			end := back
			if i+1 < len(p.ready[in.name]) {
				end = p.ready[in.name][i+1].at
			}
			if !c.ready && end.After(fault) && c.at.Before(back) {
				seen = true
			}
		}
		if !seen {
			p.violations = append(p.violations, fmt.Sprintf("%s: /readyz never said 503 while the database was away", in.name))
		}
	}
}

// checkLogs: no instance panicked, and none answered 500.
func (e *env) checkLogs(t *testing.T) {
	for _, in := range e.inst {
		b, err := os.ReadFile(in.logPath)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, bad := range []string{`"msg":"panic"`, "panic:", `"status":500`} {
			if n := strings.Count(string(b), bad); n > 0 {
				t.Errorf("%s: %d log lines with %s", in.name, n, bad)
			}
		}
	}
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

// standbyDown stops the synchronous standby: every commit on the primary waits for it, so
// writes answer 503 after the request timeout while reads go on; when it returns, the
// waiting commits complete.
func (e *pairEnv) standbyDown(ctx context.Context, p *phase) {
	p.mark("fault")
	if err := e.standby.Stop(pgcluster.Fast); err != nil {
		p.violate("stop standby: %v", err)
	}
	time.Sleep(e.cfg.outage)
	const waiting = `SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'`
	n, err := queryInt(ctx, e.primary, "postgres", waiting)
	if err != nil {
		p.violate("%s: %v", waiting, err)
	}
	p.note("%d commits waiting for the standby at the end of its outage (requests still within their timeout)", n)
	if err := e.standby.Start(ctx); err != nil {
		p.violate("start standby: %v", err)
		return
	}
	p.mark("back")
}

// failover crashes the primary and promotes the standby: jeton, on its multi-host URL
// with target_session_attrs=read-write, finds the new primary by itself. Synchronous
// replication means nothing acknowledged before the crash is lost: the checkpoint checks
// every token, revocation, disable, password change and secret rotation in the ledger.
func (e *pairEnv) failover(ctx context.Context, p *phase) {
	p.mark("fault")
	if err := e.primary.Stop(pgcluster.Immediate); err != nil {
		p.violate("crash primary: %v", err)
	}
	// The standby inherited synchronous_standby_names; promoted with no standby of its own
	// it would wait forever on every commit.
	for _, sql := range []string{"ALTER SYSTEM SET synchronous_standby_names = ''", "SELECT pg_reload_conf()"} {
		if err := execSQL(ctx, e.standby, "postgres", sql); err != nil {
			p.violate("%s: %v", sql, err)
		}
	}
	if err := e.standby.Promote(ctx); err != nil {
		p.violate("promote: %v", err)
	}
	p.mark("back")
}

// queryInt runs a query returning one integer on db of cluster c.
func queryInt(ctx context.Context, c server, db, sql string) (int, error) {
	conn, err := connect(ctx, c, db)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, sql).Scan(&n)
	return n, err
}
