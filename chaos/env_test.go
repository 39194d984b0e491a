package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/pgcluster"
)

// env is one run's world: the clusters, the jeton instances and what was seeded.
type env struct {
	t       *testing.T
	cfg     config
	dir     string
	bin     string
	primary *pgcluster.Cluster
	standby *pgcluster.Cluster
	dbURL   string // the multi-host URL the instances use
	inst    []*instance
	http    *http.Client
	seed    seed
	ledger  *ledger
	report  *report
}

// pgSettings are the clusters' command-line settings. fsync is off: the suite kills
// processes, never the machine, so the operating system's cache keeps what PostgreSQL
// wrote, and the 2-core CI box is spared the flushes. Durability across the failover comes
// from synchronous replication, which does not depend on fsync.
var pgSettings = []string{"fsync=off", "max_connections=200", "wal_retrieve_retry_interval=500ms",
	"log_min_messages=warning", "log_connections=off"}

// newEnv starts the clusters and three instances, and seeds the tenant.
func newEnv(t *testing.T, cfg config) *env {
	t.Helper()
	needBinaries(t)
	e := &env{t: t, cfg: cfg, dir: suiteDir(t), ledger: newLedger(), report: newReport(cfg)}
	e.bin = buildJeton(t, e.dir)
	e.http = newHTTPClient()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var err error
	e.primary, err = pgcluster.Init(ctx, pgcluster.Options{Parent: e.dir, Settings: pgSettings, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.primary.Remove)
	// In postgresql.auto.conf, where the standby inherits it (pg_basebackup copies it) as it
	// would inherit an identical postgresql.conf; it must be cleared there before promotion.
	e.sql(ctx, e.primary, "postgres", "ALTER SYSTEM SET synchronous_standby_names = '*'")
	e.sql(ctx, e.primary, "postgres", "SELECT pg_reload_conf()")
	e.standby, err = e.primary.Standby(ctx, pgcluster.Options{Parent: e.dir, Settings: pgSettings, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.standby.Remove)
	e.sql(ctx, e.primary, "postgres", "CREATE DATABASE jeton")
	e.dbURL = fmt.Sprintf("postgres://postgres@%s,%s/jeton?sslmode=disable&target_session_attrs=read-write",
		e.primary.Host(), e.standby.Host())

	for i := range 3 {
		in, err := newInstance(e, fmt.Sprintf("i%d", i))
		if err != nil {
			t.Fatal(err)
		}
		e.inst = append(e.inst, in)
		t.Cleanup(in.kill)
		// The first migrates; the others find the schema done (goose's lock would
		// serialise them anyway).
		if err := in.start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.seedTenant(ctx)
	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range e.inst {
				t.Logf("--- %s log (tail)\n%s", in.name, tail(in.logPath, 3000))
			}
			t.Logf("--- primary log (tail)\n%s", e.primary.LogTail(3000))
			t.Logf("--- standby log (tail)\n%s", e.standby.LogTail(3000))
		}
	})
	return e
}

// sql runs statements on db of cluster c, failing the test on error.
func (e *env) sql(ctx context.Context, c *pgcluster.Cluster, db, sql string, args ...any) {
	e.t.Helper()
	if err := execSQL(ctx, c, db, sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func execSQL(ctx context.Context, c *pgcluster.Cluster, db, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, c, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// connect opens a connection to db on c, straight to that server.
func connect(ctx context.Context, c *pgcluster.Cluster, db string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, c.URL(db))
}

// bases returns the instances' base URLs.
func (e *env) bases() []string {
	out := make([]string, len(e.inst))
	for i, in := range e.inst {
		out[i] = in.base()
	}
	return out
}

// instance is one `jeton serve` child process, restartable on the same ports.
type instance struct {
	name    string
	bin     string
	addr    string
	opsAddr string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit, once done is closed
}

func newInstance(e *env, name string) (*instance, error) {
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	opsPort, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	in := &instance{name: name, bin: e.bin, addr: "127.0.0.1:" + strconv.Itoa(port),
		opsAddr: "127.0.0.1:" + strconv.Itoa(opsPort), logPath: filepath.Join(e.dir, name+".log")}
	in.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir,
		"JETON_DATABASE_URL=" + e.dbURL, "JETON_ISSUER=http://" + in.addr, "JETON_ADDR=" + in.addr,
		"JETON_OPS_ADDR=" + in.opsAddr, "JETON_ACCESS_TTL=2h", "JETON_ADMIN_TIMEOUT=" + adminTimeout.String(),
		"JETON_SHUTDOWN_DRAIN=" + e.cfg.drain.String(), "JETON_SHUTDOWN_TIMEOUT=10s"}
	return in, nil
}

func (in *instance) base() string { return "http://" + in.addr }

// start runs the process and waits until /readyz answers 200.
func (in *instance) start(ctx context.Context) error {
	logFile, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(in.bin, "serve")
	cmd.Env = in.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", in.name, err)
	}
	done := make(chan struct{})
	in.mu.Lock()
	in.cmd, in.done = cmd, done
	in.mu.Unlock()
	go func() {
		err := cmd.Wait()
		in.mu.Lock()
		in.err = err
		in.mu.Unlock()
		close(done)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := client.Get(in.base() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready: %v\n%s", in.name, in.exitErr(), tail(in.logPath, 3000))
		case <-ctx.Done():
			in.kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.kill()
			return fmt.Errorf("%s not ready within a minute\n%s", in.name, tail(in.logPath, 3000))
		}
	}
}

func (in *instance) exitErr() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

// terminate sends SIGTERM and waits for the exit (at most limit), returning the exit error
// and how long it took.
func (in *instance) terminate(limit time.Duration) (time.Duration, error) {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.mu.Unlock()
	if cmd == nil {
		return 0, errors.New("not running")
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		took := time.Since(start)
		in.mu.Lock()
		in.cmd = nil
		in.mu.Unlock()
		return took, in.exitErr()
	case <-time.After(limit):
		in.kill()
		return time.Since(start), fmt.Errorf("%s did not exit within %v of SIGTERM", in.name, limit)
	}
}

// kill ends the process at once; harmless when it is not running.
func (in *instance) kill() {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.cmd = nil
	in.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// pid returns the running process's id, 0 when stopped.
func (in *instance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return 0
	}
	return in.cmd.Process.Pid
}

// tail returns the last n bytes of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// seed is what the suite created through the admin API.
type seed struct {
	adminKey string
	app      clientCreds // password and refresh_token grants: the load's client
	rs       clientCreds // introspect: the resource server
	rot      *rotating   // client_credentials, its secret rotated by the admin
	password string      // every load user's password
	workers  []string    // load usernames
	victims  []*victim   // users the admin disables, re-passwords and revokes
}

type clientCreds struct{ id, secret string }

// rotating is a client whose secret the admin rotates: the current secret, acknowledged,
// and every earlier one, which must be refused.
type rotating struct {
	mu      sync.Mutex
	id      string
	secret  string
	retired []string
}

// victim is a user the admin acts on, and its expected state as acknowledged.
type victim struct {
	name     string
	id       string
	password string
	retired  []string // earlier passwords, refused since their change was acknowledged
	disabled bool
}

const tenant = "chaos"

// seedTenant creates a global admin key with the CLI, then the tenant, its clients and
// users through the admin API of the first instance.
func (e *env) seedTenant(ctx context.Context) {
	t := e.t
	cmd := exec.CommandContext(ctx, e.bin, "admin-key", "create", "--name", "chaos", "--json")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir, "JETON_DATABASE_URL=" + e.dbURL}
	out, err := cmd.Output()
	var key struct{ Key string }
	if err != nil || json.Unmarshal(out, &key) != nil || key.Key == "" {
		t.Fatalf("jeton admin-key create: %v %s", err, out)
	}
	e.seed.adminKey = key.Key
	a := e.admin(e.inst[0].base())
	must := func(status int, body map[string]any, err error) map[string]any {
		t.Helper()
		if err != nil || status/100 != 2 {
			t.Fatalf("seeding: %d %v %v", status, body, err)
		}
		return body
	}
	must(a.do(ctx, http.MethodPost, "/admin/v1/tenants", map[string]any{"slug": tenant}))
	client := func(spec map[string]any) clientCreds {
		b := must(a.do(ctx, http.MethodPost, "/admin/v1/tenants/"+tenant+"/clients", spec))
		return clientCreds{id: b["client_id"].(string), secret: b["client_secret"].(string)}
	}
	e.seed.app = client(map[string]any{"name": "app", "grant_types": []string{"password", "refresh_token"},
		"scopes": []string{"read", "write"}})
	e.seed.rs = client(map[string]any{"name": "rs", "introspect": true})
	rot := client(map[string]any{"name": "rot", "grant_types": []string{"client_credentials"}, "scopes": []string{"read"}})
	e.seed.rot = &rotating{id: rot.id, secret: rot.secret}
	e.seed.password = randomPassword()
	user := func(name, pw string) string {
		b := must(a.do(ctx, http.MethodPost, "/admin/v1/tenants/"+tenant+"/users",
			map[string]any{"username": name, "password": pw}))
		return b["id"].(string)
	}
	for i := range e.cfg.workers {
		name := fmt.Sprintf("w%d", i)
		user(name, e.seed.password)
		e.seed.workers = append(e.seed.workers, name)
	}
	for i := range 3 {
		v := &victim{name: fmt.Sprintf("v%d", i), password: randomPassword()}
		v.id = user(v.name, v.password)
		e.seed.victims = append(e.seed.victims, v)
	}
	for _, name := range []string{"reuse", "throttle"} {
		user(name, e.seed.password)
	}
}

// adminClient calls the admin API of one instance.
type adminClient struct {
	e    *env
	base string
}

func (e *env) admin(base string) adminClient { return adminClient{e: e, base: base} }

// do sends a JSON request and decodes a JSON answer.
func (a adminClient) do(ctx context.Context, method, path string, body any) (int, map[string]any, error) {
	r, err := a.raw(ctx, method, path, body)
	return r.status, r.body, err
}

type adminAnswer struct {
	status     int
	body       map[string]any
	retryAfter string
}

func (a adminClient) raw(ctx context.Context, method, path string, body any) (adminAnswer, error) {
	var r *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	} else {
		r = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return adminAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+a.e.seed.adminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.e.http.Do(req)
	if err != nil {
		return adminAnswer{}, err
	}
	defer resp.Body.Close()
	out := adminAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	_ = json.NewDecoder(resp.Body).Decode(&out.body)
	return out, nil
}

// reuseEvents returns the token_hash of every refresh_reuse_detected event of the tenant.
func (e *env) reuseEvents(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	a := e.admin(e.anyReady(ctx))
	cursor := ""
	for {
		path := "/admin/v1/tenants/" + tenant + "/events?kind=refresh_reuse_detected&limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		status, body, err := a.do(ctx, http.MethodGet, path, nil)
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("events: %d %v %v", status, body, err)
		}
		items, _ := body["items"].([]any)
		for _, it := range items {
			ev, _ := it.(map[string]any)
			d, _ := ev["detail"].(map[string]any)
			if h, ok := d["token_hash"].(string); ok {
				out[h] = true
			}
		}
		next, _ := body["next_cursor"].(string)
		if next == "" || len(items) == 0 {
			return out, nil
		}
		cursor = next
	}
}

// anyReady returns the base URL of an instance that answers /readyz, waiting for one.
func (e *env) anyReady(ctx context.Context) string {
	for {
		for _, in := range e.inst {
			if in.pid() == 0 {
				continue
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.base()+"/readyz", nil)
			if resp, err := e.http.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return in.base()
				}
			}
		}
		select {
		case <-ctx.Done():
			return e.inst[0].base()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitAllReady waits until every running instance answers /readyz 200, and returns when
// the last one did.
func (e *env) waitAllReady(ctx context.Context) error {
	for _, in := range e.inst {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.base()+"/readyz", nil)
			resp, err := e.http.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not ready: %w", in.name, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	// Past the hang bound the request is a hang: the client gives up a little later, so
	// the record shows the latency of every answer that came.
	return &http.Client{Transport: tr, Timeout: adminTimeout + hangMargin + 5*time.Second}
}

// randomPassword returns 24 letters: long enough for jeton's 15-character minimum.
func randomPassword() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b strings.Builder
	for range 24 {
		b.WriteByte(letters[randIntN(len(letters))])
	}
	return b.String()
}
