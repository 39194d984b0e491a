package api_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
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
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/tokens"
)

// serverOn returns jeton's handler (checked against the OpenAPI document) over pool.
func serverOn(t *testing.T, pool *pgxpool.Pool, acfg api.Config) (*api.Server, *httptest.Server) {
	t.Helper()
	cfg := service.DefaultConfig()
	cfg.Hash = fastHash
	svc, err := service.New(db.New(pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	acfg.Issuer = issuer
	h, err := api.NewServer(acfg, svc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(validating(t, h))
	t.Cleanup(srv.Close)
	return h, srv
}

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

// Issue 8: with the database down (connections refused) or hung (nothing answers), every
// OAuth endpoint and the admin API answer 503 with Retry-After within their timeouts,
// /readyz says unavailable and /healthz stays up.
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
			pool, err := pgxpool.New(context.Background(), "postgres://jeton@"+tc.addr(t)+"/jeton?sslmode=disable&connect_timeout=2")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			_, srv := serverOn(t, pool, api.Config{RequestTimeout: timeout, AdminTimeout: adminTimeout})
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
				start := time.Now()
				resp, err := srv.Client().Do(req)
				took := time.Since(start)
				if err != nil {
					t.Fatalf("%s %s: %v", r.method, r.path, err)
				}
				resp.Body.Close()
				limit := timeout
				if r.admin {
					limit = adminTimeout
				}
				// The margin only catches a hang.
				if took > limit+time.Second {
					t.Errorf("%s %s took %v, over the %v timeout", r.method, r.path, took, limit)
				}
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s %s: %d, Retry-After %q; want 503 with Retry-After", r.method, r.path, resp.StatusCode,
						resp.Header.Get("Retry-After"))
				}
			}
			if got := get(t, srv.URL+"/healthz"); got != http.StatusOK {
				t.Errorf("/healthz: %d, want 200", got)
			}
			start := time.Now()
			if got := get(t, srv.URL+"/readyz"); got != http.StatusServiceUnavailable {
				t.Errorf("/readyz: %d, want 503", got)
			}
			if took := time.Since(start); took > timeout+time.Second {
				t.Errorf("/readyz took %v", took)
			}
		})
	}
}

// Issue 8: a draining server says so on /readyz, asks clients to reconnect elsewhere, and
// keeps serving everything else.
func TestDrain(t *testing.T) {
	h, srv := serverOn(t, dbtest.New(t), api.Config{})
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
