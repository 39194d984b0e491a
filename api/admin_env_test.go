package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/service"
)

// Helpers for the admin API tests.

// mustAdminKey creates an admin key for the tenant slug, or a global key for "".
func (e *env) mustAdminKey(slug string) string {
	e.t.Helper()
	_, key, err := e.svc.CreateAdminKey(context.Background(), e.cli, slug, "test key "+slug)
	if err != nil {
		e.t.Fatal(err)
	}
	return key
}

// adminRaw sends body as is with the key (none when key is "") and content type.
func (e *env) adminRaw(key, method, path, contentType, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.do(req)
}

// admin sends body (nil: none; a string: as is; else marshalled) as JSON.
func (e *env) admin(key, method, path string, body any) response {
	e.t.Helper()
	var raw string
	switch b := body.(type) {
	case nil:
	case string:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = string(j)
	}
	ct := ""
	if raw != "" {
		ct = "application/json"
	}
	return e.adminRaw(key, method, path, ct, raw)
}

// adminOK sends the request and decodes the answer, failing unless the status is want.
func (e *env) adminOK(want int, key, method, path string, body any) map[string]any {
	e.t.Helper()
	r := e.admin(key, method, path, body)
	if r.Status != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	if want == http.StatusNoContent {
		if len(r.Body) != 0 {
			e.t.Fatalf("%s %s: 204 with body %q", method, path, r.Body)
		}
		return nil
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	return r.JSON(e.t)
}

// items returns a listing's items.
func items(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("no items in %v", m)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i], _ = v.(map[string]any)
	}
	return out
}

// wantProblem checks an RFC 9457 answer: status, media type, type and, when field is not
// empty, the field it names.
func wantProblem(t *testing.T, r response, status int, typ, field string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d %s, want %d", r.Status, r.Body, status)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content type %q, want application/problem+json", ct)
	}
	p := r.JSON(t)
	if p["type"] != "https://jeton.dev/problems/"+typ || p["status"] != float64(status) || p["title"] == "" {
		t.Errorf("problem %v, want type %s and status %d", p, typ, status)
	}
	if field != "" && p["field"] != field {
		t.Errorf("problem %v, want field %q", p, field)
	}
	return p
}

// tenantPath returns /admin/v1/tenants/slug followed by the rest, joined with slashes.
func tenantPath(slug string, rest ...string) string {
	p := "/admin/v1/tenants/" + url.PathEscape(slug)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// tokens is a login's access and refresh token.
type tokenPair struct{ access, refresh string }

func (w world) loginPair(c client, username, pw string) tokenPair {
	w.t.Helper()
	tok := w.login(c, username, pw)
	a, _ := tok["access_token"].(string)
	r, _ := tok["refresh_token"].(string)
	return tokenPair{a, r}
}

// active reports whether the access token introspects active to rs.
func (w world) active(rs client, token string) bool {
	w.t.Helper()
	return w.introspect(rs, token)["active"] == true
}

// refreshes reports whether the refresh token still gets new tokens for c.
func (w world) refreshes(c client, rt string) bool {
	w.t.Helper()
	r := w.post("/token", &c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	return r.Status == http.StatusOK
}

// appSpec is an app like the world's: password and refresh grants, read and write.
func appSpec(name string) service.ClientSpec {
	return service.ClientSpec{Name: name, GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}}
}

// publicSpec is a public client with the password grant.
func publicSpec() service.ClientSpec {
	return service.ClientSpec{Name: "spa", Public: true, GrantTypes: []string{"password"}}
}
