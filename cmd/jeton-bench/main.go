// Command jeton-bench benchmarks jeton against ceilings measured in the same run and
// regenerates docs/BENCHMARKS.md and docs/benchmarks.png: `make bench`.
//
// It starts its own PostgreSQL cluster (or uses --pg-url, in a database it creates and
// drops), builds jeton and runs it as a child process with its shipped defaults, seeds
// tenants, clients, users and live tokens, and runs each scenario for a fixed time at a
// fixed concurrency from this process. The ceiling servers run in a child process too
// (`jeton-bench ceiling`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/pgcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "jeton-bench:", err)
		os.Exit(1)
	}
}

// scenarios in the order they run; --only picks some of them.
var scenarioNames = []string{"startup", "rss", "introspect", "client-credentials", "password", "mfa", "webhooks", "refresh",
	"revoke", "pgbouncer", "flood", "enumeration", "storage", "scale", "sweep", "sessions", "revoke-to-refusal", "bulk-revoke",
	"user-import"}

type config struct {
	duration, warmup time.Duration
	concurrency      int
	flood            int
	tokens           int64
	tenants          int
	sweepTokens      int64
	sweepRounds      int
	enumRequests     int
	pgURL            string
	out, chart       string
	src              string
	seed             string
	full             bool
	only             map[string]bool
	command          string
}

func (c config) runs(name string) bool { return len(c.only) == 0 || c.only[name] }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "ceiling" {
		return ceiling(ctx, args[2:], stdout)
	}
	if len(args) > 1 && args[1] == "flood" {
		return floodMain(ctx, args[2:], stdout)
	}
	fs := flag.NewFlagSet("jeton-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.DurationVar(&c.duration, "duration", 8*time.Second, "measured time per scenario")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each scenario")
	fs.IntVar(&c.concurrency, "concurrency", 64, "concurrent clients per scenario")
	fs.IntVar(&c.flood, "flood", 1000, "concurrent requests of the login flood and of the RSS scenario")
	fs.Int64Var(&c.tokens, "tokens", 1_000_000, "live tokens to seed (--full: 10,000,000)")
	fs.IntVar(&c.tenants, "tenants", 1, "tenants holding the live tokens (--full: 10,000)")
	fs.Int64Var(&c.sweepTokens, "sweep-tokens", 1_000_000, "expired tokens per sweep round (--full: 5,000,000)")
	fs.IntVar(&c.sweepRounds, "sweep-rounds", 3, "sweep rounds, table size after each")
	fs.IntVar(&c.enumRequests, "enum-requests", 200, "requests per distribution in the enumeration scenario")
	fs.StringVar(&c.pgURL, "pg-url", "", "use this PostgreSQL server instead of starting one (a database is created and dropped)")
	fs.StringVar(&c.out, "out", "docs/BENCHMARKS.md", "report to write")
	fs.StringVar(&c.chart, "chart", "", "chart to write (default: benchmarks.png beside --out)")
	fs.StringVar(&c.src, "src", ".", "jeton's module directory (built with go build)")
	fs.StringVar(&c.seed, "seed", "jeton-bench", "seed of the generated tokens")
	fs.BoolVar(&c.full, "full", false, "10M tokens over 10,000 tenants and a 5M sweep")
	fs.BoolVar(&ownSessions, "own-sessions", false, "start jeton, the ceilings and the flood each in a session of its own, as separate services (see ownSession)")
	only := fs.String("only", "", "comma-separated scenarios to run: "+strings.Join(scenarioNames, ","))
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.full {
		if !set["tokens"] {
			c.tokens = 10_000_000
		}
		if !set["tenants"] {
			c.tenants = 10_000
		}
		if !set["sweep-tokens"] {
			c.sweepTokens = 5_000_000
		}
	}
	if c.chart == "" {
		c.chart = filepath.Join(filepath.Dir(c.out), "benchmarks.png")
	}
	if *only != "" {
		c.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			s = strings.TrimSpace(s)
			if !containsString(scenarioNames, s) {
				return fmt.Errorf("--only: unknown scenario %q (have %s)", s, strings.Join(scenarioNames, ","))
			}
			c.only[s] = true
		}
	}
	if c.tokens < 1000 || c.tenants < 1 || c.concurrency < 1 || c.duration <= 0 {
		return errors.New("--tokens must be at least 1000, --tenants, --concurrency and --duration positive")
	}
	c.command = commandLine(args)
	b := &bench{cfg: c, out: stderr, results: map[string]result{}}
	return b.run(ctx)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// commandLine is how the report names the command that produced it: the make target
// that ran it (JETON_BENCH_COMMAND, set by the Makefile) and the bench's own arguments.
func commandLine(args []string) string {
	cmd := strings.TrimSpace("jeton-bench " + strings.Join(args[1:], " "))
	if t := os.Getenv("JETON_BENCH_COMMAND"); t != "" {
		return t + "`, which runs `" + cmd
	}
	return cmd
}

// bench is one run: its database, its jeton binary and instances, what it seeded and
// what it measured.
type bench struct {
	cfg      config
	out      io.Writer
	tmp      string
	cluster  *pgcluster.Cluster
	server   string // URL of the server's maintenance database, to create and drop ours
	dbName   string
	dbURL    string
	pool     *pgxpool.Pool
	jetonBin string
	features features
	seq      int
	main     *proc
	w        world
	started  time.Time

	results    map[string]result
	order      []string // result names in run order
	targets    []target
	sections   []section
	settings   [][2]string
	machine    [][2]string
	poolSize   int
	poolSeen   bool // poolSize was observed, not pgxpool's default
	timings    [][2]string
	notes      []string
	firstStart time.Duration
	seedTime   time.Duration
	profile    section
	idleRSS    int64
	sweepNotes []string
	loadStart  string
	simNotes   []string
	plansText  string
	statements string
}

// target is one line of the targets table.
type target struct {
	Name, Measured, Goal string
	Met                  string // "yes", "no", "report only", "not available"
}

// section is a titled block of the report (plans, profile, details).
type section struct{ Title, Body string }

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.out, "[%6.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

func (b *bench) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
	b.logf("note: "+format, args...)
}

func (b *bench) addResult(r result) {
	if _, ok := b.results[r.Name]; !ok {
		b.order = append(b.order, r.Name)
	}
	b.results[r.Name] = r
	b.logf("%-28s c=%-4d %9s req/s  p50 %7s ms  p99 %7s ms  errors %d %v", r.Name, r.Concurrency,
		rate(r.RPS), ms(r.P50), ms(r.P99), r.Errors, r.Statuses)
}

func (b *bench) addTarget(name, measured, goal, met string) {
	b.targets = append(b.targets, target{Name: name, Measured: measured, Goal: goal, Met: met})
	b.logf("target %s: %s (goal %s): %s", name, measured, goal, met)
}

func metStr(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func (b *bench) run(ctx context.Context) (err error) {
	b.started = time.Now()
	b.machine = machineInfo()
	b.loadStart = loadAvg()
	if b.tmp, err = os.MkdirTemp("", "jeton-bench-"); err != nil {
		return err
	}
	// World-traversable so the postgres user reaches its own directory below it.
	_ = os.Chmod(b.tmp, 0o755)
	defer os.RemoveAll(b.tmp)
	sweep := int64(0)
	if b.cfg.runs("sweep") {
		sweep = b.cfg.sweepTokens
	}
	free, err := freeDisk(b.tmp)
	if err != nil {
		return err
	}
	if need := diskNeeded(b.cfg.tokens, sweep, b.cfg.sweepRounds); free < need {
		return fmt.Errorf("%s has %.1f GiB free; this run needs about %.1f GiB", b.tmp,
			float64(free)/(1<<30), float64(need)/(1<<30))
	}
	b.logf("free disk %.1f GiB; building jeton", float64(free)/(1<<30))
	if err := b.build(ctx); err != nil {
		return err
	}
	if err := b.openDatabase(ctx); err != nil {
		return err
	}
	defer b.closeDatabase()
	defer func() {
		b.main.stop()
	}()
	if err := b.scenarios(ctx); err != nil {
		return err
	}
	if b.plansText == "" {
		b.plans(ctx)
	}
	b.collectStatements(ctx)
	if err := b.writeReport(); err != nil {
		return err
	}
	b.logf("wrote %s and %s", b.cfg.out, b.cfg.chart)
	return nil
}

// build compiles jeton from the module directory into the run's directory.
func (b *bench) build(ctx context.Context) error {
	b.jetonBin = filepath.Join(b.tmp, "jeton")
	if out, err := goCommand(ctx, b.cfg.src, "build", "-o", b.jetonBin, "./cmd/jeton"); err != nil {
		return fmt.Errorf("go build ./cmd/jeton: %w\n%s", err, out)
	}
	b.features = detectFeatures(ctx, b.jetonBin)
	return nil
}

// openDatabase starts the cluster (or uses --pg-url) and creates the bench database.
func (b *bench) openDatabase(ctx context.Context) error {
	b.dbName = fmt.Sprintf("jeton_bench_%d", os.Getpid())
	if b.cfg.pgURL != "" {
		var err error
		if b.server, err = withDatabase(b.cfg.pgURL, "postgres"); err != nil {
			return err
		}
	} else {
		c, err := startCluster(ctx, b.tmp, b.cfg.full, b.logf)
		if err != nil {
			return err
		}
		b.cluster, b.server = c, c.URL("postgres")
	}
	if err := createDatabase(ctx, b.server, b.dbName); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	var err error
	if b.dbURL, err = withDatabase(b.server, b.dbName); err != nil {
		return err
	}
	benchURL, _ := withDatabase(b.server, b.dbName, "application_name", "jeton-bench", "pool_max_conns", "8")
	if b.pool, err = pgxpool.New(ctx, benchURL); err != nil {
		return err
	}
	for _, name := range reportedSettings {
		var v string
		if err := b.pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err == nil {
			b.settings = append(b.settings, [2]string{name, v})
		}
	}
	return nil
}

func (b *bench) closeDatabase() {
	if b.pool != nil {
		b.pool.Close()
	}
	if b.cluster != nil {
		b.cluster.Remove()
		return
	}
	if b.server != "" {
		if err := dropDatabase(b.server, b.dbName); err != nil {
			b.logf("drop database %s: %v", b.dbName, err)
		}
	}
}

// scenarios runs setup and every selected scenario in order. A scenario that fails is
// reported as such in the results and the run goes on, unless the context is done.
func (b *bench) scenarios(ctx context.Context) error {
	if err := b.setup(ctx); err != nil {
		return err
	}
	b.timings = append(b.timings, [2]string{"build, cluster, seeding", time.Since(b.started).Round(time.Second).String()})
	steps := map[string]func(context.Context) error{
		"startup": b.startup, "rss": b.rss, "introspect": b.introspect,
		"client-credentials": b.clientCredentials, "password": b.passwordGrant, "mfa": b.mfaLogins, "webhooks": b.webhooks, "refresh": b.refresh,
		"revoke": b.revoke, "pgbouncer": b.pooled, "flood": b.flood, "enumeration": b.enumeration, "storage": b.storage, "scale": b.scale,
		"sweep": b.sweep, "sessions": b.sessions, "revoke-to-refusal": b.revokeToRefusal,
		"bulk-revoke": b.bulkRevoke, "user-import": b.userImport,
	}
	for _, name := range scenarioNames {
		if !b.cfg.runs(name) || (name == "scale" && b.cfg.tenants < 2) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.logf("scenario %s", name)
		t0 := time.Now()
		if err := b.ensureMain(ctx); err != nil {
			return err
		}
		err := steps[name](ctx)
		b.timings = append(b.timings, [2]string{name, time.Since(t0).Round(time.Second).String()})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.note("scenario %s failed: %v", name, err)
		}
	}
	return nil
}

// ensureMain (re)starts the main jeton instance if it is not running.
func (b *bench) ensureMain(ctx context.Context) error {
	if b.main != nil {
		select {
		case err := <-b.main.done:
			b.note("the main jeton instance had exited (%v); restarted", err)
			b.main = nil
		default:
			if waited := quiesce(b.main, 2*time.Minute); waited > 2*time.Second {
				b.note("jeton stayed busy for %v after the previous scenario ended (work for requests whose clients had gone); the next scenario waited", waited.Round(time.Second))
			}
			return nil
		}
	}
	// Shipped defaults, except: the loopback load generator is a trusted proxy (the flood
	// and enumeration scenarios send X-Forwarded-For), and the sweeper runs only when the
	// sweep scenario starts one, in a second instance.
	p, err := b.startJeton(ctx, "jeton", b.dbURL, "JETON_TRUSTED_PROXY=127.0.0.1/32", "JETON_SWEEP_INTERVAL=0",
		"JETON_SECRET_KEYS="+benchKeys)
	if err != nil {
		return err
	}
	b.main = p
	return nil
}

// setup migrates through a first jeton start on the empty database (timed), then seeds.
func (b *bench) setup(ctx context.Context) error {
	first, err := b.startJeton(ctx, "first-start", b.dbURL)
	if err != nil {
		return err
	}
	first.stop()
	b.firstStart = first.ready
	b.logf("first start (empty database, all migrations): ready in %v", first.ready)
	if err := b.seedIdentities(ctx); err != nil {
		return err
	}
	w := &b.w
	w.mainTokens = b.cfg.tokens
	if b.cfg.tenants > 1 {
		w.mainTokens = b.cfg.tokens / 10
	}
	w.revokeFrom = w.mainTokens - w.mainTokens/4
	w.bulkUserCount = max(w.mainTokens/100, 1)
	t0 := time.Now()
	users, err := b.seedBulkUsers(ctx, w.tenantID, "user", w.bulkUserCount, "login-cli")
	if err != nil {
		return err
	}
	now := time.Now()
	if err := b.seedLiveTokens(ctx, tokenBatch{tenant: w.tenantID, client: w.app.ID, users: users,
		from: 0, to: w.mainTokens, issued: now, exp: now.Add(24 * time.Hour)}); err != nil {
		return err
	}
	b.logf("seeded %d users, %d sessions and %d live tokens in %v", len(users), w.mainTokens, w.mainTokens,
		time.Since(t0).Round(time.Millisecond))
	b.seedTime = time.Since(t0)
	return b.settle(ctx)
}

// settle vacuums, analyzes, checkpoints and resets statement statistics after the
// seeding, so what follows is measured on a quiet database.
func (b *bench) settle(ctx context.Context) error {
	if err := b.vacuum(ctx); err != nil {
		return err
	}
	b.resetStatements(ctx)
	return nil
}

// vacuum vacuums and analyzes the database, then checkpoints.
func (b *bench) vacuum(ctx context.Context) error {
	for _, q := range []string{"VACUUM ANALYZE", "CHECKPOINT"} {
		if _, err := b.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

func goCommand(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// workers is jeton's default hashing pool size: its default HashWorkers, 0, means one
// worker per CPU.
func workers() int { return runtime.NumCPU() }
