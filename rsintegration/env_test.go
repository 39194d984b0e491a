package rsintegration_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/keyring"
	"github.com/jeton-auth/jeton/rs"
	"github.com/jeton-auth/jeton/service"
)

const issuer = "http://127.0.0.1:8080"

// instance is one jeton process: its service, its feed hub and its HTTP API. Several may
// share a database, as replicas do.
type instance struct {
	svc     *service.Service
	feed    *service.Feed
	handler http.Handler
	stop    func() // drains the feed's streams and stops its hub
}

// world is a jeton database with tenant "a", an app (password and refresh grants), a
// resource server, alice and bob, an admin key of the tenant, and one instance serving it
// through srv, whose handler tests may swap.
type world struct {
	t        *testing.T
	pool     *pgxpool.Pool
	clock    *testkit.Clock // the service's and the resource servers'
	logs     *testkit.Buffer
	inst     *instance
	handler  atomic.Pointer[http.Handler]
	srv      *httptest.Server
	tenant   db.Tenant
	app, rs  client
	alice    db.User
	adminKey string
}

// client is a created client with its one-time secret.
type client struct{ ID, Secret string }

const bobPassword = "bob's long enough password"

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, pool: dbtest.New(t), clock: testkit.NewClock(testkit.Start), logs: &testkit.Buffer{}}
	w.inst = w.newInstance()
	h := w.inst.handler
	w.handler.Store(&h)
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		(*w.handler.Load()).ServeHTTP(rw, r)
	}))
	// Cleanups run last first: resource servers stop (registered later), then the feed
	// streams end, then the server closes.
	t.Cleanup(w.srv.Close)
	t.Cleanup(func() { w.inst.stop() })

	ctx := context.Background()
	svc := w.inst.svc
	var err error
	if w.tenant, err = svc.CreateTenant(ctx, testkit.Actor, "a", "Tenant a"); err != nil {
		t.Fatal(err)
	}
	w.app = w.mustClient(service.ClientSpec{Name: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}})
	w.rs = w.mustClient(service.ClientSpec{Name: "api", Introspect: true})
	if w.alice, err = svc.CreateUser(ctx, testkit.Actor, "a", "alice", testkit.AlicePassword, nil); err != nil {
		t.Fatal(err)
	}
	if _, err = svc.CreateUser(ctx, testkit.Actor, "a", "bob", bobPassword, nil); err != nil {
		t.Fatal(err)
	}
	if _, w.adminKey, err = svc.CreateAdminKey(ctx, testkit.Actor, "a", "test key"); err != nil {
		t.Fatal(err)
	}
	return w
}

// newInstance starts a jeton instance over w's database.
func (w *world) newInstance() *instance {
	w.t.Helper()
	store := db.New(w.pool)
	cfg := service.DefaultConfig()
	cfg.Hash = testkit.FastHash
	log := w.logs.Logger()
	keys, err := keyring.Parse("k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if err != nil {
		w.t.Fatal(err)
	}
	svc, err := service.New(store, cfg, service.WithClock(w.clock.Now), service.WithLogger(log), service.WithKeyRing(keys))
	if err != nil {
		w.t.Fatal(err)
	}
	feed := service.NewFeed(store, service.FeedConfig{}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		feed.Run(ctx)
	}()
	h, err := api.NewServer(api.Config{Issuer: issuer, Feed: feed}, svc, log)
	if err != nil {
		cancel()
		w.t.Fatal(err)
	}
	var once sync.Once
	return &instance{svc: svc, feed: feed, handler: h, stop: func() {
		once.Do(func() {
			dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer dcancel()
			if err := feed.Drain(dctx); err != nil {
				w.t.Errorf("drain the feed: %v", err)
			}
			cancel()
			<-done
		})
	}}
}

func (w *world) mustClient(spec service.ClientSpec) client {
	w.t.Helper()
	c, secret, err := w.inst.svc.CreateClient(context.Background(), testkit.Actor, "a", spec)
	if err != nil {
		w.t.Fatal(err)
	}
	return client{ID: c.ID, Secret: secret}
}

// countingTransport counts the introspection calls a resource server makes, by token.
type countingTransport struct {
	mu    sync.Mutex
	calls map[string]int
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/introspect" && r.GetBody != nil {
		body, err := r.GetBody()
		if err == nil {
			raw, _ := io.ReadAll(body)
			form, _ := url.ParseQuery(string(raw))
			ct.mu.Lock()
			ct.calls[form.Get("token")]++
			ct.mu.Unlock()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (ct *countingTransport) of(token string) int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.calls[token]
}

// resourceServer is an API protected by package rs, following w's feed.
type resourceServer struct {
	t      *testing.T
	c      *rs.Client
	calls  *countingTransport
	srv    *httptest.Server
	logs   *testkit.Buffer
	cancel context.CancelFunc
}

// newResourceServer starts an API behind c.Middleware (GET /me: any token; GET /notes:
// "read"; POST /notes: "write"), with answers cached for up to an hour on w's clock, which
// stands still: only the feed can evict them. It waits until the feed is live.
func (w *world) newResourceServer(wrap func(c *rs.Client) http.Handler) *resourceServer {
	w.t.Helper()
	calls := &countingTransport{calls: map[string]int{}}
	logs := &testkit.Buffer{}
	c, err := rs.New(rs.Config{URL: w.srv.URL, ClientID: w.rs.ID, ClientSecret: w.rs.Secret, Now: w.clock.Now,
		MaxTTL: time.Hour, HTTPClient: &http.Client{Transport: calls},
		Logger:     logs.Logger(),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		w.t.Fatal(err)
	}
	if wrap == nil {
		wrap = netHTTPAPI
	}
	srv := httptest.NewServer(wrap(c))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	w.t.Cleanup(func() { cancel(); <-done; srv.Close() })
	s := &resourceServer{t: w.t, c: c, calls: calls, srv: srv, logs: logs, cancel: cancel}
	s.wait("the feed to be live", c.WaitHealthy)
	return s
}

// netHTTPAPI is the API on net/http.
func netHTTPAPI(c *rs.Client) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /me", c.Middleware()(http.HandlerFunc(me)))
	mux.Handle("GET /notes", c.Middleware(rs.RequireScopes("read"))(http.HandlerFunc(me)))
	mux.Handle("POST /notes", c.Middleware(rs.RequireScopes("write"))(http.HandlerFunc(me)))
	return mux
}

func me(w http.ResponseWriter, r *http.Request) {
	tok, _ := rs.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"sub": tok.Sub, "username": tok.Username, "sid": tok.Sid,
		"client_id": tok.ClientID, "scope": tok.Scope, "tenant": tok.Tenant})
}

// wait calls f with a generous deadline: it only catches hangs, never measures speed.
func (s *resourceServer) wait(what string, f func(context.Context) error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		s.t.Fatalf("waiting for %s: %v\nresource server log:\n%s", what, err, s.logs.String())
	}
}

// get calls the API with the bearer token and returns the status, the WWW-Authenticate
// header and the decoded body.
func (s *resourceServer) get(method, path, token string) (int, string, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body) // some answers have no body
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body
}

// post sends a form to jeton with the Authorization header authz.
func (w *world) post(path, authz string, form url.Values) (int, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", authz)
	return w.do(req)
}

func basic(c client) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	return req.Header.Get("Authorization")
}

// admin calls the admin API with the tenant's key.
func (w *world) admin(method, path string, body any) (int, []byte) {
	w.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		r = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, w.srv.URL+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+w.adminKey)
	return w.do(req)
}

func (w *world) do(req *http.Request) (int, []byte) {
	w.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// login runs the password grant for username as the app, asking for scope if given, and
// returns the access and refresh tokens.
func (w *world) login(username, pw string, scope ...string) (access, refresh string) {
	w.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}
	if len(scope) > 0 {
		form.Set("scope", strings.Join(scope, " "))
	}
	status, body := w.post("/token", basic(w.app), form)
	if status != http.StatusOK {
		w.t.Fatalf("login %s: %d %s", username, status, body)
	}
	var tok struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		w.t.Fatal(err)
	}
	return tok.Access, tok.Refresh
}

// lastRevocation returns the id of the tenant's latest revocation in the log the feed
// serves, and its kind.
func (w *world) lastRevocation() (int64, string) {
	w.t.Helper()
	var id int64
	var kind string
	err := w.pool.QueryRow(context.Background(),
		`SELECT id, kind FROM revocations WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1`, w.tenant.ID).Scan(&id, &kind)
	if err != nil {
		w.t.Fatalf("the revocation log: %v", err)
	}
	return id, kind
}
