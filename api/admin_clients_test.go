package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// Clients are created (the secret shown once), listed, read, updated and deleted
// through the admin API; secrets are described, never shown again.
func TestAdminClientCRUD(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("a")
	key := e.mustAdminKey("")
	clients := tenantPath("a", "clients")

	r := e.admin(key, "POST", clients, map[string]any{"name": "web", "grant_types": []string{"password", "refresh_token"},
		"scopes": []string{"read", "write"}, "default_scopes": []string{"read"}, "access_ttl": "10m"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	created := r.JSON(t)
	id, _ := created["client_id"].(string)
	secret, _ := created["client_secret"].(string)
	if !strings.HasPrefix(id, "jc_") || !strings.HasPrefix(secret, "jcs_") {
		t.Fatalf("created %v", created)
	}
	if loc := r.Header.Get("Location"); loc != clients+"/"+id {
		t.Errorf("Location %q", loc)
	}
	want := map[string]any{"client_id": id, "name": "web", "public": false, "disabled": false,
		"grant_types": []any{"password", "refresh_token"}, "scopes": []any{"read", "write"},
		"default_scopes": []any{"read"}, "introspect": false, "allowed_origins": []any{}, "forwards_user_ip": false, "first_party": false, "password_reset": false, "access_ttl": "10m", "refresh_idle_ttl": nil,
		"refresh_max_ttl": nil, "secrets": []any{map[string]any{"created_at": "2026-01-02T03:04:05Z", "expires_at": nil}}}
	ignoreTimes := cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "created_at" || k == "updated_at" })
	delete(created, "client_secret")
	if d := cmp.Diff(want, created, ignoreTimes); d != "" {
		t.Errorf("created (-want +got):\n%s", d)
	}
	got := e.adminOK(http.StatusOK, key, "GET", clients+"/"+id, nil)
	if _, ok := got["client_secret"]; ok || !cmp.Equal(got, created) {
		t.Errorf("GET %v, want %v without a secret", got, created)
	}
	if !strings.Contains(string(e.admin(key, "GET", clients+"/"+id, nil).Body), `"expires_at":null`) {
		t.Error("secret description lacks expires_at")
	}

	e.clock.Advance(time.Second) // the list is oldest first
	pub := e.adminOK(http.StatusCreated, key, "POST", clients, map[string]any{"name": "spa", "public": true,
		"grant_types": []string{"password"}})
	if _, ok := pub["client_secret"]; ok || !cmp.Equal(pub["secrets"], []any{}) || pub["public"] != true {
		t.Errorf("public client %v", pub)
	}
	list := items(t, e.adminOK(http.StatusOK, key, "GET", clients, nil))
	if len(list) != 2 || list[0]["client_id"] != id || list[1]["client_id"] != pub["client_id"] ||
		len(list[0]["secrets"].([]any)) != 1 {
		t.Errorf("list %v", list)
	}

	got = e.adminOK(http.StatusOK, key, "PATCH", clients+"/"+id, map[string]any{"name": "web app",
		"scopes": []string{"read", "write", "admin"}, "default_scopes": nil, "introspect": true, "access_ttl": nil,
		"refresh_max_ttl": "30d", "allowed_origins": []string{"https://app.example"}})
	want["name"], want["scopes"], want["default_scopes"], want["introspect"] = "web app", []any{"read", "write", "admin"}, nil, true
	want["allowed_origins"] = []any{"https://app.example"}
	want["access_ttl"], want["refresh_max_ttl"] = nil, "720h"
	if d := cmp.Diff(want, got, ignoreTimes); d != "" {
		t.Errorf("patched (-want +got):\n%s", d)
	}

	for _, bad := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown grant", map[string]any{"grant_types": []string{"implicit"}}, "grant_types"},
		{"default scope not allowed", map[string]any{"default_scopes": []string{"delete"}}, "default_scopes"},
		{"bad scope", map[string]any{"scopes": []string{"a b"}}, "scopes"},
		{"null scopes", map[string]any{"scopes": nil}, "scopes"},
		{"lifetime over the maximum", map[string]any{"access_ttl": "48h"}, "access_ttl"},
		{"origin with a path", map[string]any{"allowed_origins": []string{"https://app.example/"}}, "allowed_origins"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			wantProblem(t, e.admin(key, "PATCH", clients+"/"+id, bad.body), http.StatusBadRequest, "validation", bad.field)
		})
	}
	wantProblem(t, e.admin(key, "POST", clients, map[string]any{"name": "x", "public": true,
		"grant_types": []string{"client_credentials"}}), http.StatusBadRequest, "validation", "grant_types")
	wantProblem(t, e.admin(key, "POST", clients, map[string]any{"grant_types": []string{}}), http.StatusBadRequest, "validation", "name")
	// public and client_id cannot change: they are not members of a PATCH.
	wantProblem(t, e.admin(key, "PATCH", clients+"/"+id, map[string]any{"public": true}), http.StatusBadRequest, "unknown-field", "public")

	e.adminOK(http.StatusNoContent, key, "DELETE", clients+"/"+id, nil)
	wantProblem(t, e.admin(key, "GET", clients+"/"+id, nil), http.StatusNotFound, "not-found", "")
	wantProblem(t, e.admin(key, "DELETE", clients+"/"+id, nil), http.StatusNotFound, "not-found", "")
	if r := e.post("/token", &client{ID: id, Secret: secret}, url.Values{"grant_type": {"password"},
		"username": {"x"}, "password": {"y"}}); r.Status != http.StatusUnauthorized {
		t.Errorf("deleted client authenticates: %d %s", r.Status, r.Body)
	}
}

// Rotating a secret returns the new one; the old one stops at once by default, or
// keeps working for previous_valid_for (measured on the service clock).
func TestAdminSecretRotation(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a")
	path := tenantPath("a", "clients", w.rs.ID, "secret")
	works := func(secret string) bool {
		t.Helper()
		r := w.post("/introspect", &client{ID: w.rs.ID, Secret: secret}, url.Values{"token": {"jat_x"}})
		return r.Status == http.StatusOK
	}

	t.Run("no overlap", func(t *testing.T) {
		got := w.adminOK(http.StatusOK, key, "POST", path, nil)
		fresh, _ := got["client_secret"].(string)
		if !strings.HasPrefix(fresh, "jcs_") || fresh == w.rs.Secret || len(got["secrets"].([]any)) != 1 {
			t.Fatalf("rotation %v", got)
		}
		if works(w.rs.Secret) || !works(fresh) {
			t.Errorf("old works %v, new works %v", works(w.rs.Secret), works(fresh))
		}
		w.rs.Secret = fresh
	})
	t.Run("24h overlap", func(t *testing.T) {
		old := w.rs.Secret
		got := w.adminOK(http.StatusOK, key, "POST", path, map[string]any{"previous_valid_for": "24h"})
		fresh, _ := got["client_secret"].(string)
		secrets, _ := got["secrets"].([]any)
		if len(secrets) != 2 || secrets[0].(map[string]any)["expires_at"] != "2026-01-03T03:04:05Z" ||
			secrets[1].(map[string]any)["expires_at"] != nil {
			t.Fatalf("rotation %v", got)
		}
		if !works(old) || !works(fresh) {
			t.Fatalf("during the overlap: old %v, new %v", works(old), works(fresh))
		}
		w.clock.Advance(24*time.Hour - time.Second)
		if !works(old) {
			t.Error("old secret stopped before the end of the overlap")
		}
		w.clock.Advance(time.Second)
		if works(old) || !works(fresh) {
			t.Errorf("after the overlap: old %v, new %v", works(old), works(fresh))
		}
		if got := w.adminOK(http.StatusOK, key, "GET", tenantPath("a", "clients", w.rs.ID), nil); len(got["secrets"].([]any)) != 1 {
			t.Errorf("expired secret still described: %v", got["secrets"])
		}
	})
	for _, bad := range []string{"8d", "-1s", "later"} {
		wantProblem(t, w.admin(key, "POST", path, map[string]any{"previous_valid_for": bad}),
			http.StatusBadRequest, "validation", "previous_valid_for")
	}
	pub := w.mustClient("a", publicSpec())
	wantProblem(t, w.admin(key, "POST", tenantPath("a", "clients", pub.ID, "secret"), nil),
		http.StatusBadRequest, "validation", "client_id")
}

// Disabling a client bumps its epoch with the flag: its tokens die, it cannot
// authenticate anywhere, and re-enabling brings none of its old tokens back.
func TestAdminDisableClient(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a")
	other := w.mustClient("a", appSpec("other app"))
	tok := w.loginPair(w.app, "alice", testkit.AlicePassword)
	kept := w.loginPair(other, "alice", testkit.AlicePassword)
	path := tenantPath("a", "clients", w.app.ID)

	if got := w.adminOK(http.StatusOK, key, "PATCH", path, map[string]any{"disabled": true}); got["disabled"] != true {
		t.Fatalf("disable: %v", got)
	}
	if w.active(w.rs, tok.access) {
		t.Error("a disabled client's token is active")
	}
	r := w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}})
	if r.Status != http.StatusUnauthorized {
		t.Errorf("a disabled client logs in: %d %s", r.Status, r.Body)
	}
	if r := w.post("/revoke", &w.app, url.Values{"token": {tok.access}}); r.Status != http.StatusUnauthorized {
		t.Errorf("a disabled client revokes: %d %s", r.Status, r.Body)
	}
	if !w.active(w.rs, kept.access) {
		t.Error("another client's token died")
	}
	// A disabled resource server cannot introspect.
	w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a", "clients", w.rs.ID), map[string]any{"disabled": true})
	if r := w.post("/introspect", &w.rs, url.Values{"token": {kept.access}}); r.Status != http.StatusUnauthorized {
		t.Errorf("a disabled resource server introspects: %d %s", r.Status, r.Body)
	}
	w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a", "clients", w.rs.ID), map[string]any{"disabled": false})

	w.adminOK(http.StatusOK, key, "PATCH", path, map[string]any{"disabled": false})
	if w.active(w.rs, tok.access) || w.refreshes(w.app, tok.refresh) {
		t.Error("re-enabling the client revived its old tokens")
	}
	fresh := w.loginPair(w.app, "alice", testkit.AlicePassword)
	if !w.active(w.rs, fresh.access) {
		t.Error("the re-enabled client's new token is inactive")
	}
}

// The forwards_user_ip flag is set through the CLI or a global key, never a tenant key.
func TestAdminForwardsUserIP(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("a")
	global, keyA := e.mustAdminKey(""), e.mustAdminKey("a")
	clients := tenantPath("a", "clients")

	wantProblem(t, e.admin(keyA, "POST", clients, map[string]any{"name": "relay", "forwards_user_ip": true}),
		http.StatusForbidden, "forbidden", "")
	relay := e.adminOK(http.StatusCreated, global, "POST", clients, map[string]any{"name": "relay", "forwards_user_ip": true})
	path := clients + "/" + relay["client_id"].(string)
	if relay["forwards_user_ip"] != true {
		t.Fatalf("created %v", relay)
	}
	wantProblem(t, e.admin(keyA, "PATCH", path, map[string]any{"forwards_user_ip": false}), http.StatusForbidden, "forbidden", "")
	wantProblem(t, e.admin(keyA, "PATCH", path, map[string]any{"name": "x", "forwards_user_ip": false}), http.StatusForbidden, "forbidden", "")
	// The tenant key may change everything else, and setting the flag to what it is changes nothing.
	got := e.adminOK(http.StatusOK, keyA, "PATCH", path, map[string]any{"name": "relay 2", "forwards_user_ip": true})
	if got["name"] != "relay 2" || got["forwards_user_ip"] != true {
		t.Errorf("tenant key patch: %v", got)
	}
	got = e.adminOK(http.StatusOK, global, "PATCH", path, map[string]any{"forwards_user_ip": false})
	if got["forwards_user_ip"] != false {
		t.Errorf("global key patch: %v", got)
	}
	wantProblem(t, e.admin(global, "POST", clients, map[string]any{"name": "spa", "public": true, "forwards_user_ip": true}),
		http.StatusBadRequest, "validation", "forwards_user_ip")
}
