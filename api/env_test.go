package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/metrics"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

const issuer = "http://127.0.0.1:8080"

// env is one jeton over a database, served by httptest.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	server *api.Server // the handler srv serves
	svc    *service.Service
	store  *db.Store
	clock  *testkit.Clock
	cli    db.Actor
	logs   *testkit.Buffer // everything the server and the service logged, at every level
	pool   *pgxpool.Pool
	// metrics hears the service and every request, as in production.
	metrics *metrics.Metrics
	feed    *service.Feed // the revocation feed (withFeed), else nil
}

// envConfig is what newEnv's options set.
type envConfig struct {
	pool      *pgxpool.Pool // nil: a fresh database
	configure []func(*service.Config)
	api       api.Config
	service   []service.Option
	feed      *service.FeedConfig // nil: no revocation feed
	http      func(*http.Server)
}

// envOption adjusts the jeton newEnv starts.
type envOption func(*envConfig)

// onPool runs jeton over pool: a database the test configured itself
// (dbtest.NewWithConfig) or one another instance uses too.
func onPool(pool *pgxpool.Pool) envOption { return func(c *envConfig) { c.pool = pool } }

// withConfig adjusts the service's configuration, after newEnv set its fast hashing.
func withConfig(configure func(*service.Config)) envOption {
	return func(c *envConfig) { c.configure = append(c.configure, configure) }
}

// withAPI is the HTTP layer's configuration; newEnv sets its Issuer, Requests and Feed.
func withAPI(acfg api.Config) envOption { return func(c *envConfig) { c.api = acfg } }

// withService passes opts to service.New, after newEnv's clock, logger and observer.
func withService(opts ...service.Option) envOption {
	return func(c *envConfig) { c.service = append(c.service, opts...) }
}

// withFeed runs a revocation feed with cfg on the env's clock, drained before the server
// closes.
func withFeed(cfg service.FeedConfig) envOption { return func(c *envConfig) { c.feed = &cfg } }

// withHTTP adjusts the test server before it starts.
func withHTTP(adjust func(*http.Server)) envOption { return func(c *envConfig) { c.http = adjust } }

// hookedHasher is a hashing worker that runs before and after around each password
// verification, on the worker: tests hold the worker busy, or change state between a
// login's verification and the writing of its tokens.
type hookedHasher struct {
	password.Hasher
	before, after func()
}

func (h hookedHasher) Verify(pw, phc string) (bool, error) {
	if h.before != nil {
		h.before()
	}
	ok, err := h.Hasher.Verify(pw, phc)
	if h.after != nil {
		h.after()
	}
	return ok, err
}

// withHookedHashers runs the service's hashing on n workers in this process, each with
// the hooks (nil: none) around every verification.
func withHookedHashers(n int, before, after func()) envOption {
	hs := make([]password.Hasher, n)
	for i := range hs {
		hs[i] = hookedHasher{Hasher: password.Local{Rand: rand.Reader}, before: before, after: after}
	}
	return withService(service.WithHashers(hs))
}

// newEnv starts one jeton, by default over a fresh database, with the test clock, fast
// hashing, a log of every level and metrics, as opts adjust it.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	var o envConfig
	for _, opt := range opts {
		opt(&o)
	}
	if o.pool == nil {
		o.pool = dbtest.New(t)
	}
	e := &env{t: t, store: db.New(o.pool, db.WithListenConfig(dbtest.ListenConfig(o.pool))), clock: testkit.NewClock(testkit.Start), cli: testkit.Actor,
		logs: &testkit.Buffer{}, pool: o.pool, metrics: metrics.New()}
	cfg := service.DefaultConfig()
	cfg.Hash = testkit.FastHash
	for _, configure := range o.configure {
		configure(&cfg)
	}
	log := e.logs.Logger()
	svc, err := service.New(e.store, cfg, append([]service.Option{service.WithClock(e.clock.Now), service.WithLogger(log),
		service.WithObserver(e.metrics)}, o.service...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	acfg := o.api
	acfg.Issuer, acfg.Requests = issuer, e.metrics
	if o.feed != nil {
		e.feed = e.runFeed(*o.feed, log)
		acfg.Feed = e.feed
	}
	if e.server, err = api.NewServer(acfg, svc, log); err != nil {
		t.Fatal(err)
	}
	// Every response is validated against the OpenAPI document (openapi_test.go).
	e.srv = httptest.NewUnstartedServer(validating(t, e.server))
	if o.http != nil {
		o.http(e.srv.Config)
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	if e.feed != nil {
		t.Cleanup(func() { // before the server closes: it waits for every open stream
			ctx, cancel := context.WithTimeout(context.Background(), hang)
			defer cancel()
			if err := e.feed.Drain(ctx); err != nil {
				t.Errorf("drain: %v", err)
			}
		})
	}
	return e
}

// runFeed starts a revocation feed on the env's store and clock, stopped after the
// server closes.
func (e *env) runFeed(cfg service.FeedConfig, log *slog.Logger) *service.Feed {
	cfg.Gauge = e.metrics.FeedStreams
	feed := service.NewFeed(e.store, cfg, log, service.WithFeedClock(e.clock.Now))
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		feed.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-ran
	})
	return feed
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

func newWorld(t *testing.T, opts ...envOption) world {
	t.Helper()
	e := newEnv(t, opts...)
	e.mustTenant("a")
	w := world{env: e}
	w.app = e.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read", "write"}})
	w.rs = e.mustClient("a", service.ClientSpec{Name: "api", Introspect: true})
	w.alice = e.mustUser("a", "alice", testkit.AlicePassword)
	return w
}
