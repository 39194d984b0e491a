package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/tokens"
)

// scale (--full) adds the other tenants and their tokens, then measures introspection
// again on the larger table, against the figures measured before it grew.
func (b *bench) scale(ctx context.Context) error {
	w := &b.w
	if err := b.seedTenants(ctx); err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		return err
	}
	suffix := fmt.Sprintf(" (%dM tokens)", b.cfg.tokens/1_000_000)
	if b.cfg.tokens < 1_000_000 {
		suffix = fmt.Sprintf(" (%dk tokens)", b.cfg.tokens/1000)
	}
	b.introspectRuns(ctx, suffix, w.pickLive)
	for _, name := range []string{"introspect-live", "introspect-unknown"} {
		small, ok1 := b.results[name]
		big, ok2 := b.results[name+suffix]
		if !ok1 || !ok2 {
			continue
		}
		tp := big.RPS / small.RPS
		p99 := float64(big.P99) / float64(small.P99)
		b.addTarget(name+suffix+" vs "+fmt.Sprint(w.mainTokens)+" tokens",
			fmt.Sprintf("throughput %.2f×, p99 %.2f× (%s vs %s req/s; %s vs %s ms)", tp, p99, rate(big.RPS), rate(small.RPS), ms(big.P99), ms(small.P99)),
			"within 10%", metStr(tp >= 0.9 && p99 <= 1.1))
	}
	b.plans(ctx)
	return nil
}

// seedTenants seeds the tenants beside the main one, each with one client (app and
// resource server) and one user, and the live tokens beyond the main tenant's, spread
// over them round robin.
func (b *bench) seedTenants(ctx context.Context) error {
	w := &b.w
	n := b.cfg.tenants - 1
	extra := b.cfg.tokens - w.mainTokens
	t0 := time.Now()
	g := tokenGen{seed: b.cfg.seed, stream: "tenants"}
	now := time.Now()
	if _, err := b.pool.Exec(ctx, `INSERT INTO tenants (id, slug, name, created_at, updated_at)
		SELECT gen_random_uuid(), 'scale-' || lpad(g::text, 5, '0'), 'scale ' || g, $2, $2 FROM generate_series(1, $1) g`, n, now); err != nil {
		return fmt.Errorf("seed tenants: %w", err)
	}
	rows, err := b.pool.Query(ctx, `SELECT id FROM tenants WHERE starts_with(slug, 'scale-') ORDER BY slug`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	clients := make([]string, n)
	w.extra = make([]cred, n)
	for k := range n {
		clients[k] = g.clientID(uint64(k))
		w.extra[k] = newCred(clients[k], g.token(tokens.ClientSecret, uint64(k)))
	}
	if _, err := b.pool.CopyFrom(ctx, pgx.Identifier{"clients"},
		[]string{"tenant_id", "id", "name", "public", "grant_types", "scopes", "introspect", "created_at", "updated_at"},
		rangeSource(0, int64(n), func(k int64) []any {
			return []any{ids[k], clients[k], "app+api", false, []string{"password", "refresh_token"}, []string{"read", "write"}, true, now, now}
		})); err != nil {
		return fmt.Errorf("seed clients: %w", err)
	}
	if _, err := b.pool.CopyFrom(ctx, pgx.Identifier{"client_secrets"}, []string{"tenant_id", "client_id", "hash", "created_at"},
		rangeSource(0, int64(n), func(k int64) []any { return []any{ids[k], clients[k], hashOf(w.extra[k].Secret), now} })); err != nil {
		return fmt.Errorf("seed client secrets: %w", err)
	}
	users, err := b.seedTenantUsers(ctx, now)
	if err != nil {
		return err
	}
	if err := b.seedLiveTokens(ctx, tokenBatch{from: w.mainTokens, to: w.mainTokens + extra, issued: now, exp: now.Add(24 * time.Hour),
		tenantOf: func(i int64) (uuid.UUID, string, uuid.UUID) {
			k := (i - w.mainTokens) % int64(n)
			return ids[k], clients[k], users[k]
		}}); err != nil {
		return err
	}
	w.extraTokens, w.extraReady = extra, true
	b.logf("seeded %d tenants and %d more tokens in %v", n, extra, time.Since(t0).Round(time.Second))
	return nil
}

// seedTenantUsers gives each tenant seedTenants created one user, with the main tenant's
// login hash, and returns their ids in the tenants' order.
func (b *bench) seedTenantUsers(ctx context.Context, now time.Time) ([]uuid.UUID, error) {
	if _, err := b.pool.Exec(ctx, `INSERT INTO users (tenant_id, id, username, password_hash, created_at, updated_at)
		SELECT t.id, gen_random_uuid(), 'user', u.password_hash, $1, $1
		FROM tenants t, (SELECT password_hash FROM users WHERE username = 'login-cli' LIMIT 1) u
		WHERE starts_with(t.slug, 'scale-')`, now); err != nil {
		return nil, fmt.Errorf("seed users: %w", err)
	}
	rows, err := b.pool.Query(ctx, `SELECT u.id FROM users u JOIN tenants t ON t.id = u.tenant_id
		WHERE starts_with(t.slug, 'scale-') ORDER BY t.slug`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// sweep seeds expired tokens, starts a second jeton whose sweeper runs at once, and
// measures introspection on the main instance until the sweep has deleted them; then the
// table size, round after round.
func (b *bench) sweep(ctx context.Context) error {
	if _, err := b.cli(ctx, nil, "", "tenant", "create", "sweep", "--json"); err != nil {
		return err
	}
	svc, err := b.createClient(ctx, "sweep", "batch", "--grant", "client_credentials", "--scope", "read")
	if err != nil {
		return err
	}
	var tenant uuid.UUID
	if err := b.pool.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = 'sweep'`).Scan(&tenant); err != nil {
		return err
	}
	base := runLoads(ctx, b.cfg.warmup, b.cfg.duration, b.introspectLoad("introspect-live (no sweep)", b.main.base, b.w.pickLive, true))[0]
	b.addResult(base)
	var sizes []string
	var worst float64
	var seeded []int64 // the table with its indexes after each round's seeding
	_, _ = b.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pgstattuple`)
	heap0 := b.heapSize(ctx)
	reusable := true
	sizes = append(sizes, fmt.Sprintf("before: %s (heap %s)", mib(b.tableSize(ctx)/1024), mib(heap0/1024)))
	for round := 1; round <= b.cfg.sweepRounds; round++ {
		r, err := b.sweepRound(ctx, round, tenant, svc.ID, base, heap0)
		if err != nil {
			return err
		}
		seeded = append(seeded, r.seeded)
		sizes = append(sizes, r.sizes)
		reusable = reusable && r.reusable
		worst = max(worst, r.ratio)
	}
	b.addTarget(fmt.Sprintf("introspect p99 during a sweep of %s expired tokens", thousands(b.cfg.sweepTokens)),
		fmt.Sprintf("worst round %.2f× the p99 without a sweep", worst), "≤ 1.5×", metStr(worst <= 1.5))
	// Two rounds or more compare sizes directly: after the first, seeding the same rows
	// again must find the space the swept ones left. The heap's space comes back whole;
	// the indexes on random keys (hash, id) still split pages, fewer each round, because
	// a B-tree never merges the half-empty pages deletions leave. So "stops growing" is
	// growth that shrinks from each round to the next and is under 0.5% in the last (a
	// fixed bound per round would allow growth without end). One round asks whether the
	// space is free for the next run's rows once autovacuum has been.
	met := reusable
	if len(seeded) >= 2 {
		met = true
		var growth []string
		prev := math.Inf(1)
		for i := 1; i < len(seeded); i++ {
			g := float64(seeded[i]-seeded[i-1]) / float64(seeded[i-1])
			met = met && g < prev
			prev = g
			growth = append(growth, fmt.Sprintf("round %d %+.2f%%", i+1, 100*g))
		}
		met = met && prev <= 0.005
		sizes = append(sizes, "growth after seeding: "+strings.Join(growth, ", "))
	}
	b.addTarget("tokens table size, run after run", strings.Join(sizes, "; "),
		"stops growing (after the first round, less growth each round, ≤ 0.5% in the last)", metStr(met))
	return nil
}

// sweptRound is what one round of the sweep scenario found.
type sweptRound struct {
	seeded   int64   // bytes of the tokens table and its indexes after seeding
	sizes    string  // the table's sizes after seeding, the sweep and autovacuum
	reusable bool    // the space the round's rows took is free for the next rows
	ratio    float64 // introspection's p99 during the sweep over base's
}

// sweepRound seeds round's expired tokens, measures introspection while a second jeton
// sweeps them, and then the table's sizes.
func (b *bench) sweepRound(ctx context.Context, round int, tenant uuid.UUID, client string, base result, heap0 int64) (sweptRound, error) {
	// Between two sweeps of a day's tokens a deployment's other writes bring vacuums of
	// their own: the first of them removes the rows the sweep's last batches left dead,
	// and the index pages it empties can take the next rows (vacuumWhileWriting).
	if err := b.vacuumWhileWriting(ctx, "VACUUM tokens"); err != nil {
		return sweptRound{}, err
	}
	t0 := time.Now()
	if err := b.seedExpiredTokens(ctx, tenant, client, round, b.cfg.sweepTokens); err != nil {
		return sweptRound{}, err
	}
	// Vacuumed, as rows written over days would have been: the vacuum their insertion
	// triggers must not run during one round's sweep and not another's.
	if err := b.vacuum(ctx); err != nil {
		return sweptRound{}, err
	}
	out := sweptRound{seeded: b.tableSize(ctx)}
	heapSeeded := b.heapSize(ctx)
	indexes := b.indexSizes(ctx)
	b.logf("round %d: seeded %d expired tokens in %v; tokens table %s (%s)", round, b.cfg.sweepTokens, time.Since(t0).Round(time.Millisecond),
		mib(out.seeded/1024), indexes)
	swept := time.Now()
	r, deleted, took, err := b.sweepUnderLoad(ctx, round)
	if err != nil {
		return sweptRound{}, err
	}
	if deleted < b.cfg.sweepTokens {
		b.note("sweep round %d: only %d of %d expired tokens deleted when measurement stopped", round, deleted, b.cfg.sweepTokens)
	}
	b.addResult(r)
	out.sizes, out.reusable = b.sweptSizes(ctx, round, swept, out.seeded, heapSeeded, heap0)
	out.ratio = float64(r.P99) / float64(base.P99)
	if r.OK == 0 {
		out.ratio = math.Inf(1)
	}
	b.logf("round %d: swept %d in %v (%.0f rows/s); p99 %.2f× without", round, deleted, took.Round(time.Millisecond),
		float64(deleted)/took.Seconds(), out.ratio)
	b.sweepNotes = append(b.sweepNotes, fmt.Sprintf("round %d: %s expired tokens deleted in %v (%.0f rows/s) while introspection ran: p99 %s ms vs %s ms without a sweep; indexes after seeding: %s",
		round, thousands(deleted), took.Round(time.Millisecond), float64(deleted)/took.Seconds(), ms(r.P99), ms(base.P99), indexes))
	return out, nil
}

// sweepUnderLoad starts a second jeton whose sweeper runs at once, and measures
// introspection on the main instance (which runs without a sweeper) until the sweeper has
// deleted the round's expired tokens. It returns the load's result, the rows deleted and
// how long that took.
func (b *bench) sweepUnderLoad(ctx context.Context, round int) (result, int64, time.Duration, error) {
	del0 := b.deletedTokens(ctx)
	start := time.Now()
	sweeper, err := b.startJeton(ctx, "sweeper", b.dbURL, "JETON_SWEEP_INTERVAL=1h")
	if err != nil {
		return result{}, 0, 0, err
	}
	// jeton's sweeper logs nothing by default, so the bench follows PostgreSQL's count
	// of deleted tokens rows (flushed by the sweeping backend within a second).
	done := make(chan struct{})
	var deleted int64
	go func() {
		defer close(done)
		for deleted < b.cfg.sweepTokens && ctx.Err() == nil && time.Since(start) < 30*time.Minute {
			time.Sleep(100 * time.Millisecond)
			deleted = b.deletedTokens(ctx) - del0
		}
	}()
	r := runLoadsUntil(ctx, done, b.introspectLoad(fmt.Sprintf("introspect-live during sweep %d", round), b.main.base, b.w.pickLive, true))[0]
	took := time.Since(start)
	<-done // closed already, unless ctx ended first
	sweeper.stop()
	return r, deleted, took, nil
}

// sweptSizes describes the tokens table after round's sweep and then after autovacuum,
// against its size after seeding and its heap before the round, and reports whether the
// space the round's rows took is free for the next rows.
func (b *bench) sweptSizes(ctx context.Context, round int, since time.Time, seeded, heapSeeded, heap0 int64) (string, bool) {
	swept := b.tableSize(ctx)
	line := fmt.Sprintf("round %d: %s after seeding, %s after the sweep", round, mib(seeded/1024), mib(swept/1024))
	// Space comes back through autovacuum, which the bench's own cluster wakes more often
	// than PostgreSQL's default (pgSettings).
	autovac := b.waitAutovacuum(ctx, since, 3*time.Minute)
	line += fmt.Sprintf(", %s after %s", mib(b.tableSize(ctx)/1024), autovac)
	b.logf("round %d: after %s: %s", round, autovac, b.indexSizes(ctx))
	free, ok := b.heapFree(ctx)
	if !ok {
		return line, false
	}
	// The space the round's rows took is either gone (vacuum truncated the table)
	// or free for the next rows: the used part is back to where it was.
	grown, heap := heapSeeded-heap0, b.heapSize(ctx)
	line += fmt.Sprintf(" (heap %s with %s free; %s before, %s after seeding)", mib(heap/1024), mib(free/1024),
		mib(heap0/1024), mib(heapSeeded/1024))
	// Without a vacuum the free space map does not know the space, and new rows
	// extend the table instead.
	return line, strings.HasPrefix(autovac, "autovacuum") && float64(heap-free) <= float64(heap0)+0.1*float64(grown)
}

// vacuumWhileWriting runs the vacuum statement q while short transactions take
// transaction IDs and commit, as a deployment's logins and refreshes do. A B-tree page a
// vacuum deletes goes to the free space map at the end of that same vacuum only if no
// transaction can still reach it, which takes a transaction ID assigned after the
// deletion and ended before the check (PostgreSQL's nbtpage.c, _bt_pendingfsm_finalize).
// On an idle database the page waits for a later index-scanning vacuum after some
// transaction has taken an ID, and the next round's rows extend the index instead.
func (b *bench) vacuumWhileWriting(ctx context.Context, q string) error {
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if _, err := b.pool.Exec(ctx, "SELECT pg_current_xact_id()"); err == nil {
				n++
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	_, err := b.pool.Exec(ctx, q)
	close(stop)
	if n := <-done; n == 0 && err == nil {
		b.note("%s: no transaction took an ID while it ran, so the index pages it deleted wait for a later vacuum", q)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	return nil
}

// deletedTokens returns PostgreSQL's running count of deleted tokens rows.
func (b *bench) deletedTokens(ctx context.Context) int64 {
	var n int64
	_ = b.pool.QueryRow(ctx, `SELECT n_tup_del FROM pg_stat_user_tables WHERE relname = 'tokens'`).Scan(&n)
	return n
}

// heapSize returns the bytes of the tokens table alone.
func (b *bench) heapSize(ctx context.Context) int64 {
	var n int64
	_ = b.pool.QueryRow(ctx, `SELECT pg_relation_size('tokens')`).Scan(&n)
	return n
}

// heapFree returns the free space in the tokens table (pgstattuple's estimate), if the
// server has the extension.
func (b *bench) heapFree(ctx context.Context) (int64, bool) {
	var n int64
	err := b.pool.QueryRow(ctx, `SELECT approx_free_space FROM pgstattuple_approx('tokens')`).Scan(&n)
	return n, err == nil
}

// indexSizes lists the tokens table's indexes with their sizes.
func (b *bench) indexSizes(ctx context.Context) string {
	rows, err := b.pool.Query(ctx, `SELECT indexrelid::regclass::text, pg_relation_size(indexrelid)
		FROM pg_index WHERE indrelid = 'tokens'::regclass ORDER BY 1`)
	if err != nil {
		return err.Error()
	}
	var parts []string
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return err.Error()
		}
		parts = append(parts, name+" "+mib(n/1024))
	}
	return strings.Join(parts, ", ")
}

// tableSize returns the bytes of the tokens table with its indexes.
func (b *bench) tableSize(ctx context.Context) int64 {
	var n int64
	_ = b.pool.QueryRow(ctx, `SELECT pg_total_relation_size('tokens')`).Scan(&n)
	return n
}

// waitAutovacuum waits up to d for autovacuum to have settled on the tokens table: a
// vacuum of it finished after since (the sweep's start), none runs now, and fewer rows are
// dead than the threshold at which autovacuum would come again. It says what it saw.
// Autovacuum also runs during a sweep, once enough rows are dead; what the last batches
// leave waits for the next vacuum, which comes only once more rows die.
func (b *bench) waitAutovacuum(ctx context.Context, since time.Time, d time.Duration) string {
	waited := time.Now()
	var dead int64
	for time.Since(waited) < d && ctx.Err() == nil {
		var last *time.Time
		var running bool
		var threshold float64
		_ = b.pool.QueryRow(ctx, `SELECT s.last_autovacuum, s.n_dead_tup,
			EXISTS (SELECT 1 FROM pg_stat_progress_vacuum p WHERE p.relid = s.relid),
			current_setting('autovacuum_vacuum_threshold')::float8 +
				current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0)
			FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'tokens'`).Scan(&last, &dead, &running, &threshold)
		if last != nil && last.After(since) && !running && float64(dead) < threshold {
			return fmt.Sprintf("autovacuum (%s dead rows left, %v after the sweep)", thousands(dead), time.Since(waited).Round(time.Second))
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Sprintf("%v without autovacuum settling (%s dead rows left)", d, thousands(dead))
}

// bulkRevoke times POST /admin/v1/tenants/{slug}/revoke on the main tenant and checks
// that its tokens stopped working.
func (b *bench) bulkRevoke(ctx context.Context) error {
	name := fmt.Sprintf("bulk revocation of a %s-token tenant", thousands(b.w.mainTokens))
	key, err := b.adminKey(ctx)
	if err != nil {
		b.addTarget(name, "not available: "+err.Error(), "report only", "not available")
		return nil
	}
	var live int64
	_ = b.pool.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE tenant_id = $1`, b.w.tenantID).Scan(&live)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.main.base+"/admin/v1/tenants/"+b.w.tenant+"/revoke", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	// A prober introspects one live token over and over from the moment the request goes
	// out: when it turns inactive is when the revocation took effect, whatever the admin
	// API does afterwards (it counts the revoked tokens before it answers).
	probeTok := b.w.live.token(tokens.Access, 0)
	refused := make(chan time.Duration, 1)
	pctx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	t0 := time.Now()
	go func() {
		client := &http.Client{Timeout: time.Minute}
		for pctx.Err() == nil {
			status, body, err := do(client, formPost(b.main.base+"/introspect", b.w.rs.Basic, "token="+probeTok).WithContext(pctx), nil)
			if err == nil && status == http.StatusOK && strings.Contains(string(body), `"active":false`) {
				refused <- time.Since(t0)
				return
			}
		}
	}()
	status, body, err := do(&http.Client{Timeout: 10 * time.Minute}, req, nil)
	took := time.Since(t0)
	if err != nil {
		// The revocation may have committed even so: say when the token was refused.
		select {
		case d := <-refused:
			b.addTarget(name, fmt.Sprintf("a token polled from the start was refused after %s ms; the admin API's connection then "+
				"failed after %v (%v) without an answer", ms(d), took.Round(time.Millisecond), err), "report only", "report only")
			return nil
		case <-time.After(10 * time.Second):
			return fmt.Errorf("bulk revoke: %w after %v, and the polled token is still active", err, took.Round(time.Millisecond))
		}
	}
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		b.addTarget(name, fmt.Sprintf("not available: the admin API answered %d", status), "report only", "not available")
		return nil
	}
	if status/100 != 2 {
		return fmt.Errorf("bulk revoke: %d %s", status, body)
	}
	var refusedAfter string
	select {
	case d := <-refused:
		refusedAfter = fmt.Sprintf("a token polled from the start was refused after %s ms", ms(d))
	case <-time.After(10 * time.Second):
		refusedAfter = "a token polled from the start was still active 10 s after the answer"
	}
	stopProbe()
	// Every sampled token must now be inactive.
	mainOnly := func(r *rand.Rand) (string, string) {
		return b.w.live.token(tokens.Access, uint64(r.Int64N(b.w.revokeFrom))), b.w.rs.Basic
	}
	r := runLoads(ctx, 0, time.Second, b.introspectLoad("after bulk revocation", b.main.base, mainOnly, false))[0]
	b.addTarget(name, fmt.Sprintf("%s; the admin API answered (HTTP %d, %s) after %v, for %s token rows; afterwards %d of %d sampled tokens still active",
		refusedAfter, status, clip(strings.TrimSpace(string(body)), 120), took.Round(time.Millisecond), thousands(live), r.Errors, r.OK+r.Errors),
		"report only", "report only")
	return nil
}

// adminKey creates an admin key through the CLI, if this jeton has the command.
func (b *bench) adminKey(ctx context.Context) (string, error) {
	if !b.features.adminKey {
		return "", fmt.Errorf("this jeton has no admin-key command")
	}
	var lastErr error
	for _, args := range [][]string{
		{"admin-key", "create", "--name", "bench", "--json"},
		{"admin-key", "create", "--tenant", b.w.tenant, "--name", "bench", "--json"},
		{"admin-key", "create", "--json"},
	} {
		out, err := b.cli(ctx, nil, "", args...)
		if err != nil {
			lastErr = err
			continue
		}
		if i := strings.Index(string(out), "jak_"); i >= 0 && len(out) >= i+tokens.Len {
			return string(out[i : i+tokens.Len]), nil
		}
		lastErr = fmt.Errorf("no jak_ key in %q", out)
	}
	return "", lastErr
}
