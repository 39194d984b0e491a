package api_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/tokens"
)

// blackHole accepts connections and never answers, like a hung server or a partitioned
// network. It returns its address; everything closes with the test.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns an address nothing listens on: connections are refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// With the database down (connections refused) or hung (nothing answers), every
// OAuth endpoint and the admin API answer 503 with Retry-After, /readyz says unavailable
// and /healthz stays up. A connection attempt to the hung database outlasts the client's
// patience (hang), so an answer at all means the request's own timeout gave it: what is
// checked is who answers first, not how fast.
func TestDatabaseAway(t *testing.T) {
	const timeout, adminTimeout = 300 * time.Millisecond, 600 * time.Millisecond
	// A well-formed client and admin key, so that every request gets as far as the database.
	secret, _ := tokens.New(tokens.ClientSecret, rand.Reader)
	key, _ := tokens.New(tokens.AdminKey, rand.Reader)
	app := client{ID: "jc_abcdefghijklmnopqrstuvwx", Secret: secret}
	for _, tc := range []struct {
		name string
		addr func(*testing.T) string
	}{
		{"down", closedPort},
		{"hung", blackHole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := pgxpool.New(context.Background(), "postgres://jeton@"+tc.addr(t)+"/jeton?sslmode=disable&connect_timeout=300")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			srv := newEnv(t, onPool(pool), withAPI(api.Config{RequestTimeout: timeout, AdminTimeout: adminTimeout})).srv
			client := srv.Client()
			client.Timeout = hang
			form := func(kv ...string) string {
				v := url.Values{}
				for i := 0; i+1 < len(kv); i += 2 {
					v.Set(kv[i], kv[i+1])
				}
				return v.Encode()
			}
			for _, r := range []struct {
				method, path, body string
				admin              bool
			}{
				{http.MethodPost, "/token", form("grant_type", "password", "username", "alice", "password", "correct horse battery"), false},
				{http.MethodPost, "/token", form("grant_type", "client_credentials"), false},
				{http.MethodPost, "/introspect", form("token", "jat_x"), false},
				{http.MethodPost, "/revoke", form("token", "jat_x"), false},
				{http.MethodOptions, "/token", "", false},
				{http.MethodGet, "/admin/v1/tenants", "", true},
				{http.MethodPost, "/admin/v1/tenants", `{"slug":"acme"}`, true},
			} {
				req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
				switch {
				case r.admin:
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/json")
				case r.method == http.MethodOptions:
					req.Header.Set("Origin", "https://app.example")
					req.Header.Set("Access-Control-Request-Method", "POST")
				default:
					req.Header.Set("Authorization", basic(app.ID, app.Secret))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v (no answer before the client gave up)", r.method, r.path, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s %s: %d, Retry-After %q; want 503 with Retry-After", r.method, r.path, resp.StatusCode,
						resp.Header.Get("Retry-After"))
				}
			}
			if got := get(t, srv.URL+"/healthz"); got != http.StatusOK {
				t.Errorf("/healthz: %d, want 200", got)
			}
			resp, err := client.Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatalf("/readyz: %v (no answer before the client gave up)", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("/readyz: %d, want 503", resp.StatusCode)
			}
		})
	}
}

// A draining server says so on /readyz, asks clients to reconnect elsewhere, and
// keeps serving everything else.
func TestDrain(t *testing.T) {
	e := newEnv(t)
	h, srv := e.server, e.srv
	if got := get(t, srv.URL+"/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz before draining: %d", got)
	}
	h.Drain()
	resp, err := srv.Client().Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close {
		t.Errorf("/readyz while draining: %d, close %v; want 503 and Connection: close", resp.StatusCode, resp.Close)
	}
	resp, err = srv.Client().Post(srv.URL+"/introspect", "application/x-www-form-urlencoded", strings.NewReader("token=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Served (401: no credentials), not refused.
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("/introspect while draining: %d, close %v; want 401 and Connection: close", resp.StatusCode, resp.Close)
	}
	if got := get(t, srv.URL+"/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while draining: %d", got)
	}
}

func get(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// listenChecks hears LISTEN self-check outcomes.
type listenChecks chan bool

func (c listenChecks) ListenChecked(_ string, ok bool) { c <- ok }

// TestReadyzFeedDelivery: /readyz says how the feed delivers, and stays 200 when its
// notifications do not arrive (its LISTEN connection on another database than the one
// revocations are written to, as behind a pooler in transaction mode): it still delivers,
// within a poll.
func TestReadyzFeedDelivery(t *testing.T) {
	pool, other := dbtest.New(t), dbtest.New(t)
	for _, tc := range []struct {
		name   string
		listen *pgxpool.Pool
		want   string
	}{
		{"direct", pool, "listening"},
		{"notifications lost", other, "polling"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			heard := make(listenChecks, 1)
			store := db.New(pool, db.WithListenConfig(dbtest.ListenConfig(tc.listen)))
			// A check that must pass may take long on a loaded machine; one that fails waits
			// for the whole of it.
			wait := map[bool]time.Duration{true: hang, false: 200 * time.Millisecond}[tc.want == "listening"]
			feed := service.NewFeed(store, service.FeedConfig{ListenCheck: wait, Observer: heard}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan struct{})
			go func() { feed.Run(ctx); close(ran) }()
			t.Cleanup(func() { cancel(); <-ran })
			e := newEnv(t, onPool(pool), withAPI(api.Config{Feed: feed}))
			select {
			case <-heard:
			case <-time.After(2 * hang):
				t.Fatal("no self-check outcome")
			}
			resp, err := http.Get(e.srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]string
			err = json.NewDecoder(resp.Body).Decode(&got)
			if want := map[string]string{"status": "ok", "feed": tc.want}; err != nil || resp.StatusCode != http.StatusOK || !maps.Equal(got, want) {
				t.Errorf("/readyz: %d %v %v, want 200 %v", resp.StatusCode, got, err, want)
			}
		})
	}
}
