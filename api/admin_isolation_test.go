package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/api"
)

// Issue 4: a tenant key cannot see or touch another tenant, on every admin route. Each
// route naming tenant b answers a's key exactly as it answers for a tenant that does not
// exist, and tenant b is unchanged afterwards. The test fails when a route is added
// without a case here.
func TestAdminTenantKeyIsolation(t *testing.T) {
	w := newRevokeWorld(t)
	keyA, global := w.mustAdminKey("a"), w.mustAdminKey("")
	carolTok := w.loginPair(w.appB, "carol", "carol's long password")
	carol := w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "users")+"?prefix=carol", nil)
	carolID, _ := items(t, carol)[0]["id"].(string)
	sessions := items(t, w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "users", carolID, "sessions"), nil))
	carolSession, _ := sessions[0]["id"].(string)
	aliceTok := w.loginPair(w.app, "alice", alicePassword)
	aliceSession, _ := w.introspect(w.rs, aliceTok.access)["sid"].(string)

	snapshot := func() map[string]any {
		t.Helper()
		return map[string]any{
			"tenant":   w.adminOK(http.StatusOK, global, "GET", tenantPath("b"), nil),
			"users":    w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "users"), nil),
			"clients":  w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "clients"), nil),
			"sessions": w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "users", carolID, "sessions"), nil),
			"events":   w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "events"), nil),
		}
	}
	before := snapshot()

	user := map[string]any{"username": "mallory", "password": "mallory's long password"}
	tests := []struct {
		route  string // as registered
		method string
		// rest is the path after /admin/v1/tenants/{slug}; ids are tenant b's.
		rest []string
		body any
	}{
		{"GET /admin/v1/tenants/:slug", "GET", nil, nil},
		{"PATCH /admin/v1/tenants/:slug", "PATCH", nil, map[string]any{"access_ttl": "1m"}},
		{"DELETE /admin/v1/tenants/:slug", "DELETE", nil, nil},
		{"POST /admin/v1/tenants/:slug/revoke", "POST", []string{"revoke"}, nil},
		{"GET /admin/v1/tenants/:slug/events", "GET", []string{"events"}, nil},
		{"POST /admin/v1/tenants/:slug/users", "POST", []string{"users"}, user},
		{"GET /admin/v1/tenants/:slug/users", "GET", []string{"users"}, nil},
		{"GET /admin/v1/tenants/:slug/users/:user", "GET", []string{"users", carolID}, nil},
		{"PATCH /admin/v1/tenants/:slug/users/:user", "PATCH", []string{"users", carolID}, map[string]any{"disabled": true}},
		{"DELETE /admin/v1/tenants/:slug/users/:user", "DELETE", []string{"users", carolID}, nil},
		{"PUT /admin/v1/tenants/:slug/users/:user/password", "PUT", []string{"users", carolID, "password"}, map[string]any{"password": "mallory's long password"}},
		{"POST /admin/v1/tenants/:slug/users/:user/revoke", "POST", []string{"users", carolID, "revoke"}, nil},
		{"GET /admin/v1/tenants/:slug/users/:user/sessions", "GET", []string{"users", carolID, "sessions"}, nil},
		{"DELETE /admin/v1/tenants/:slug/users/:user/sessions/:session", "DELETE", []string{"users", carolID, "sessions", carolSession}, nil},
		{"POST /admin/v1/tenants/:slug/clients", "POST", []string{"clients"}, map[string]any{"name": "mallory"}},
		{"GET /admin/v1/tenants/:slug/clients", "GET", []string{"clients"}, nil},
		{"GET /admin/v1/tenants/:slug/clients/:client", "GET", []string{"clients", w.appB.ID}, nil},
		{"PATCH /admin/v1/tenants/:slug/clients/:client", "PATCH", []string{"clients", w.appB.ID}, map[string]any{"disabled": true}},
		{"DELETE /admin/v1/tenants/:slug/clients/:client", "DELETE", []string{"clients", w.appB.ID}, nil},
		{"POST /admin/v1/tenants/:slug/clients/:client/secret", "POST", []string{"clients", w.appB.ID, "secret"}, nil},
		{"POST /admin/v1/tenants/:slug/clients/:client/revoke", "POST", []string{"clients", w.appB.ID, "revoke"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.route, func(t *testing.T) {
			got := w.admin(keyA, tt.method, tenantPath("b", tt.rest...), tt.body)
			wantProblem(t, got, http.StatusNotFound, "not-found", "")
			absent := w.admin(keyA, tt.method, tenantPath("nosuchtenant", tt.rest...), tt.body)
			if string(got.Body) != string(absent.Body) || got.Status != absent.Status {
				t.Errorf("tenant b: %d %s; no such tenant: %d %s", got.Status, got.Body, absent.Status, absent.Body)
			}
		})
	}

	// Tenant b's ids under tenant a's own slug name nothing either.
	crossIDs := []struct {
		name, method string
		rest         []string
		body         any
	}{
		{"b's user", "GET", []string{"users", carolID}, nil},
		{"b's user's sessions", "GET", []string{"users", carolID, "sessions"}, nil},
		{"b's user disabled", "PATCH", []string{"users", carolID}, map[string]any{"disabled": true}},
		{"b's user revoked", "POST", []string{"users", carolID, "revoke"}, nil},
		{"b's session under alice", "DELETE", []string{"users", w.alice.ID.String(), "sessions", carolSession}, nil},
		{"b's client", "GET", []string{"clients", w.appB.ID}, nil},
		{"b's client rotated", "POST", []string{"clients", w.appB.ID, "secret"}, nil},
		{"b's client revoked", "POST", []string{"clients", w.appB.ID, "revoke"}, nil},
		{"b's client deleted", "DELETE", []string{"clients", w.appB.ID}, nil},
	}
	for _, tt := range crossIDs {
		t.Run("own slug, "+tt.name, func(t *testing.T) {
			wantProblem(t, w.admin(keyA, tt.method, tenantPath("a", tt.rest...), tt.body), http.StatusNotFound, "not-found", "")
		})
	}
	// The global routes: the list holds only a's tenant; the rest need a global key.
	if list := items(t, w.adminOK(http.StatusOK, keyA, "GET", "/admin/v1/tenants", nil)); len(list) != 1 || list[0]["slug"] != "a" {
		t.Errorf("tenant key's tenant list: %v", list)
	}
	wantProblem(t, w.admin(keyA, "POST", "/admin/v1/tenants", map[string]any{"slug": "c"}), http.StatusForbidden, "forbidden", "")
	wantProblem(t, w.admin(keyA, "GET", "/admin/v1/events", nil), http.StatusForbidden, "forbidden", "")

	if d := cmp.Diff(before, snapshot()); d != "" {
		t.Errorf("tenant b changed (-before +after):\n%s", d)
	}
	if !w.active(w.rsB, carolTok.access) || !w.refreshes(w.appB, carolTok.refresh) {
		t.Error("carol's tokens died")
	}
	if !w.active(w.rs, aliceTok.access) || aliceSession == "" {
		t.Error("alice's token died")
	}

	// Every admin route is covered above.
	srv, err := api.NewServer(api.Config{Issuer: issuer}, w.svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	covered := []string{"GET /admin/v1/tenants", "POST /admin/v1/tenants", "GET /admin/v1/events"}
	for _, tt := range tests {
		covered = append(covered, tt.route)
	}
	for _, r := range api.AdminRoutes(srv) {
		if !slices.Contains(covered, r) {
			t.Errorf("route %s has no isolation case", r)
		}
	}
	if n := len(api.AdminRoutes(srv)); n != len(covered) {
		t.Errorf("%d routes, %d cases", n, len(covered))
	}
}
