package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

const (
	spaOrigin   = "https://spa.example"
	otherOrigin = "http://127.0.0.1:5173" // allowed by a client of another tenant
)

// corsWorld is the usual world whose app and resource server allow spaOrigin, plus a
// public client that allows it, and a client of tenant "b" that allows otherOrigin.
type corsWorld struct {
	world
	spa client
}

func newCORSWorld(t *testing.T) corsWorld {
	t.Helper()
	w := corsWorld{world: newWorld(t)}
	for _, id := range []string{w.app.ID, w.rs.ID} {
		if _, err := w.svc.UpdateClient(context.Background(), w.cli, "a", id, func(c *db.Client) {
			c.AllowedOrigins = []string{"https://elsewhere.example", spaOrigin}
		}); err != nil {
			t.Fatal(err)
		}
	}
	w.spa = w.mustClient("a", service.ClientSpec{Name: "spa", Public: true, GrantTypes: []string{"password"},
		Scopes: []string{"read"}, AllowedOrigins: []string{spaOrigin}})
	w.mustTenant("b")
	w.mustClient("b", service.ClientSpec{Name: "b app", AllowedOrigins: []string{otherOrigin}})
	return w
}

// wantCORS checks the headers every response of a CORS endpoint carries, and that
// Access-Control-Allow-Origin is exactly allow ("" for absent).
func wantCORS(t *testing.T, r response, allow string) {
	t.Helper()
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != allow {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, allow)
	}
	if !slices.Contains(r.Header.Values("Vary"), "Origin") {
		t.Errorf("Vary = %q, want Origin among them", r.Header.Values("Vary"))
	}
	if got := r.Header.Values("Access-Control-Allow-Credentials"); got != nil {
		t.Errorf("Access-Control-Allow-Credentials = %q, want none", got)
	}
}

// Fetch standard §3.2.3, CORS-preflight request: answered for every origin, allowing the
// origin only when some enabled client of the deployment lists it.
func TestCORSPreflight(t *testing.T) {
	w := newCORSWorld(t)
	disabled := w.mustClient("a", service.ClientSpec{Name: "old spa", AllowedOrigins: []string{"https://old.example"}})
	if _, err := w.svc.UpdateClient(context.Background(), w.cli, "a", disabled.ID, func(c *db.Client) { c.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		origin string // "" sends no Origin
		allow  string
	}{
		{"origin of a client", spaOrigin, spaOrigin},
		{"origin of a client of another tenant", otherOrigin, otherOrigin},
		{"origin of no client", "https://evil.example", ""},
		{"origin of a disabled client only", "https://old.example", ""},
		{"different case", "https://SPA.example", ""},
		{"trailing slash", spaOrigin + "/", ""},
		{"different scheme", "http://spa.example", ""},
		{"different port", "https://spa.example:8443", ""},
		{"opaque origin", "null", ""},
		{"no origin", "", ""},
	}
	for _, path := range []string{"/token", "/introspect", "/revoke", "/authorize-challenge"} {
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				h := headers("Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
				if tt.origin != "" {
					h.Set("Origin", tt.origin)
				}
				r := w.send(http.MethodOptions, path, h, "")
				if r.Status != http.StatusNoContent || len(r.Body) != 0 {
					t.Fatalf("status %d, body %q; want 204 and no body", r.Status, r.Body)
				}
				wantCORS(t, r, tt.allow)
				for name, want := range map[string]string{
					"Access-Control-Allow-Methods": "POST",
					"Access-Control-Allow-Headers": "Authorization, Content-Type, X-Requested-With",
					"Access-Control-Max-Age":       "600",
				} {
					if got := r.Header.Get(name); got != want {
						t.Errorf("%s = %q, want %q", name, got, want)
					}
				}
			})
		}
	}
}

// Actual requests: the response, errors included, allows the Origin only when the client
// that authenticated lists it; an unauthenticated answer allows no origin.
func TestCORSActualResponses(t *testing.T) {
	w := newCORSWorld(t)
	at := w.mustLogin()
	noCreds := &client{ID: w.app.ID, Secret: "jcs_wrong"}
	tests := []struct {
		name   string
		path   string
		as     *client
		form   url.Values
		origin string
		status int
		allow  string
	}{
		{"token", "/token", &w.app, passwordForm(), spaOrigin, 200, spaOrigin},
		{"token, public client", "/token", nil, passwordForm("client_id", w.spa.ID), spaOrigin, 200, spaOrigin},
		{"token, wrong password", "/token", &w.app, passwordForm("password", "wrong"), spaOrigin, 400, spaOrigin},
		{"token, scope not allowed", "/token", &w.spa, passwordForm("scope", "write"), spaOrigin, 400, spaOrigin},
		{"token, origin of another client", "/token", &w.app, passwordForm(), otherOrigin, 200, ""},
		{"token, unknown origin", "/token", &w.app, passwordForm(), "https://evil.example", 200, ""},
		{"token, no origin", "/token", &w.app, passwordForm(), "", 200, ""},
		{"token, bad client secret", "/token", noCreds, passwordForm(), spaOrigin, 401, ""},
		{"token, malformed body", "/token", &w.app, url.Values{}, spaOrigin, 400, ""},
		{"introspect", "/introspect", &w.rs, url.Values{"token": {at}}, spaOrigin, 200, spaOrigin},
		{"introspect, missing token", "/introspect", &w.rs, url.Values{}, spaOrigin, 400, spaOrigin},
		{"introspect, not a resource server", "/introspect", &w.spa, url.Values{"token": {at}}, spaOrigin, 403, spaOrigin},
		{"revoke", "/revoke", &w.app, url.Values{"token": {"jat_unknown"}}, spaOrigin, 200, spaOrigin},
		{"revoke, unauthenticated", "/revoke", nil, url.Values{"token": {at}}, spaOrigin, 401, ""},
		{"authorize-challenge, not first-party", "/authorize-challenge", &w.spa, challengeForm("alice", testkit.AlicePassword), spaOrigin, 400, spaOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers("Content-Type", formType)
			if tt.as != nil {
				h.Set("Authorization", basic(tt.as.ID, tt.as.Secret))
			}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			r := w.send(http.MethodPost, tt.path, h, tt.form.Encode())
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.Status, tt.status, r.Body)
			}
			wantCORS(t, r, tt.allow)
		})
	}
}

// TestInvalidOriginDoesNotBreakIntrospection: an Origin header with bytes PostgreSQL
// refuses is ignored; it neither fails the request nor the others batched with it.
func TestInvalidOriginDoesNotBreakIntrospection(t *testing.T) {
	w := newWorld(t)
	at := w.login(w.app, "alice", testkit.AlicePassword)["access_token"].(string)
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(bad bool) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/introspect", strings.NewReader(url.Values{"token": {at}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", basic(w.rs.ID, w.rs.Secret))
			if bad {
				req.Header.Set("Origin", "https://a\xff.example")
			}
			statuses <- w.do(req).Status
		}(i%4 == 0)
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("introspection answered %d with an invalid Origin in flight", s)
		}
	}
}
