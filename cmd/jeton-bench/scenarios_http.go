package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/tokens"
)

// pickLive returns a random live token and the Basic header of its tenant's resource
// server: from the main tenant's introspectable range, and from the other tenants once
// they are seeded.
func (w *world) pickLive(r *rand.Rand) (string, string) {
	n := w.revokeFrom
	if w.extraReady {
		n += w.extraTokens
	}
	i := r.Int64N(n)
	if i < w.revokeFrom {
		return w.live.token(tokens.Access, uint64(i)), w.rs.Basic
	}
	j := i - w.revokeFrom
	return w.live.token(tokens.Access, uint64(w.mainTokens+j)), w.extra[j%int64(len(w.extra))].Basic
}

// rsBasic returns a random tenant's resource server, for tokens of no tenant.
func (w *world) rsBasic(r *rand.Rand) string {
	if !w.extraReady || r.IntN(10) == 0 {
		return w.rs.Basic
	}
	return w.extra[r.IntN(len(w.extra))].Basic
}

func (b *bench) introspectLoad(name, base string, pick func(r *rand.Rand) (string, string), active bool) load {
	want := `"active":false`
	if active {
		want = `"active":true`
	}
	return load{name: name, concurrency: b.cfg.concurrency,
		build: func(_ int, r *rand.Rand) *http.Request {
			tok, basic := pick(r)
			return formPost(base+"/introspect", basic, "token="+tok)
		},
		check: statusIs(http.StatusOK, want)}
}

func (b *bench) pickUnknown(r *rand.Rand) (string, string) {
	g := tokenGen{seed: b.cfg.seed, stream: "unknown"}
	return g.token(tokens.Access, r.Uint64()), b.w.rsBasic(r)
}

func (b *bench) pickMalformed(r *rand.Rand) (string, string) {
	return malformedToken(r.Uint64N(1 << 20)), b.w.rsBasic(r)
}

// introspect measures jeton's /introspect on live, unknown and malformed tokens, profiles
// jeton during the live run, then the naive handler on the same tokens with as many
// database connections as jeton was seen to use.
func (b *bench) introspect(ctx context.Context) error {
	b.introspectRuns(ctx, "", b.w.pickLive)
	return nil
}

// introspectRuns is the introspection scenario; suffix names the table size variant.
func (b *bench) introspectRuns(ctx context.Context, suffix string, pickLive func(*rand.Rand) (string, string)) {
	base := b.main.base
	sampled := b.samplePool(ctx)
	var prof func() section
	if suffix == "" {
		prof = b.startProfile(ctx)
	}
	// jeton and the naive handler alternate, so drift in the shared machine's load hits both.
	live := runLoads(ctx, b.cfg.warmup, b.cfg.duration, b.introspectLoad("introspect-live"+suffix, base, pickLive, true))[0]
	if n := sampled(); n > 0 && suffix == "" {
		b.poolSize, b.poolSeen = n, true
	}
	if prof != nil {
		b.profile = prof()
	}
	b.addResult(live)
	naive, err := b.startCeiling(ctx, "naive")
	if err != nil {
		b.note("naive ceiling: %v", err)
		return
	}
	defer naive.stop()
	nl := runLoads(ctx, b.cfg.warmup, b.cfg.duration, b.introspectLoad("ceiling: naive live"+suffix, naive.base, pickLive, true))[0]
	b.addResult(nl)
	unknown := runLoads(ctx, b.cfg.warmup, b.cfg.duration, b.introspectLoad("introspect-unknown"+suffix, base, b.pickUnknown, false))[0]
	b.addResult(unknown)
	nu := runLoads(ctx, b.cfg.warmup, b.cfg.duration, b.introspectLoad("ceiling: naive unknown"+suffix, naive.base, b.pickUnknown, false))[0]
	b.addResult(nu)
	if suffix == "" {
		b.addResult(runLoads(ctx, b.cfg.warmup, b.cfg.duration, b.introspectLoad("introspect-malformed", base, b.pickMalformed, false))[0])
	}
	for _, p := range []struct{ j, n result }{{live, nl}, {unknown, nu}} {
		ratio := p.j.RPS / p.n.RPS
		b.addTarget(p.j.Name+" vs naive handler",
			fmt.Sprintf("%.2f× throughput (%s vs %s req/s), p99 %s vs %s ms", ratio, rate(p.j.RPS), rate(p.n.RPS), ms(p.j.P99), ms(p.n.P99)),
			"≥ 1.2× throughput, p99 ≤ naive p99", metStr(p.j.OK > 0 && ratio >= 1.2 && p.j.P99 <= p.n.P99 && p.j.Errors == 0))
	}
}

// samplePool watches how many connections jeton holds while a load runs, and returns a
// function that stops watching and reports the most it saw. The revocation feed's LISTEN
// connection runs no queries, so it is not counted: the ceilings get the query connections.
func (b *bench) samplePool(ctx context.Context) func() int {
	ctx, cancel := context.WithCancel(ctx)
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var n int64
			if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND backend_type = 'client backend'
				  AND application_name NOT LIKE 'jeton-bench%' AND query NOT LIKE 'LISTEN %'`).Scan(&n); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() int {
		cancel()
		<-done
		return int(peak.Load())
	}
}

// jetonPool is the number of connections jeton was seen to use for introspection, else
// pgxpool's default, max(4, NumCPU), which jeton's shipped configuration uses.
func (b *bench) jetonPool() int {
	if b.poolSize > 0 {
		return b.poolSize
	}
	return max(4, runtime.NumCPU())
}

// startProfile starts a CPU profile covering the measured window: jeton's own, from its
// --ops-addr pprof endpoint when it has one, else (and then said so) the bench process's.
func (b *bench) startProfile(ctx context.Context) func() section {
	file := filepath.Join(b.tmp, "cpu.pprof")
	done := make(chan string, 1)
	go func() {
		select {
		case <-ctx.Done():
			done <- "cancelled"
			return
		case <-time.After(b.cfg.warmup):
		}
		secs := max(int(b.cfg.duration.Seconds()), 1)
		if b.main.opsBase != "" {
			done <- fetchProfile(ctx, b.main.opsBase+fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), file)
			return
		}
		f, err := os.Create(file)
		if err != nil {
			done <- err.Error()
			return
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			done <- err.Error()
			return
		}
		time.Sleep(time.Duration(secs) * time.Second)
		pprof.StopCPUProfile()
		done <- ""
	}()
	return func() section {
		title := "CPU profile of jeton during introspect-live (top 15)"
		bin := b.jetonBin
		if b.main.opsBase == "" {
			title = "CPU profile of the load generator during introspect-live (top 15)"
			bin, _ = osExecutable()
		}
		if msg := <-done; msg != "" {
			return section{title, "no profile: " + msg}
		}
		out, err := execCommandOutput(ctx, "go", "tool", "pprof", "-top", "-nodecount=15", bin, file)
		if err != nil {
			return section{title, fmt.Sprintf("go tool pprof: %v", err)}
		}
		body := "```\n" + topLines(string(out), 15) + "```"
		if b.main.opsBase == "" {
			body = "this jeton has no pprof endpoint (no `--ops-addr`), so this is the " +
				"bench's own process (the load generator), not jeton. It shows what the client side costs " +
				"on the cores it shares with jeton.\n\n" + body
		}
		return section{title, body}
	}
}

func fetchProfile(ctx context.Context, url, file string) string {
	client := &http.Client{Timeout: 5 * time.Minute}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("status %d %v", resp.StatusCode, err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return err.Error()
	}
	return ""
}

// topLines keeps pprof -top's header and its first n rows.
func topLines(out string, n int) string {
	var sb strings.Builder
	rows := 0
	inRows := false
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if inRows {
			if rows == n {
				break
			}
			rows++
		}
		if strings.Contains(l, "flat%") {
			inRows = true
		}
		sb.WriteString(l + "\n")
	}
	return sb.String()
}

// clientCredentials measures client_credentials issuance against the writes ceiling.
func (b *bench) clientCredentials(ctx context.Context) error {
	mk := func(name, base, basic string) load {
		return load{name: name, concurrency: b.cfg.concurrency,
			build: func(int, *rand.Rand) *http.Request {
				return formPost(base+"/token", basic, "grant_type=client_credentials")
			},
			check: statusIs(http.StatusOK, `"access_token":"jat_`)}
	}
	j := runLoads(ctx, b.cfg.warmup, b.cfg.duration, mk("client_credentials", b.main.base, b.w.svc.Basic))[0]
	b.addResult(j)
	c, err := b.startCeiling(ctx, "writes", "--tenant", b.w.tenantID.String(), "--client", b.w.svc.ID)
	if err != nil {
		return err
	}
	defer c.stop()
	ceil := runLoads(ctx, b.cfg.warmup, b.cfg.duration, mk("ceiling: token+event insert", c.base, ""))[0]
	b.addResult(ceil)
	ratio := j.RPS / ceil.RPS
	b.addTarget("client_credentials vs its writes", fmt.Sprintf("%.2f× (%s vs %s req/s)", ratio, rate(j.RPS), rate(ceil.RPS)),
		"≥ 0.7×", metStr(ratio >= 0.7 && j.Errors == 0))
	return nil
}

func (b *bench) passwordForm(l login) string {
	return "grant_type=password&username=" + l.Username + "&password=" + strings.ReplaceAll(l.Password, " ", "+")
}

// passwordGrant measures the password grant against the raw argon2id rate.
func (b *bench) passwordGrant(ctx context.Context) error {
	p := service.DefaultConfig().Hash
	before, err := b.argon2Ceiling(ctx, p.Memory, p.Time, p.Threads)
	if err != nil {
		return err
	}
	forms := make([]string, len(b.w.logins))
	for i, l := range b.w.logins {
		forms[i] = b.passwordForm(l)
	}
	j := runLoads(ctx, b.cfg.warmup, b.cfg.duration, load{name: "password", concurrency: b.cfg.concurrency,
		build: func(w int, _ *rand.Rand) *http.Request {
			return formPost(b.main.base+"/token", b.w.app.Basic, forms[w%len(forms)])
		},
		check: statusIs(http.StatusOK, `"access_token":"jat_`)})[0]
	b.addResult(j)
	if waited := quiesce(b.main, 2*time.Minute); waited > 2*time.Second {
		b.note("before the argon2id ceiling, jeton kept hashing for %v after the password load stopped (requests whose clients had gone)", waited.Round(time.Second))
	}
	// The ceiling is measured before and after jeton's run, which is the best of the two:
	// the machine is shared, and a ceiling is what it allows.
	after, err := b.argon2Ceiling(ctx, p.Memory, p.Time, p.Threads)
	if err != nil {
		return err
	}
	rps := max(before, after)
	b.addResult(result{Name: "ceiling: raw argon2id", Concurrency: runtime.NumCPU(), Window: b.cfg.duration, RPS: rps,
		Statuses: map[int]int64{}})
	b.logf("argon2id ceiling: %s/s before, %s/s after the password scenario", rate(before), rate(after))
	ratio := j.RPS / rps
	b.addTarget("password grant vs raw argon2id", fmt.Sprintf("%.2f× (%s vs %s per s, m=%d t=%d p=%d; the raw rate was %s and %s per s before and after)",
		ratio, rate(j.RPS), rate(rps), p.Memory, p.Time, p.Threads, rate(before), rate(after)), "≥ 0.9×", metStr(ratio >= 0.9))
	return nil
}

// refresh measures refresh-token rotation: each worker follows its own chain, started by a
// password-grant login.
func (b *bench) refresh(ctx context.Context) error {
	n := b.cfg.concurrency
	chains := make([]string, n)
	client := &http.Client{Timeout: 60 * time.Second}
	sem := make(chan struct{}, runtime.NumCPU())
	errs := make(chan error, n)
	for w := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			req := formPost(b.main.base+"/token", b.w.app.Basic, b.passwordForm(b.w.logins[w%len(b.w.logins)]))
			status, body, err := do(client, req.WithContext(ctx), nil)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("login: %d %s", status, body)
			}
			if err == nil {
				chains[w] = field(body, "refresh_token")
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			return err
		}
	}
	r := runLoads(ctx, b.cfg.warmup, b.cfg.duration, load{name: "refresh", concurrency: n,
		build: func(w int, _ *rand.Rand) *http.Request {
			return formPost(b.main.base+"/token", b.w.app.Basic, "grant_type=refresh_token&refresh_token="+chains[w])
		},
		check: func(w, status int, body []byte) bool {
			if status != http.StatusOK {
				return false
			}
			chains[w] = field(body, "refresh_token")
			return chains[w] != ""
		}})[0]
	b.addResult(r)
	return nil
}

// field extracts a JSON string member from a flat object without a full decode.
func field(body []byte, name string) string {
	key := []byte(`"` + name + `":"`)
	i := bytes.Index(body, key)
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// revoke measures /revoke of distinct live access tokens, by the client they were issued to.
func (b *bench) revoke(ctx context.Context) error {
	var next atomic.Int64
	next.Store(b.w.revokeFrom)
	r := runLoads(ctx, b.cfg.warmup, b.cfg.duration, load{name: "revoke", concurrency: b.cfg.concurrency,
		build: func(int, *rand.Rand) *http.Request {
			i := next.Add(1) - 1
			if i >= b.w.mainTokens {
				i = b.w.revokeFrom + (i-b.w.revokeFrom)%(b.w.mainTokens-b.w.revokeFrom)
			}
			return formPost(b.main.base+"/revoke", b.w.app.Basic, "token="+b.w.live.token(tokens.Access, uint64(i)))
		},
		check: statusIs(http.StatusOK)})[0]
	b.addResult(r)
	if used := next.Load() - b.w.revokeFrom; used > b.w.mainTokens-b.w.revokeFrom {
		b.note("revoke ran out of reserved tokens after %d; the rest revoked already revoked tokens", b.w.mainTokens-b.w.revokeFrom)
	}
	return nil
}

// floodIP is the n-th address of the flood, sent as X-Forwarded-For through the trusted
// loopback proxy, so no single address or username reaches a throttle: the flood tests
// the hashing pool, not the throttles.
func floodIP(n int64) string {
	return fmt.Sprintf("10.%d.%d.%d", (n>>16)&255, (n>>8)&255, n&255)
}
