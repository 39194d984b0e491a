package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// RFC 9457: malformed JSON, unknown fields, wrong types, other media types and
// oversized bodies are problem details, never a 500, and change nothing.
func TestAdminMalformedRequests(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("")
	users := tenantPath("a", "users")
	alice := tenantPath("a", "users", w.alice.ID.String())
	const json = "application/json"
	tests := []struct {
		name         string
		method, path string
		contentType  string
		body         string
		status       int
		typ, field   string
	}{
		{"truncated JSON", "POST", users, json, `{"username": "bob"`, 400, "malformed-body", ""},
		{"syntax error", "PATCH", alice, json, `{"disabled": tru}`, 400, "malformed-body", ""},
		{"not an object", "POST", users, json, `["bob"]`, 400, "malformed-body", ""},
		{"null", "POST", users, json, `null`, 400, "malformed-body", ""},
		{"two objects", "PATCH", alice, json, `{"disabled": true}{"disabled": false}`, 400, "malformed-body", ""},
		{"trailing garbage", "PATCH", alice, json, `{"disabled": true} x`, 400, "malformed-body", ""},
		{"empty body", "POST", users, json, ``, 400, "malformed-body", ""},
		{"unknown field", "POST", users, json, `{"username": "bob", "password": "long enough password", "admin": true}`, 400, "unknown-field", "admin"},
		{"unknown field in a patch", "PATCH", alice, json, `{"username": "eve"}`, 400, "unknown-field", "username"},
		{"field of another case", "PATCH", alice, json, `{"Disabled": true, "disabled": false, "DISABLED": 1}`, 400, "validation", "disabled"},
		{"string for a bool", "PATCH", alice, json, `{"disabled": "true"}`, 400, "validation", "disabled"},
		{"number for a string", "POST", users, json, `{"username": 42, "password": "long enough password"}`, 400, "validation", "username"},
		{"object for a list", "PATCH", alice, json, `{"scopes": {"read": true}}`, 400, "validation", "scopes"},
		{"number in a list", "PATCH", alice, json, `{"scopes": ["read", 1]}`, 400, "validation", "scopes"},
		{"huge number", "POST", tenantPath("a", "clients"), json, `{"name": "x", "public": 1e999}`, 400, "validation", "public"},
		{"form body", "POST", users, "application/x-www-form-urlencoded", `username=bob&password=long+enough+password`, 415, "unsupported-media-type", ""},
		{"no content type", "POST", users, "", `{"username": "bob", "password": "long enough password"}`, 415, "unsupported-media-type", ""},
		{"text/plain", "PATCH", alice, "text/plain", `{"disabled": true}`, 415, "unsupported-media-type", ""},
		{"over 64 KiB", "POST", users, json, `{"username": "bob", "password": "` + strings.Repeat("x", 64<<10) + `"}`, 413, "body-too-large", ""},
		{"deep nesting", "PATCH", alice, json, `{"scopes":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}", 400, "malformed-body", ""},
		{"invalid UTF-8", "POST", users, json, "{\"username\": \"b\xffob\", \"password\": \"long enough password\"}", 400, "validation", "username"},
		{"NUL in a name", "POST", tenantPath("a", "clients"), json, `{"name": "a\u0000b"}`, 400, "validation", "name"},
		{"unknown route", "GET", "/admin/v1/nothing", "", "", 404, "not-found", ""},
		{"unknown method", "PUT", tenantPath("a"), json, `{}`, 405, "method-not-allowed", ""},
		{"NUL in a path", "GET", "/admin/v1/tenants/a%00b/users", "", "", 404, "not-found", ""},
		{"invalid UTF-8 in a path", "GET", "/admin/v1/tenants/a/clients/%ff", "", "", 404, "not-found", ""},
		{"long path parameter", "GET", "/admin/v1/tenants/" + strings.Repeat("a", 300), "", "", 404, "not-found", ""},
		{"bad slug", "GET", "/admin/v1/tenants/NOT%20A%20SLUG/users", "", "", 404, "not-found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, w.adminRaw(key, tt.method, tt.path, tt.contentType, tt.body), tt.status, tt.typ, tt.field)
		})
	}
	got := w.adminOK(http.StatusOK, key, "GET", alice, nil)
	if got["disabled"] != false || got["scopes"] != nil {
		t.Errorf("alice changed: %v", got)
	}
	if list := items(t, w.adminOK(http.StatusOK, key, "GET", users, nil)); len(list) != 1 {
		t.Errorf("users: %v", list)
	}
}

// No key or a bad key is 401 with a Bearer challenge, before anything is read or
// checked; a revoked key and a key of a deleted tenant stop at once.
func TestAdminUnauthorized(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("a")
	e.mustTenant("b")
	ctx := context.Background()
	revoked, revokedKey, err := e.svc.CreateAdminKey(ctx, e.cli, "", "old")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeAdminKey(ctx, e.cli, revoked.ID); err != nil {
		t.Fatal(err)
	}
	keyB := e.mustAdminKey("b")
	global := e.mustAdminKey("")
	e.adminOK(http.StatusNoContent, global, "DELETE", tenantPath("b"), nil)
	if _, err := e.svc.RevokeAdminKey(ctx, e.cli, uuid.New()); err == nil {
		t.Error("revoking an unknown key succeeded")
	}

	for name, authz := range map[string]string{
		"no header":         "",
		"basic":             basic("user", "pass"),
		"empty bearer":      "Bearer ",
		"malformed key":     "Bearer jak_nonsense",
		"a client secret":   "Bearer jcs_" + strings.Repeat("A", 49),
		"revoked key":       "Bearer " + revokedKey,
		"deleted tenant":    "Bearer " + keyB,
		"key with a suffix": "Bearer " + global + "x",
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest("POST", e.srv.URL+"/admin/v1/tenants", strings.NewReader(`{"slug": "c"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if authz != "" {
				req.Header.Set("Authorization", authz)
			}
			r := e.do(req)
			p := wantProblem(t, r, http.StatusUnauthorized, "unauthorized", "")
			if r.Header.Get("WWW-Authenticate") != `Bearer realm="jeton admin"` || strings.Contains(p["detail"].(string), "revoked") {
				t.Errorf("challenge %q, problem %v", r.Header.Get("WWW-Authenticate"), p)
			}
		})
	}
	if _, err := e.svc.Tenant(ctx, "c"); err == nil {
		t.Error("an unauthorized request created a tenant")
	}
	// Lowercase scheme is fine (RFC 7235 §2.1).
	r := e.adminRaw("", "GET", "/admin/v1/tenants", "", "")
	wantProblem(t, r, http.StatusUnauthorized, "unauthorized", "")
	req, _ := http.NewRequest("GET", e.srv.URL+"/admin/v1/tenants", nil)
	req.Header.Set("Authorization", "bearer "+global)
	if r := e.do(req); r.Status != http.StatusOK {
		t.Errorf("lowercase bearer: %d %s", r.Status, r.Body)
	}
}
