package rsintegration_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/rs"
	"github.com/jeton-auth/jeton/rs/ginrs"
)

// A token revoked at jeton, by any of its ways, stops working at a caching
// resource server once the feed delivers the revocation. The test checks ordering, not
// speed: the cache would keep the answer for an hour on a clock that stands still, so only
// the feed can evict it; after the revoking request returned and the resource server
// reports that it applied an event at or beyond the revocation's log id, the next request
// is refused. Bob's token, of the same app, shows which evictions are targeted.
func TestRevocationReachesResourceServer(t *testing.T) {
	tests := []struct {
		name       string
		kind       string // the revocation log's kind
		bobRefused bool   // the revocation covers bob's token too
		revoke     func(w *world, access, refresh, sid string)
	}{
		{name: "access token at /revoke", kind: "token", revoke: func(w *world, access, _, _ string) {
			wantStatus(w.t, "revoke", http.StatusOK)(w.post("/revoke", basic(w.app), url.Values{"token": {access}}))
		}},
		{name: "refresh token at /revoke: its session", kind: "session", revoke: func(w *world, _, refresh, _ string) {
			wantStatus(w.t, "revoke", http.StatusOK)(w.post("/revoke", basic(w.app), url.Values{"token": {refresh}}))
		}},
		{name: "admin key at /revoke", kind: "token", revoke: func(w *world, access, _, _ string) {
			wantStatus(w.t, "revoke", http.StatusOK)(w.post("/revoke", "Bearer "+w.adminKey, url.Values{"token": {access}}))
		}},
		{name: "admin API: the user's tokens", kind: "user", revoke: func(w *world, _, _, _ string) {
			wantStatus(w.t, "bulk revoke", http.StatusOK)(w.admin("POST", "/admin/v1/tenants/a/users/"+w.alice.ID.String()+"/revoke", nil))
		}},
		{name: "admin API: the session", kind: "session", revoke: func(w *world, _, _, sid string) {
			wantStatus(w.t, "session delete", http.StatusNoContent)(w.admin("DELETE", "/admin/v1/tenants/a/users/"+w.alice.ID.String()+"/sessions/"+sid, nil))
		}},
		{name: "admin API: a new password", kind: "user", revoke: func(w *world, _, _, _ string) {
			wantStatus(w.t, "set password", http.StatusNoContent)(w.admin("PUT", "/admin/v1/tenants/a/users/"+w.alice.ID.String()+"/password",
				map[string]string{"password": "an entirely new long password"}))
		}},
		{name: "admin API: the user disabled", kind: "user", revoke: func(w *world, _, _, _ string) {
			wantStatus(w.t, "disable", http.StatusOK)(w.admin("PATCH", "/admin/v1/tenants/a/users/"+w.alice.ID.String(), map[string]any{"disabled": true}))
		}},
		{name: "admin API: the client's tokens", kind: "client", bobRefused: true, revoke: func(w *world, _, _, _ string) {
			wantStatus(w.t, "bulk revoke", http.StatusOK)(w.admin("POST", "/admin/v1/tenants/a/clients/"+w.app.ID+"/revoke", nil))
		}},
		{name: "admin API: the tenant's tokens", kind: "tenant", bobRefused: true, revoke: func(w *world, _, _, _ string) {
			wantStatus(w.t, "bulk revoke", http.StatusOK)(w.admin("POST", "/admin/v1/tenants/a/revoke", nil))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			s := w.newResourceServer(nil)
			access, refresh := w.login("alice", testkit.AlicePassword)
			bob, _ := w.login("bob", bobPassword)

			var sid string
			for i := range 2 {
				status, _, body := s.get("GET", "/notes", access)
				if status != http.StatusOK {
					t.Fatalf("request %d before the revocation: %d %v", i, status, body)
				}
				sid, _ = body["sid"].(string)
			}
			wantOK(s, bob, "bob before the revocation")
			if n := s.calls.of(access); n != 1 {
				t.Fatalf("%d introspection calls for two requests, want 1: the answer is not cached", n)
			}

			tt.revoke(w, access, refresh, sid)
			id, kind := w.lastRevocation()
			if kind != tt.kind {
				t.Errorf("the revocation log says %q, want %q", kind, tt.kind)
			}
			s.wait("the revocation to be applied", func(ctx context.Context) error { return s.c.WaitApplied(ctx, id) })

			status, challenge, _ := s.get("GET", "/notes", access)
			if status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("after the revocation: %d %q, want 401 invalid_token", status, challenge)
			}
			if n := s.calls.of(access); n != 2 {
				t.Errorf("%d introspection calls, want 2: the entry was not evicted", n)
			}
			calls := s.calls.of(bob)
			status, _, _ = s.get("GET", "/notes", bob)
			switch {
			case tt.bobRefused && status != http.StatusUnauthorized:
				t.Errorf("bob's token, also revoked: %d, want 401", status)
			case !tt.bobRefused && (status != http.StatusOK || s.calls.of(bob) != calls):
				t.Errorf("bob's token: %d with %d more calls, want 200 from the cache", status, s.calls.of(bob)-calls)
			}
		})
	}
}

func wantStatus(t *testing.T, what string, want int) func(int, []byte) {
	return func(status int, body []byte) {
		t.Helper()
		if status != want {
			t.Fatalf("%s: %d %s, want %d", what, status, body, want)
		}
	}
}

func wantOK(s *resourceServer, token, what string) {
	s.t.Helper()
	if status, _, body := s.get("GET", "/notes", token); status != http.StatusOK {
		s.t.Fatalf("%s: %d %v", what, status, body)
	}
}

// The middleware's answers with a real jeton: who the token speaks for, 403 for a missing
// scope (RFC 6750 §3.1), 401 without a token; through net/http and through Gin.
func TestMiddlewareWithJeton(t *testing.T) {
	gin.SetMode(gin.TestMode)
	apis := map[string]func(*rs.Client) http.Handler{
		"net/http": netHTTPAPI,
		"gin": func(c *rs.Client) http.Handler {
			r := gin.New()
			h := func(g *gin.Context) { me(g.Writer, g.Request) }
			r.GET("/me", ginrs.Middleware(c), h)
			r.GET("/notes", ginrs.Middleware(c, rs.RequireScopes("read")), h)
			r.POST("/notes", ginrs.Middleware(c, rs.RequireScopes("write")), h)
			return r
		},
	}
	for name, api := range apis {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			s := w.newResourceServer(api)
			access, _ := w.login("alice", testkit.AlicePassword, "read")

			status, _, me := s.get("GET", "/me", access)
			if status != http.StatusOK || me["sub"] != w.alice.ID.String() || me["username"] != "alice" ||
				me["client_id"] != w.app.ID || me["tenant"] != "a" || me["sid"] == "" {
				t.Errorf("GET /me: %d %v", status, me)
			}
			if status, _, _ := s.get("GET", "/notes", access); status != http.StatusOK {
				t.Errorf("GET /notes with read: %d", status)
			}
			status, challenge, _ := s.get("POST", "/notes", access)
			if want := `Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="write"`; status != http.StatusForbidden || challenge != want {
				t.Errorf("POST /notes without write: %d %s", status, challenge)
			}
			if status, challenge, _ := s.get("GET", "/me", ""); status != http.StatusUnauthorized || challenge != `Bearer realm="api"` {
				t.Errorf("no token: %d %s", status, challenge)
			}
		})
	}
}

// A revocation committed while the resource server is disconnected (its jeton instance
// shut down) reaches it from another instance over the same database: it reconnects with
// Last-Event-ID and the replay evicts the entry.
func TestRevocationWhileDisconnected(t *testing.T) {
	w := newWorld(t)
	s := w.newResourceServer(nil)
	access, _ := w.login("alice", testkit.AlicePassword)
	wantOK(s, access, "before the revocation")
	before := s.c.AppliedEventID()

	// Instance A shuts down. Instance B serves everything, but its feed answers 503 until
	// the revocation has committed, so the resource server can only learn of it by replay.
	b := w.newInstance()
	t.Cleanup(b.stop)
	var (
		mu           sync.Mutex
		lastEventIDs []string
		feedOpen     bool
		refusedOnce  sync.Once
	)
	refused := make(chan struct{})
	gate := http.Handler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/revocations" {
			mu.Lock()
			lastEventIDs = append(lastEventIDs, r.Header.Get("Last-Event-ID"))
			open := feedOpen
			mu.Unlock()
			if !open {
				refusedOnce.Do(func() { close(refused) })
				rw.Header().Set("Retry-After", "0")
				http.Error(rw, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
				return
			}
		}
		b.handler.ServeHTTP(rw, r)
	}))
	w.handler.Store(&gate)
	w.inst.stop() // its stream ends with retry: 1000
	s.wait("the resource server to be refused", func(ctx context.Context) error {
		select {
		case <-refused:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if s.c.FeedHealthy() {
		t.Error("FeedHealthy while the feed is refused")
	}
	wantStatus(t, "revoke", http.StatusOK)(w.post("/revoke", basic(w.app), url.Values{"token": {access}}))
	id, _ := w.lastRevocation()
	mu.Lock()
	feedOpen = true
	mu.Unlock()
	s.wait("the replay", func(ctx context.Context) error { return s.c.WaitApplied(ctx, id) })

	if status, _, _ := s.get("GET", "/notes", access); status != http.StatusUnauthorized {
		t.Errorf("after the replay: %d, want 401", status)
	}
	mu.Lock()
	defer mu.Unlock()
	want := strconv.FormatInt(before, 10)
	for _, got := range lastEventIDs {
		if got != want {
			t.Errorf("Last-Event-ID on reconnection %q, want %s (all: %q)", got, want, lastEventIDs)
		}
	}
}
