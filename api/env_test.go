package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/metrics"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

// clock is a settable time source shared by the service under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const issuer = "http://127.0.0.1:8080"

// env is one jeton over a fresh database, served by httptest.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	svc   *service.Service
	store *db.Store
	clock *clock
	cli   db.Actor
	logs  *logBuffer // everything the server and the service logged, at every level
	pool  *pgxpool.Pool
	// metrics hears the service and every request, as in production.
	metrics *metrics.Metrics
}

// logBuffer collects log output from concurrent requests.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fastHash keeps tests quick; production parameters are exercised by the password package.
var fastHash = password.Params{Memory: 64, Time: 1, Threads: 1}

func newEnv(t *testing.T, opts ...service.Option) *env {
	t.Helper()
	return newEnvOn(t, dbtest.New(t), opts...)
}

// newEnvOn is newEnv over a pool the test configured itself (dbtest.NewWithConfig).
func newEnvOn(t *testing.T, pool *pgxpool.Pool, opts ...service.Option) *env {
	t.Helper()
	return newEnvFrom(t, pool, nil, api.Config{}, opts...)
}

// newEnvConfig is newEnv with the service's configuration adjusted by configure (nil:
// none) and the HTTP layer's by acfg (its Issuer is always the test issuer).
func newEnvConfig(t *testing.T, configure func(*service.Config), acfg api.Config, opts ...service.Option) *env {
	t.Helper()
	return newEnvFrom(t, dbtest.New(t), configure, acfg, opts...)
}

func newEnvFrom(t *testing.T, pool *pgxpool.Pool, configure func(*service.Config), acfg api.Config, opts ...service.Option) *env {
	t.Helper()
	store := db.New(pool)
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := service.DefaultConfig()
	cfg.Hash = fastHash
	if configure != nil {
		configure(&cfg)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New()
	svc, err := service.New(store, cfg, append([]service.Option{service.WithClock(clk.Now), service.WithLogger(log),
		service.WithObserver(m)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	acfg.Issuer = issuer
	acfg.Requests = m
	h, err := api.NewServer(acfg, svc, log)
	if err != nil {
		t.Fatal(err)
	}
	// Every response is validated against the OpenAPI document (openapi_test.go).
	srv := httptest.NewServer(validating(t, h))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, store: store, clock: clk, cli: db.Actor{Type: "cli", ID: "test", Name: "cli:test"},
		logs: logs, pool: pool, metrics: m}
}

func (e *env) mustTenant(slug string) db.Tenant {
	e.t.Helper()
	tn, err := e.svc.CreateTenant(context.Background(), e.cli, slug, "Tenant "+slug)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// client is a created client with its one-time secret.
type client struct {
	ID, Secret string
}

func (e *env) mustClient(slug string, spec service.ClientSpec) client {
	e.t.Helper()
	if spec.Name == "" {
		spec.Name = "test client"
	}
	c, secret, err := e.svc.CreateClient(context.Background(), e.cli, slug, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return client{ID: c.ID, Secret: secret}
}

func (e *env) mustUser(slug, username, pw string, scopes ...string) db.User {
	e.t.Helper()
	u, err := e.svc.CreateUser(context.Background(), e.cli, slug, username, pw, scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// post sends a form to path, authenticating as c with HTTP Basic when c is not nil.
func (e *env) post(path string, c *client, form url.Values) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.Header.Set("Authorization", basic(c.ID, c.Secret))
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// login runs the password grant and returns the token response, failing on anything but 200.
func (e *env) login(c client, username, pw string, extra ...string) map[string]any {
	e.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	r := e.post("/token", &c, form)
	if r.Status != http.StatusOK {
		e.t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)
}

// introspect asks as rs and returns the decoded answer, failing on anything but 200.
func (e *env) introspect(rs client, token string) map[string]any {
	e.t.Helper()
	r := e.post("/introspect", &rs, url.Values{"token": {token}})
	if r.Status != http.StatusOK {
		e.t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)
}

// world is the usual fixture: tenant "a" with an app client (password + refresh), a
// resource server and alice.
type world struct {
	*env
	app, rs client
	alice   db.User
}

const alicePassword = "correct horse battery staple"

func newWorld(t *testing.T, opts ...service.Option) world {
	e := newEnv(t, opts...)
	e.mustTenant("a")
	w := world{env: e}
	w.app = e.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read", "write"}})
	w.rs = e.mustClient("a", service.ClientSpec{Name: "api", Introspect: true})
	w.alice = e.mustUser("a", "alice", alicePassword)
	return w
}
