package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/jeton-auth/jeton/pgcluster"
)

// Many instances behind one pooler: pooledInstances jeton processes reach PostgreSQL
// through one pgbouncer in transaction mode with at most pooledServerConns server
// connections, against directInstances connected directly, under the same load. The
// machine's two cores run every instance, so the figure is the pooling overhead, not
// scale.
const (
	pooledInstances   = 20
	pooledServerConns = 20
	directInstances   = 2
)

// pooled runs introspection and password logins spread over the instances of each setup
// in turn: many through pgbouncer, as many as connect directly through pgbouncer (what the
// pooler and unprepared statements cost alone), and those directly (report only).
func (b *bench) pooled(ctx context.Context) error {
	u, err := url.Parse(b.server)
	if err != nil {
		return err
	}
	bouncer, err := pgcluster.StartPgbouncer(ctx, pgcluster.PgbouncerOptions{Parent: b.tmp, Upstream: u.Host,
		PoolSize: pooledServerConns})
	if err != nil {
		return err
	}
	defer bouncer.Remove()
	// As docs/OPERATIONS.md (Behind pgbouncer) has it: statements unprepared, LISTEN direct.
	viaBouncer := []string{"JETON_DATABASE_EXEC_MODE=exec", "JETON_LISTEN_DATABASE_URL=" + b.dbURL}
	setups := []struct {
		name, label, dbURL string
		n                  int
		env                []string
	}{
		{"pooled", fmt.Sprintf("%d instances via pgbouncer (%d server conns)", pooledInstances, pooledServerConns),
			bouncer.URL(b.dbName), pooledInstances, viaBouncer},
		{"pooled-few", fmt.Sprintf("%d instances via pgbouncer", directInstances), bouncer.URL(b.dbName), directInstances, viaBouncer},
		{"direct", fmt.Sprintf("%d instances direct", directInstances), b.dbURL, directInstances, nil},
	}
	var got [][]result // per setup: introspection, logins
	for _, st := range setups {
		ps, err := b.instances(ctx, st.name, st.n, st.dbURL, st.env...)
		if err != nil {
			return err
		}
		got = append(got, b.spreadLoads(ctx, st.label, ps))
		stopAll(ps)
	}
	vs := func(r, base []result) string {
		return fmt.Sprintf("introspection %.2f× (%s vs %s req/s, p99 %s vs %s ms), password logins %.2f× (%s vs %s per s)",
			r[0].RPS/base[0].RPS, rate(r[0].RPS), rate(base[0].RPS), ms(r[0].P99), ms(base[0].P99),
			r[1].RPS/base[1].RPS, rate(r[1].RPS), rate(base[1].RPS))
	}
	b.addTarget(fmt.Sprintf("%d instances through one pgbouncer (at most %d server connections) vs %d connected directly, same load",
		pooledInstances, pooledServerConns, directInstances),
		fmt.Sprintf("%s; %d instances through the same pgbouncer: %s; one hashing worker an instance",
			vs(got[0], got[2]), directInstances, vs(got[1], got[2])),
		"report only", "report only")
	return nil
}

// instances starts n jeton instances on dbURL with env, the sweeper off as on the main
// instance and one hashing worker each (by default each would run one per CPU, and
// twenty instances' forty hashes on two cores would each outlast the request timeout);
// on an error it stops those it started.
func (b *bench) instances(ctx context.Context, name string, n int, dbURL string, env ...string) ([]*proc, error) {
	var ps []*proc
	for i := range n {
		p, err := b.startJeton(ctx, fmt.Sprintf("%s-%02d", name, i), dbURL,
			append([]string{"JETON_SWEEP_INTERVAL=0", "JETON_HASH_WORKERS=1"}, env...)...)
		if err != nil {
			stopAll(ps)
			return nil, fmt.Errorf("%s instance %d: %w", name, i, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func stopAll(ps []*proc) {
	for _, p := range ps {
		p.stop()
	}
}

// spreadLoads runs introspection of live tokens, then password logins, each request to a
// random one of ps, and records both results. One after the other: hashing runs at the
// lowest priority, so logins beside a saturating introspection load would measure how
// well they yield, not the pooler.
func (b *bench) spreadLoads(ctx context.Context, suffix string, ps []*proc) []result {
	pick := func(r *rand.Rand) string { return ps[r.IntN(len(ps))].base }
	forms := make([]string, len(b.w.logins))
	for i, l := range b.w.logins {
		forms[i] = b.passwordForm(l)
	}
	loads := []load{
		{name: "introspect-live, " + suffix, concurrency: b.cfg.concurrency,
			build: func(_ int, r *rand.Rand) *http.Request {
				tok, basic := b.w.pickLive(r)
				return formPost(pick(r)+"/introspect", basic, "token="+tok)
			},
			check: statusIs(http.StatusOK, `"active":true`)},
		{name: "password, " + suffix, concurrency: b.cfg.concurrency,
			build: func(w int, r *rand.Rand) *http.Request {
				return formPost(pick(r)+"/token", b.w.app.Basic, forms[w%len(forms)])
			},
			check: statusIs(http.StatusOK, `"access_token":"jat_`)},
	}
	var rs []result
	for _, l := range loads {
		r := runLoads(ctx, b.cfg.warmup, b.cfg.duration, l)[0]
		b.addResult(r)
		rs = append(rs, r)
		// Hashes of requests that timed out may still run: the next load starts on a quiet machine.
		for _, p := range ps {
			quiesce(p, time.Minute)
		}
	}
	return rs
}
