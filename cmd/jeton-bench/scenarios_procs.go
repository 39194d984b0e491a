package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

// rssCap is where the bench kills a jeton whose memory runs away (argon2id without a
// bounded pool needs m per concurrent login), before it takes the machine down.
func rssCap() int64 {
	total := memTotalKiB()
	if total <= 0 {
		return 6 << 20
	}
	return min(6<<20, total*2/5)
}

// peakRSS is what watchRSS saw: the peak of jeton and its children together (sampled, and
// the sum of their high-water marks: an upper bound), the high-water marks of jeton alone
// and of its children (summed) at the end, and, sampled every 5 ms, the peak of their RSS
// summed and of their memory with the binary's shared pages counted once (proc.memory),
// which compare with each other; the high-water marks can be higher than any sample.
type peakRSS struct {
	total, own, children int64
	sampled, once        int64
	killed               bool
}

// String gives the peak with its parts: "T (jeton O, hashing processes C; sampled: S, M
// with the binary's shared pages counted once)", each in MiB.
func (p peakRSS) String() string {
	return fmt.Sprintf("%s (jeton %s, hashing processes %s; sampled: %s, %s with the binary's shared pages counted once)",
		mib(p.total), mib(p.own), mib(p.children), mib(p.sampled), mib(p.once))
}

// watchRSS samples p's RSS every 5 ms until the returned function is called, killing p if
// it passes rssCap. The high-water marks of p and its children are reset first, so that
// the peak is this window's, not start-up's (the dummy hash) or an earlier scenario's.
func watchRSS(p *proc) func() peakRSS {
	p.resetPeak()
	stop := make(chan struct{})
	var peak, sampled, once atomic.Int64
	var killed atomic.Bool
	done := make(chan struct{})
	limit := rssCap()
	go func() {
		defer close(done)
		for {
			rss, hwm, o, err := p.memory()
			if err == nil {
				peak.Store(max(peak.Load(), rss, hwm))
				sampled.Store(max(sampled.Load(), rss))
				once.Store(max(once.Load(), o))
				if rss > limit && !killed.Load() {
					killed.Store(true)
					_ = p.cmd.Process.Kill()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() peakRSS {
		close(stop)
		<-done
		r := peakRSS{total: peak.Load(), sampled: sampled.Load(), once: once.Load(), killed: killed.Load()}
		if m, err := pidMemory(p.cmd.Process.Pid); err == nil {
			r.own = m.hwm
		}
		for _, pid := range p.children() {
			if m, err := pidMemory(pid); err == nil {
				r.children += m.hwm
			}
		}
		return r
	}
}

// flood measures introspection while a flood of failed logins (unknown usernames, a new
// forwarded address each) hits /token from b.cfg.flood concurrent clients: the closed
// loop against the unloaded one (the target: what a machine kept busy by requests loses
// to the flood), then a fixed rate of a quarter of the unloaded throughput against the
// same rate unloaded (what a resource server sending steady traffic sees).
func (b *bench) flood(ctx context.Context) error {
	// The unloaded figure is measured here, just before the flood, not taken from the
	// introspect scenario minutes earlier: on a shared machine the p99 drifts between
	// scenarios by more than the target's margin.
	unloaded := runLoads(ctx, b.cfg.warmup, b.cfg.duration, b.introspectLoad("introspect-live (unloaded, before the flood)", b.main.base, b.w.pickLive, true))[0]
	b.addResult(unloaded)
	in, fl, peak, err := b.underFlood(ctx, b.introspectLoad("introspect-live during flood", b.main.base, b.w.pickLive, true))
	if err != nil || b.floodKilled(peak) {
		return err
	}
	b.addResult(in)
	b.addResult(fl)
	ratio := float64(in.P99) / float64(unloaded.P99)
	b.addTarget(fmt.Sprintf("introspect p99 during a %d-login flood", b.cfg.flood),
		fmt.Sprintf("%.2f× (%s vs %s ms unloaded; throughput %.2f× the unloaded; flood answers %s; peak RSS %s)", ratio, ms(in.P99),
			ms(unloaded.P99), in.RPS/unloaded.RPS, statusList(fl.Statuses), peak),
		"≤ 1.5×", metStr(in.OK > 0 && ratio <= 1.5 && in.Errors == 0))

	besideName := fmt.Sprintf("introspect p99 beside %d busy hashing processes, no flood", workers())
	if beside, hashRate, err := b.besideHashing(ctx, b.introspectLoad("introspect-live beside hashing", b.main.base, b.w.pickLive, true)); err != nil {
		b.addTarget(besideName, err.Error(), "report only", "report only")
	} else {
		b.addResult(beside)
		b.addTarget(besideName, fmt.Sprintf("%.2f× (%s vs %s ms unloaded; throughput %.2f× the unloaded; %.1f hashes/s)",
			float64(beside.P99)/float64(unloaded.P99), ms(beside.P99), ms(unloaded.P99), beside.RPS/unloaded.RPS, hashRate),
			"report only", "report only")
	}

	paced := b.introspectLoad("introspect-live, fixed rate", b.main.base, b.w.pickLive, true)
	paced.rate = math.Round(unloaded.RPS / 4)
	steady := runLoads(ctx, b.cfg.warmup, b.cfg.duration, paced)[0]
	b.addResult(steady)
	paced.name += ", during flood"
	in, fl, peak, err = b.underFlood(ctx, paced)
	if err != nil || b.floodKilled(peak) {
		return err
	}
	fl.Name += " (fixed rate)"
	b.addResult(in)
	b.addResult(fl)
	b.addTarget(fmt.Sprintf("introspect p99 during a %d-login flood, at a fixed quarter of the unloaded throughput", b.cfg.flood),
		fmt.Sprintf("%.2f× (%s vs %s ms at %s req/s without the flood)", float64(in.P99)/float64(steady.P99), ms(in.P99), ms(steady.P99),
			rate(paced.rate)), "report only", "report only")
	return nil
}

// besideHashing runs l while workers() hashing processes exactly like jeton's own (the
// jeton binary as a hash worker: nice 19, a session and autogroup of its own) verify
// passwords back to back, and no request reaches /token: what hashes in progress alone
// cost introspection on this machine, whatever jeton does about a flood. It returns l's
// result and the hashes per second done in its window.
func (b *bench) besideHashing(ctx context.Context, l load) (result, float64, error) {
	par := service.DefaultConfig().Hash
	hashers := make([]*password.Process, workers())
	for i := range hashers {
		hashers[i] = &password.Process{Command: func() *exec.Cmd {
			cmd := exec.Command(b.jetonBin)
			cmd.Env = []string{password.WorkerEnv + "=1"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
			return cmd
		}}
		defer hashers[i].Close()
	}
	phc, err := hashers[0].Hash("a benchmark password of some length", par)
	if err != nil {
		return result{}, 0, fmt.Errorf("hashing process: %w", err)
	}
	// The hashes counted are those that ended inside the load's measured window.
	warmup := max(b.cfg.warmup, 3*time.Second)
	from := time.Now().Add(warmup)
	to := from.Add(b.cfg.duration)
	var hashes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, len(hashers))
	for _, h := range hashers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := h.Verify("a benchmark password of some length", phc); err != nil {
					errc <- err
					return
				}
				if now := time.Now(); now.After(from) && now.Before(to) {
					hashes.Add(1)
				}
			}
		})
	}
	r := runLoads(ctx, warmup, b.cfg.duration, l)[0]
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		return r, 0, fmt.Errorf("hashing process: %w", err)
	default:
	}
	return r, float64(hashes.Load()) / b.cfg.duration.Seconds(), nil
}

// floodKilled reports whether the bench killed jeton during a flood (its RSS ran away),
// and then records that and drops the instance.
func (b *bench) floodKilled(peak peakRSS) bool {
	if !peak.killed {
		return false
	}
	b.addTarget(fmt.Sprintf("introspect during a %d-login flood: jeton killed", b.cfg.flood),
		fmt.Sprintf("jeton killed by the bench at %s RSS", mib(peak.total)), "≤ 1.5× unloaded p99", "no")
	b.main.stop()
	b.main = nil
	return true
}

// underFlood runs l against jeton while `jeton-bench flood` hits /token from its own
// process, as an attacker would from elsewhere: in this one, the --flood clients'
// goroutines would delay the measured clients' own and count as jeton's latency. It
// returns both loads' results over the same window and jeton's peak RSS in it.
func (b *bench) underFlood(ctx context.Context, l load) (result, result, peakRSS, error) {
	self, err := osExecutable()
	if err != nil {
		return result{}, result{}, peakRSS{}, err
	}
	warmup := max(b.cfg.warmup, 3*time.Second)
	type floodOut struct {
		r   result
		err error
	}
	done := make(chan floodOut, 1)
	go func() {
		out, err := execCommandOutput(ctx, self, "flood", "--url", b.main.base+"/token", "--basic", b.w.app.Basic,
			"--concurrency", strconv.Itoa(b.cfg.flood), "--warmup", warmup.String(), "--duration", b.cfg.duration.String())
		var r result
		if err == nil {
			err = json.Unmarshal(out, &r)
		}
		done <- floodOut{r, err}
	}()
	watch := watchRSS(b.main)
	in := runLoads(ctx, warmup, b.cfg.duration, l)[0]
	fl := <-done
	peak := watch()
	if fl.err != nil {
		return in, fl.r, peak, fmt.Errorf("flood: %w", fl.err)
	}
	// The child saw everything but itself as other processes: the window is the same.
	fl.r.OtherCPU = in.OtherCPU
	return in, fl.r, peak, nil
}

// floodMain is `jeton-bench flood`: failed password logins (unknown usernames, a new
// forwarded address each) from --concurrency clients, after --warmup for --duration;
// it prints what it measured as JSON.
func floodMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("flood", flag.ContinueOnError)
	url := fs.String("url", "", "jeton's /token")
	basic := fs.String("basic", "", "Authorization header of the app client")
	concurrency := fs.Int("concurrency", 1000, "concurrent clients")
	warmup := fs.Duration("warmup", 3*time.Second, "unmeasured warm-up")
	duration := fs.Duration("duration", 8*time.Second, "measured time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var n atomic.Int64
	fl := load{name: "failed-login flood", concurrency: *concurrency,
		build: func(int, *rand.Rand) *http.Request {
			i := n.Add(1)
			return formPost(*url, *basic,
				fmt.Sprintf("grant_type=password&username=flood-%d&password=not+the+password+of+anyone", i),
				"X-Forwarded-For", floodIP(i))
		},
		// invalid_grant after a hash, or a refusal before one: 503 when the hashing queue is
		// full, 429 if a throttle tripped. Anything else is an error.
		check: func(_, status int, body []byte) bool {
			return status == http.StatusBadRequest && bytes.Contains(body, []byte(`"invalid_grant"`)) ||
				status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests
		}}
	r := runLoads(ctx, *warmup, *duration, fl)[0]
	return json.NewEncoder(stdout).Encode(r)
}

// statusList formats a status histogram: "400×812, 503×90".
func statusList(m map[int]int64) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "transport error"
		}
		parts[i] = fmt.Sprintf("%s×%d", name, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// startup times five starts of `jeton serve` on the migrated, seeded database (spawn to
// the first 200 of /readyz) and measures each instance's idle RSS a second after ready.
func (b *bench) startup(ctx context.Context) error {
	var readies []time.Duration
	var idles []time.Duration // KiB, sorted with the same helper
	for range 5 {
		p, err := b.startJeton(ctx, "startup", b.dbURL)
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		rss, _, _, err := p.memory()
		p.stop()
		if err != nil {
			return err
		}
		readies = append(readies, p.ready)
		idles = append(idles, time.Duration(rss))
	}
	slices.Sort(readies)
	med := median(readies)
	b.addTarget("start-up to ready", fmt.Sprintf("median %s ms, max %s ms over 5 starts (first start on an empty database, migrating: %s ms)",
		ms(med), ms(readies[len(readies)-1]), ms(b.firstStart)), "< 300 ms", metStr(readies[len(readies)-1] < 300*time.Millisecond))
	idle := int64(median(idles))
	b.idleRSS = idle
	b.addTarget("idle RSS", fmt.Sprintf("%s (median of 5, 1 s after ready)", mib(idle)), "< 40 MiB", metStr(idle < 40*1024))
	return nil
}

// rss measures a fresh instance's RSS when b.cfg.flood password-grant requests arrive at
// once, against its idle RSS before any login.
func (b *bench) rss(ctx context.Context) error {
	p, err := b.startJeton(ctx, "rss", b.dbURL, "JETON_TRUSTED_PROXY=127.0.0.1/32")
	if err != nil {
		return err
	}
	defer p.stop()
	time.Sleep(time.Second)
	idle, _, _, err := p.memory()
	if err != nil {
		return err
	}
	watch := watchRSS(p)
	tr := newTransport(b.cfg.flood)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int64{}
	gate := make(chan struct{})
	for i := range b.cfg.flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A forwarded address of its own each, so the burst reaches the hashing pool
			// instead of a per-address back-off.
			req := formPost(p.base+"/token", b.w.app.Basic, b.passwordForm(b.w.logins[i%len(b.w.logins)]),
				"X-Forwarded-For", floodIP(int64(2<<20+i)))
			<-gate
			status, _, _ := do(client, req.WithContext(ctx), nil)
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	took := time.Since(start)
	peak := watch()
	m := int64(service.DefaultConfig().Hash.Memory)
	limit := idle + int64(1.25*float64(workers())*float64(m))
	measured := fmt.Sprintf("peak %s vs idle %s + 1.25 × %d workers × %d KiB = %s (answers in %v: %s)",
		peak, mib(idle), workers(), m, mib(limit), took.Round(time.Millisecond), statusList(statuses))
	if peak.killed {
		measured = fmt.Sprintf("killed by the bench at %s (idle %s; limit %s)", mib(peak.total), mib(idle), mib(limit))
	}
	if conns, err := b.connectionsRSS(ctx); err == nil {
		measured += fmt.Sprintf("; for comparison, %d idle keep-alive connections alone add %s to a fresh instance", b.cfg.flood, mib(conns))
	}
	b.addTarget(fmt.Sprintf("peak RSS, %d concurrent password grants", b.cfg.flood), measured,
		"≤ idle + 1.25 × workers × m", metStr(!peak.killed && peak.total <= limit))
	return nil
}

// connectionsRSS measures what b.cfg.flood open keep-alive connections (each having
// asked /healthz once) add to a fresh instance's RSS: the part of the burst's peak that is
// not hashing.
func (b *bench) connectionsRSS(ctx context.Context) (int64, error) {
	p, err := b.startJeton(ctx, "connections", b.dbURL)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	time.Sleep(time.Second)
	idle, _, _, err := p.memory()
	if err != nil {
		return 0, err
	}
	tr := newTransport(b.cfg.flood)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range b.cfg.flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/healthz", nil)
			<-gate
			_, _, _ = do(client, req, nil)
		}()
	}
	close(gate)
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	rss, _, _, err := p.memory()
	return rss - idle, err
}

// enumeration measures the latency of the three failed-login answers (unknown user,
// wrong password, disabled user) with one argon2id parameter generation stored, and with
// two (older users hashed with t=1, the current default t=2).
func (b *bench) enumeration(ctx context.Context) error {
	for _, gens := range []int{1, 2} {
		if err := b.enumerate(ctx, gens); err != nil {
			return err
		}
	}
	return nil
}

// enumerate measures the three failed-login answers in a tenant of its own whose users'
// hashes come from gens argon2id parameter generations.
func (b *bench) enumerate(ctx context.Context, gens int) error {
	slug := fmt.Sprintf("enum%d", gens)
	const pw = "enumeration password of every user"
	app, wrong, disabled, err := b.enumUsers(ctx, slug, pw, gens)
	if err != nil {
		return err
	}
	n := int64(b.cfg.enumRequests)
	attempts := enumAttempts(n, slug, pw, wrong, disabled, gens)
	client := &http.Client{Transport: newTransport(1), Timeout: time.Minute}
	lat := map[string][]time.Duration{}
	statuses := map[int]int64{}
	bodies := map[string]bool{}
	for i, a := range append(attempts[:5:5], attempts...) { // five unmeasured warm-ups first
		req := formPost(b.main.base+"/token", app.Basic, a.form, "X-Forwarded-For", floodIP(int64(1<<20+gens<<18+i)))
		t0 := time.Now()
		status, body, err := do(client, req.WithContext(ctx), nil)
		d := time.Since(t0)
		if err != nil {
			return err
		}
		if i < 5 {
			continue
		}
		statuses[status]++
		bodies[string(body)] = true
		lat[a.kind] = append(lat[a.kind], d)
	}
	meds := []time.Duration{median(lat["unknown user"]), median(lat["wrong password"]), median(lat["disabled user"])}
	diff := relDiff(meds...)
	label := "one argon2id generation"
	if gens == 2 {
		label = "two generations (half the users t=1, current t=2)"
	}
	b.addTarget("enumeration timing, "+label,
		fmt.Sprintf("medians %s / %s / %s ms (unknown / wrong password / disabled), difference %.1f%%; %d each; answers %s, %d distinct bodies",
			ms(meds[0]), ms(meds[1]), ms(meds[2]), diff*100, n, statusList(statuses), len(bodies)),
		"< 5%", metStr(diff < 0.05 && len(bodies) == 1))
	return nil
}

// enumUsers creates the tenant slug with its app client and b.cfg.enumRequests users to
// try a wrong password on and as many disabled users, all with the password pw, half of
// each hashed with the older parameters when gens is 2. It returns the client and the two
// lists of usernames.
func (b *bench) enumUsers(ctx context.Context, slug, pw string, gens int) (app cred, wrong, disabled []string, err error) {
	if _, err := b.cli(ctx, nil, "", "tenant", "create", slug, "--json"); err != nil {
		return cred{}, nil, nil, err
	}
	if app, err = b.createClient(ctx, slug, "app", "--grant", "password", "--scope", "read"); err != nil {
		return cred{}, nil, nil, err
	}
	if _, err := b.cli(ctx, nil, pw+"\n", "user", "create", "--tenant", slug, "--username", "gen-current", "--password-stdin", "--json"); err != nil {
		return cred{}, nil, nil, err
	}
	var tenantID [16]byte
	if err := b.pool.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = $1`, slug).Scan(&tenantID); err != nil {
		return cred{}, nil, nil, err
	}
	n := int64(b.cfg.enumRequests)
	type group struct {
		prefix, hashFrom string
		count            int64
	}
	groups := []group{{"w", "gen-current", n}, {"d", "gen-current", n}}
	if gens == 2 {
		// The older generation: users created through the CLI with a lower time cost.
		if _, err := b.cli(ctx, []string{"JETON_ARGON2_TIME=1"}, pw+"\n", "user", "create", "--tenant", slug,
			"--username", "gen-old", "--password-stdin", "--json"); err != nil {
			return cred{}, nil, nil, err
		}
		groups = []group{{"w", "gen-current", n - n/2}, {"wold", "gen-old", n / 2}, {"d", "gen-current", n - n/2}, {"dold", "gen-old", n / 2}}
	}
	for _, g := range groups {
		if _, err := b.pool.Exec(ctx, `INSERT INTO users (tenant_id, id, username, password_hash, disabled, created_at, updated_at)
			SELECT $1, gen_random_uuid(), $2 || lpad(g::text, 7, '0'), u.password_hash, $3, now(), now()
			FROM generate_series(0, $4 - 1) g, (SELECT password_hash FROM users WHERE tenant_id = $1 AND username = $5) u`,
			tenantID, g.prefix+"-", g.prefix[0] == 'd', g.count, g.hashFrom); err != nil {
			return cred{}, nil, nil, fmt.Errorf("seed %s users: %w", g.prefix, err)
		}
		for i := range g.count {
			name := fmt.Sprintf("%s-%07d", g.prefix, i)
			if g.prefix[0] == 'd' {
				disabled = append(disabled, name)
			} else {
				wrong = append(wrong, name)
			}
		}
	}
	return app, wrong, disabled, nil
}

// attempt is one failed login of the enumeration scenario: its kind and its form.
type attempt struct {
	kind, form string
}

// enumAttempts returns n attempts of each kind (an unknown user, a wrong password, a
// disabled user), shuffled together, each username used once.
func enumAttempts(n int64, slug, pw string, wrong, disabled []string, gens int) []attempt {
	var attempts []attempt
	for i := range n {
		attempts = append(attempts,
			attempt{"unknown user", fmt.Sprintf("grant_type=password&username=nobody-%d-%s&password=%s", i, slug, strings.ReplaceAll(pw, " ", "+"))},
			attempt{"wrong password", fmt.Sprintf("grant_type=password&username=%s&password=not+the+password+at+all", wrong[i])},
			attempt{"disabled user", fmt.Sprintf("grant_type=password&username=%s&password=%s", disabled[i], strings.ReplaceAll(pw, " ", "+"))})
	}
	rng := rand.New(rand.NewPCG(uint64(gens), 7))
	rng.Shuffle(len(attempts), func(i, j int) { attempts[i], attempts[j] = attempts[j], attempts[i] })
	return attempts
}

// memTotalKiB reads MemTotal from /proc/meminfo.
func memTotalKiB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var v int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &v)
		}
	}
	return v
}
