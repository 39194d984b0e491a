package api_test

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/service"
)

// statements counts the statements a pool runs.
type statements struct{ all atomic.Int64 }

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	s.all.Add(1)
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// twoInstances is two jetons (each its own service, client cache and pool) on one
// database, as behind a load balancer: A is administered, B serves. B's pool counts its
// statements.
type twoInstances struct {
	a, b     *env
	bQueries *statements
	global   string // a global admin key
	cc, rs   client
}

func newTwoInstances(t *testing.T) *twoInstances {
	url := dbtest.NewURL(t)
	open := func(tracer pgx.QueryTracer) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		if tracer != nil {
			cfg.ConnConfig.Tracer = tracer
		}
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	q := &statements{}
	w := &twoInstances{a: newEnv(t, onPool(open(nil))), b: newEnv(t, onPool(open(q))), bQueries: q}
	w.a.mustTenant("a")
	w.global = w.a.mustAdminKey("")
	w.cc = w.a.mustClient("a", service.ClientSpec{Name: "batch", GrantTypes: []string{service.GrantClientCredentials},
		Scopes: []string{"read", "write"}})
	w.rs = w.a.mustClient("a", service.ClientSpec{Name: "api", Introspect: true})
	return w
}

// issue asks e for a client_credentials token as c.
func issue(e *env, c client, scope string) response {
	e.t.Helper()
	form := url.Values{"grant_type": {service.GrantClientCredentials}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return e.post("/token", &c, form)
}

// mustIssue asks e for a token as c and returns it, failing on anything but 200.
func mustIssue(e *env, c client, scope string) map[string]any {
	e.t.Helper()
	r := issue(e, c, scope)
	if r.Status != http.StatusOK {
		e.t.Fatalf("client_credentials: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)
}

// A client B has issued tokens to is authenticated by the issuing statement
// alone: one statement per token, none reading the client first.
func TestClientCredentialsOneStatement(t *testing.T) {
	w := newTwoInstances(t)
	mustIssue(w.b, w.cc, "") // B learns the client: authentication, then the token
	for range 3 {
		w.bQueries.all.Store(0)
		tok := mustIssue(w.b, w.cc, "read")
		if n := w.bQueries.all.Load(); n != 1 {
			t.Errorf("a known client's token took %d statements, want 1", n)
		}
		if in := w.b.introspect(w.rs, tok["access_token"].(string)); in["active"] != true || in["scope"] != "read" {
			t.Errorf("the token issued in one statement: %v", in)
		}
	}
	w.bQueries.all.Store(0)
	if r := issue(w.b, client{ID: w.cc.ID, Secret: w.rs.Secret}, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("another client's secret: %d %s", r.Status, r.Body)
	}
	wantError(t, issue(w.b, client{ID: w.cc.ID, Secret: "jcs_nope"}, ""), http.StatusUnauthorized, "invalid_client")
	mustIssue(w.b, w.cc, "")
}

// Whatever an admin changes through A, B's very next request sees, whether or
// not B has the client in its cache: a rotated-out secret, a disabled or deleted client, a
// disabled tenant, new scopes or lifetimes.
func TestClientChangesSeenByOtherInstance(t *testing.T) {
	w := newTwoInstances(t)
	key := w.a.mustAdminKey("a")
	clientPath := tenantPath("a", "clients", w.cc.ID)
	warm := func() {
		t.Helper()
		mustIssue(w.b, w.cc, "")
		mustIssue(w.b, w.cc, "")
	}

	warm()
	got := w.a.adminOK(http.StatusOK, key, "POST", clientPath+"/secret", nil)
	old := w.cc.Secret
	w.cc.Secret = got["client_secret"].(string)
	wantError(t, issue(w.b, client{ID: w.cc.ID, Secret: old}, ""), http.StatusUnauthorized, "invalid_client")
	mustIssue(w.b, w.cc, "")

	// A rotation with an overlap keeps the old secret working, on B too, until it ends.
	warm()
	got = w.a.adminOK(http.StatusOK, key, "POST", clientPath+"/secret", map[string]any{"previous_valid_for": "1h"})
	old, w.cc.Secret = w.cc.Secret, got["client_secret"].(string)
	mustIssue(w.b, client{ID: w.cc.ID, Secret: old}, "")
	mustIssue(w.b, w.cc, "")
	w.b.clock.Advance(time.Hour)
	wantError(t, issue(w.b, client{ID: w.cc.ID, Secret: old}, ""), http.StatusUnauthorized, "invalid_client")
	mustIssue(w.b, w.cc, "")

	warm()
	w.a.adminOK(http.StatusOK, key, "PATCH", clientPath, map[string]any{"scopes": []string{"read"}})
	wantError(t, issue(w.b, w.cc, "write"), http.StatusBadRequest, "invalid_scope")
	if tok := mustIssue(w.b, w.cc, ""); tok["scope"] != "read" {
		t.Errorf("scope after the change: %v", tok["scope"])
	}

	warm()
	w.a.adminOK(http.StatusOK, w.global, "PATCH", tenantPath("a"), map[string]any{"access_ttl": "5m"})
	if tok := mustIssue(w.b, w.cc, ""); tok["expires_in"] != float64(300) {
		t.Errorf("expires_in after the tenant's change: %v", tok["expires_in"])
	}
	w.a.adminOK(http.StatusOK, key, "PATCH", clientPath, map[string]any{"access_ttl": "2m"})
	if tok := mustIssue(w.b, w.cc, ""); tok["expires_in"] != float64(120) {
		t.Errorf("expires_in after the client's change: %v", tok["expires_in"])
	}

	warm()
	w.a.adminOK(http.StatusOK, key, "PATCH", clientPath, map[string]any{"disabled": true})
	wantError(t, issue(w.b, w.cc, ""), http.StatusUnauthorized, "invalid_client")
	w.a.adminOK(http.StatusOK, key, "PATCH", clientPath, map[string]any{"disabled": false})
	mustIssue(w.b, w.cc, "")

	warm()
	w.a.adminOK(http.StatusOK, key, "PATCH", clientPath, map[string]any{"grant_types": []string{"password"}})
	wantError(t, issue(w.b, w.cc, ""), http.StatusBadRequest, "unauthorized_client")
	w.a.adminOK(http.StatusOK, key, "PATCH", clientPath, map[string]any{"grant_types": []string{service.GrantClientCredentials}})

	warm()
	w.a.adminOK(http.StatusOK, w.global, "PATCH", tenantPath("a"), map[string]any{"disabled": true})
	wantError(t, issue(w.b, w.cc, ""), http.StatusUnauthorized, "invalid_client")
	w.a.adminOK(http.StatusOK, w.global, "PATCH", tenantPath("a"), map[string]any{"disabled": false})

	warm()
	if r := w.a.admin(key, "DELETE", clientPath, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	wantError(t, issue(w.b, w.cc, ""), http.StatusUnauthorized, "invalid_client")
}

// A resource server's secret rotated, or the resource server disabled, through
// A, fails its very next introspection on B.
func TestIntrospectCallerChangesSeenByOtherInstance(t *testing.T) {
	w := newTwoInstances(t)
	key := w.a.mustAdminKey("a")
	tok := mustIssue(w.a, w.cc, "")["access_token"].(string)
	if in := w.b.introspect(w.rs, tok); in["active"] != true {
		t.Fatalf("introspection on B: %v", in)
	}
	rsPath := tenantPath("a", "clients", w.rs.ID)
	got := w.a.adminOK(http.StatusOK, key, "POST", rsPath+"/secret", nil)
	old := w.rs.Secret
	w.rs.Secret = got["client_secret"].(string)
	wantError(t, w.b.post("/introspect", &client{ID: w.rs.ID, Secret: old}, url.Values{"token": {tok}}),
		http.StatusUnauthorized, "invalid_client")
	if in := w.b.introspect(w.rs, tok); in["active"] != true {
		t.Fatalf("introspection with the new secret: %v", in)
	}
	w.a.adminOK(http.StatusOK, key, "PATCH", rsPath, map[string]any{"disabled": true})
	wantError(t, w.b.post("/introspect", &w.rs, url.Values{"token": {tok}}), http.StatusUnauthorized, "invalid_client")
}
