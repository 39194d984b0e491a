package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jeton-auth/jeton/db"
)

// Tenants are created, listed, read, updated and deleted through the admin API
// with a global key.
func TestAdminTenantCRUD(t *testing.T) {
	e := newEnv(t)
	key := e.mustAdminKey("")

	created := e.adminOK(http.StatusCreated, key, "POST", "/admin/v1/tenants", map[string]any{"slug": "acme", "name": "Acme Inc."})
	want := map[string]any{"slug": "acme", "name": "Acme Inc.", "disabled": false, "access_ttl": nil,
		"refresh_idle_ttl": nil, "refresh_max_ttl": nil, "refresh_reuse_grace": "0s", "event_retention": nil,
		"min_password_length": nil, "login_backoff_after": nil, "login_user_limit": nil, "login_ip_limit": nil,
		"mfa_policy": "off", "mfa_failure_limit": nil,
		"password_history": 0.0, "password_max_age": nil, "password_reset_ttl": "30m"}
	ignoreTimes := cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "created_at" || k == "updated_at" })
	if d := cmp.Diff(want, created, ignoreTimes); d != "" {
		t.Errorf("created (-want +got):\n%s", d)
	}
	if got := e.adminOK(http.StatusOK, key, "GET", tenantPath("acme"), nil); !cmp.Equal(got, created) {
		t.Errorf("GET %v, want %v", got, created)
	}
	e.adminOK(http.StatusCreated, key, "POST", "/admin/v1/tenants", map[string]any{"slug": "beta"})
	list := items(t, e.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants", nil))
	if len(list) != 2 || list[0]["slug"] != "acme" || list[1]["slug"] != "beta" || list[1]["name"] != "beta" {
		t.Errorf("list %v", list)
	}

	patched := e.adminOK(http.StatusOK, key, "PATCH", tenantPath("acme"), map[string]any{
		"name": "Acme", "access_ttl": "5m", "refresh_idle_ttl": "7d", "refresh_max_ttl": "720h",
		"refresh_reuse_grace": "10s", "event_retention": "30d", "min_password_length": 12, "login_backoff_after": 3,
		"login_user_limit": 50, "login_ip_limit": 500})
	want["name"], want["access_ttl"], want["refresh_idle_ttl"], want["refresh_max_ttl"] = "Acme", "5m", "168h", "720h"
	want["refresh_reuse_grace"], want["event_retention"] = "10s", "720h"
	want["min_password_length"], want["login_backoff_after"], want["login_user_limit"], want["login_ip_limit"] = 12.0, 3.0, 50.0, 500.0
	if d := cmp.Diff(want, patched, ignoreTimes); d != "" {
		t.Errorf("patched (-want +got):\n%s", d)
	}
	// null puts a lifetime back to the deployment's default; absent members stay.
	patched = e.adminOK(http.StatusOK, key, "PATCH", tenantPath("acme"), map[string]any{"access_ttl": nil, "login_ip_limit": nil})
	if patched["access_ttl"] != nil || patched["login_ip_limit"] != nil || patched["refresh_max_ttl"] != "720h" ||
		patched["name"] != "Acme" || patched["login_user_limit"] != 50.0 {
		t.Errorf("after resetting access_ttl: %v", patched)
	}
	if got := e.adminOK(http.StatusOK, key, "PATCH", tenantPath("acme"), map[string]any{"disabled": true}); got["disabled"] != true {
		t.Errorf("disable: %v", got)
	}

	e.adminOK(http.StatusNoContent, key, "DELETE", tenantPath("acme"), nil)
	wantProblem(t, e.admin(key, "GET", tenantPath("acme"), nil), http.StatusNotFound, "not-found", "")
	wantProblem(t, e.admin(key, "DELETE", tenantPath("acme"), nil), http.StatusNotFound, "not-found", "")
	// A deleted tenant's slug stays reserved by its tombstone.
	wantProblem(t, e.admin(key, "POST", "/admin/v1/tenants", map[string]any{"slug": "acme"}), http.StatusConflict, "conflict", "")
	list = items(t, e.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants", nil))
	if len(list) != 1 || list[0]["slug"] != "beta" {
		t.Errorf("list after delete %v", list)
	}
}

// Validation errors name the field; nothing is written.
func TestAdminTenantValidation(t *testing.T) {
	e := newEnv(t)
	key := e.mustAdminKey("")
	e.mustTenant("a")
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		field  string
	}{
		{"bad slug", "POST", "/admin/v1/tenants", map[string]any{"slug": "Not A Slug"}, "slug"},
		{"no slug", "POST", "/admin/v1/tenants", map[string]any{"name": "x"}, "slug"},
		{"control character in name", "POST", "/admin/v1/tenants", map[string]any{"slug": "x", "name": "a\x00b"}, "name"},
		{"empty name", "PATCH", tenantPath("a"), map[string]any{"name": " "}, "name"},
		{"null name", "PATCH", tenantPath("a"), map[string]any{"name": nil}, "name"},
		{"null disabled", "PATCH", tenantPath("a"), map[string]any{"disabled": nil}, "disabled"},
		{"not a duration", "PATCH", tenantPath("a"), map[string]any{"access_ttl": "soon"}, "access_ttl"},
		{"fraction of a second", "PATCH", tenantPath("a"), map[string]any{"access_ttl": "1500ms"}, "access_ttl"},
		{"negative", "PATCH", tenantPath("a"), map[string]any{"refresh_idle_ttl": "-1h"}, "refresh_idle_ttl"},
		{"over the maximum", "PATCH", tenantPath("a"), map[string]any{"access_ttl": "25h"}, "access_ttl"},
		{"retention over the maximum", "PATCH", tenantPath("a"), map[string]any{"event_retention": "400d"}, "event_retention"},
		{"grace over 60s", "PATCH", tenantPath("a"), map[string]any{"refresh_reuse_grace": "61s"}, "refresh_reuse_grace"},
		{"null grace", "PATCH", tenantPath("a"), map[string]any{"refresh_reuse_grace": nil}, "refresh_reuse_grace"},
		{"wrong type", "PATCH", tenantPath("a"), map[string]any{"disabled": "yes"}, "disabled"},
		{"number for a duration", "PATCH", tenantPath("a"), map[string]any{"access_ttl": 900}, "access_ttl"},
		{"password length under the floor", "PATCH", tenantPath("a"), map[string]any{"min_password_length": 7}, "min_password_length"},
		{"threshold of zero", "PATCH", tenantPath("a"), map[string]any{"login_backoff_after": 0}, "login_backoff_after"},
		{"threshold over the maximum", "PATCH", tenantPath("a"), map[string]any{"login_ip_limit": 1000000}, "login_ip_limit"},
		{"fractional threshold", "PATCH", tenantPath("a"), map[string]any{"login_user_limit": 1.5}, "login_user_limit"},
	}
	before := e.adminOK(http.StatusOK, key, "GET", tenantPath("a"), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, e.admin(key, tt.method, tt.path, tt.body), http.StatusBadRequest, "validation", tt.field)
		})
	}
	if after := e.adminOK(http.StatusOK, key, "GET", tenantPath("a"), nil); !cmp.Equal(before, after) {
		t.Errorf("tenant changed by refused requests:\n%s", cmp.Diff(before, after))
	}
}

// A tenant key may read its tenant and change its lifetimes and thresholds within
// the global maxima; renaming, disabling and deleting its tenant, creating tenants and
// reading the global stream need a global key.
func TestAdminTenantKeyOnItsTenant(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("a")
	key := e.mustAdminKey("a")

	got := e.adminOK(http.StatusOK, key, "GET", tenantPath("a"), nil)
	if got["slug"] != "a" {
		t.Fatalf("GET own tenant: %v", got)
	}
	list := items(t, e.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants", nil))
	if len(list) != 1 || list[0]["slug"] != "a" {
		t.Errorf("a tenant key lists only its tenant: %v", list)
	}
	got = e.adminOK(http.StatusOK, key, "PATCH", tenantPath("a"), map[string]any{"access_ttl": "24h",
		"refresh_idle_ttl": "30d", "refresh_max_ttl": "365d", "refresh_reuse_grace": "5s", "event_retention": "365d",
		"min_password_length": 20, "login_backoff_after": 5, "login_user_limit": 10, "login_ip_limit": 100})
	if got["access_ttl"] != "24h" || got["refresh_reuse_grace"] != "5s" || got["event_retention"] != "8760h" ||
		got["min_password_length"] != 20.0 || got["login_ip_limit"] != 100.0 {
		t.Errorf("PATCH lifetimes: %v", got)
	}
	wantProblem(t, e.admin(key, "PATCH", tenantPath("a"), map[string]any{"access_ttl": "24h1s"}),
		http.StatusBadRequest, "validation", "access_ttl")

	forbidden := []struct {
		name, method, path string
		body               any
	}{
		{"rename", "PATCH", tenantPath("a"), map[string]any{"name": "mine now"}},
		{"disable", "PATCH", tenantPath("a"), map[string]any{"disabled": true}},
		{"rename along with a lifetime", "PATCH", tenantPath("a"), map[string]any{"name": "x", "access_ttl": "1m"}},
		{"delete", "DELETE", tenantPath("a"), nil},
		{"create a tenant", "POST", "/admin/v1/tenants", map[string]any{"slug": "c"}},
		{"read the global stream", "GET", "/admin/v1/events", nil},
	}
	for _, tt := range forbidden {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, e.admin(key, tt.method, tt.path, tt.body), http.StatusForbidden, "forbidden", "")
		})
	}
	after, err := e.svc.Tenant(t.Context(), "a")
	if err != nil || after.Name != "Tenant a" || after.Disabled || after.AccessTTL == nil || *after.AccessTTL != 24*time.Hour {
		t.Errorf("tenant after refused changes: %+v, %v", after, err)
	}
	if _, err := e.svc.Tenant(t.Context(), "c"); err == nil {
		t.Error("a tenant key created a tenant")
	}
	// A disabled tenant stops its own keys.
	if _, err := e.svc.UpdateTenant(t.Context(), e.cli, "a", func(tn *db.Tenant) { tn.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, e.admin(key, "GET", tenantPath("a"), nil), http.StatusForbidden, "forbidden", "")
}
