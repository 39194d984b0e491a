package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// A tenant key cannot see or touch another tenant, on every admin route. Each
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
	aliceTok := w.loginPair(w.app, "alice", testkit.AlicePassword)
	aliceSession, _ := w.introspect(w.rs, aliceTok.access)["sid"].(string)
	hookB, _ := w.adminOK(http.StatusCreated, global, "POST", tenantPath("b", "webhooks"),
		map[string]any{"url": "https://93.184.216.34/hook", "events": []string{"*"}})["id"].(string)
	hook := map[string]any{"url": "https://93.184.216.34/other", "events": []string{"*"}}

	snapshot := func() map[string]any {
		t.Helper()
		return map[string]any{
			"tenant":   w.adminOK(http.StatusOK, global, "GET", tenantPath("b"), nil),
			"users":    w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "users"), nil),
			"clients":  w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "clients"), nil),
			"sessions": w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "users", carolID, "sessions"), nil),
			"events":   w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "events"), nil),
			"webhooks": w.adminOK(http.StatusOK, global, "GET", tenantPath("b", "webhooks"), nil),
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
		{"POST /admin/v1/tenants/:slug/users/import", "POST", []string{"users", "import"}, user},
		{"GET /admin/v1/tenants/:slug/users/export", "GET", []string{"users", "export"}, nil},
		{"GET /admin/v1/tenants/:slug/users", "GET", []string{"users"}, nil},
		{"GET /admin/v1/tenants/:slug/users/:user", "GET", []string{"users", carolID}, nil},
		{"PATCH /admin/v1/tenants/:slug/users/:user", "PATCH", []string{"users", carolID}, map[string]any{"disabled": true}},
		{"DELETE /admin/v1/tenants/:slug/users/:user", "DELETE", []string{"users", carolID}, nil},
		{"PUT /admin/v1/tenants/:slug/users/:user/password", "PUT", []string{"users", carolID, "password"}, map[string]any{"password": "mallory's long password"}},
		{"POST /admin/v1/tenants/:slug/users/:user/revoke", "POST", []string{"users", carolID, "revoke"}, nil},
		{"GET /admin/v1/tenants/:slug/users/:user/sessions", "GET", []string{"users", carolID, "sessions"}, nil},
		{"DELETE /admin/v1/tenants/:slug/users/:user/sessions/:session", "DELETE", []string{"users", carolID, "sessions", carolSession}, nil},
		{"DELETE /admin/v1/tenants/:slug/users/:user/mfa", "DELETE", []string{"users", carolID, "mfa"}, nil},
		{"POST /admin/v1/tenants/:slug/clients", "POST", []string{"clients"}, map[string]any{"name": "mallory"}},
		{"GET /admin/v1/tenants/:slug/clients", "GET", []string{"clients"}, nil},
		{"GET /admin/v1/tenants/:slug/clients/:client", "GET", []string{"clients", w.appB.ID}, nil},
		{"PATCH /admin/v1/tenants/:slug/clients/:client", "PATCH", []string{"clients", w.appB.ID}, map[string]any{"disabled": true}},
		{"DELETE /admin/v1/tenants/:slug/clients/:client", "DELETE", []string{"clients", w.appB.ID}, nil},
		{"POST /admin/v1/tenants/:slug/clients/:client/secret", "POST", []string{"clients", w.appB.ID, "secret"}, nil},
		{"POST /admin/v1/tenants/:slug/clients/:client/revoke", "POST", []string{"clients", w.appB.ID, "revoke"}, nil},
		{"POST /admin/v1/tenants/:slug/webhooks", "POST", []string{"webhooks"}, hook},
		{"GET /admin/v1/tenants/:slug/webhooks", "GET", []string{"webhooks"}, nil},
		{"GET /admin/v1/tenants/:slug/webhooks/:webhook", "GET", []string{"webhooks", hookB}, nil},
		{"PATCH /admin/v1/tenants/:slug/webhooks/:webhook", "PATCH", []string{"webhooks", hookB}, map[string]any{"disabled": true}},
		{"DELETE /admin/v1/tenants/:slug/webhooks/:webhook", "DELETE", []string{"webhooks", hookB}, nil},
		{"POST /admin/v1/tenants/:slug/webhooks/:webhook/rotate-secret", "POST", []string{"webhooks", hookB, "rotate-secret"}, nil},
		{"POST /admin/v1/tenants/:slug/webhooks/:webhook/test", "POST", []string{"webhooks", hookB, "test"}, nil},
		{"GET /admin/v1/tenants/:slug/webhooks/:webhook/deliveries", "GET", []string{"webhooks", hookB, "deliveries"}, nil},
		{"POST /admin/v1/tenants/:slug/webhooks/:webhook/deliveries/:event/redeliver", "POST",
			[]string{"webhooks", hookB, "deliveries", "1", "redeliver"}, nil},
		{"POST /admin/v1/tenants/:slug/users/:user/password-reset", "POST", []string{"users", carolID, "password-reset"}, nil},
		{"POST /admin/v1/tenants/:slug/password-resets", "POST", []string{"password-resets"}, map[string]any{"username": "carol"}},
		{"PUT /admin/v1/tenants/:slug/users/:user/password-change-required", "PUT", []string{"users", carolID, "password-change-required"}, nil},
		{"DELETE /admin/v1/tenants/:slug/users/:user/password-change-required", "DELETE", []string{"users", carolID, "password-change-required"}, nil},
		{"GET /admin/v1/tenants/:slug/users/:user/throttles", "GET", []string{"users", carolID, "throttles"}, nil},
		{"DELETE /admin/v1/tenants/:slug/users/:user/throttles", "DELETE", []string{"users", carolID, "throttles"}, nil},
		{"GET /admin/v1/tenants/:slug/forbidden-passwords", "GET", []string{"forbidden-passwords"}, nil},
		{"PUT /admin/v1/tenants/:slug/forbidden-passwords", "PUT", []string{"forbidden-passwords"}, map[string]any{"words": []string{"mallory"}}},
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
		{"b's webhook", "GET", []string{"webhooks", hookB}, nil},
		{"b's webhook changed", "PATCH", []string{"webhooks", hookB}, map[string]any{"url": "https://93.184.216.34/x"}},
		{"b's webhook rotated", "POST", []string{"webhooks", hookB, "rotate-secret"}, nil},
		{"b's webhook tested", "POST", []string{"webhooks", hookB, "test"}, nil},
		{"b's webhook's deliveries", "GET", []string{"webhooks", hookB, "deliveries"}, nil},
		{"b's webhook redelivered", "POST", []string{"webhooks", hookB, "deliveries", "1", "redeliver"}, nil},
		{"b's webhook deleted", "DELETE", []string{"webhooks", hookB}, nil},
		{"b's user's reset", "POST", []string{"users", carolID, "password-reset"}, nil},
		{"b's user's forced change", "PUT", []string{"users", carolID, "password-change-required"}, nil},
		{"b's user's throttles", "GET", []string{"users", carolID, "throttles"}, nil},
		{"b's user's throttles cleared", "DELETE", []string{"users", carolID, "throttles"}, nil},
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
	if list := items(t, w.adminOK(http.StatusOK, keyA, "GET", "/admin/v1/tenants?prefix=b", nil)); len(list) != 0 {
		t.Errorf("tenant key's tenant list by b's prefix: %v", list)
	}
	if k := w.adminOK(http.StatusOK, keyA, "GET", "/admin/v1/key", nil); k["tenant"] != "a" {
		t.Errorf("tenant key describes itself as %v", k)
	}
	globalHooks := []struct{ route, method, path string }{
		{"POST /admin/v1/webhooks", "POST", "/admin/v1/webhooks"},
		{"GET /admin/v1/webhooks", "GET", "/admin/v1/webhooks"},
		{"GET /admin/v1/webhooks/:webhook", "GET", "/admin/v1/webhooks/" + hookB},
		{"PATCH /admin/v1/webhooks/:webhook", "PATCH", "/admin/v1/webhooks/" + hookB},
		{"DELETE /admin/v1/webhooks/:webhook", "DELETE", "/admin/v1/webhooks/" + hookB},
		{"POST /admin/v1/webhooks/:webhook/rotate-secret", "POST", "/admin/v1/webhooks/" + hookB + "/rotate-secret"},
		{"POST /admin/v1/webhooks/:webhook/test", "POST", "/admin/v1/webhooks/" + hookB + "/test"},
		{"GET /admin/v1/webhooks/:webhook/deliveries", "GET", "/admin/v1/webhooks/" + hookB + "/deliveries"},
		{"POST /admin/v1/webhooks/:webhook/deliveries/:event/redeliver", "POST", "/admin/v1/webhooks/" + hookB + "/deliveries/1/redeliver"},
	}
	for _, g := range globalHooks {
		var body any
		if g.method == "POST" && g.path == "/admin/v1/webhooks" {
			body = hook
		} else if g.method == "PATCH" {
			body = map[string]any{"disabled": true}
		}
		wantProblem(t, w.admin(keyA, g.method, g.path, body), http.StatusForbidden, "forbidden", "")
	}

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
	covered := []string{"GET /admin/v1/tenants", "POST /admin/v1/tenants", "GET /admin/v1/events", "GET /admin/v1/key"}
	for _, g := range globalHooks {
		covered = append(covered, g.route)
	}
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
