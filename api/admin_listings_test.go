package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
)

// pages follows next_cursor from path (whose query it extends) and returns every page's
// items, one slice per page.
func (e *env) pages(key, path string, q url.Values, field string) [][]string {
	e.t.Helper()
	var out [][]string
	for {
		got := e.adminOK(http.StatusOK, key, "GET", path+"?"+q.Encode(), nil)
		var page []string
		for _, it := range items(e.t, got) {
			page = append(page, it[field].(string))
		}
		out = append(out, page)
		next, ok := got["next_cursor"].(string)
		if !ok {
			return out
		}
		q.Set("cursor", next)
		if len(out) > 100 {
			e.t.Fatal("too many pages")
		}
	}
}

func TestAdminTenantListPages(t *testing.T) {
	e := newEnv(t)
	global := e.mustAdminKey("")
	for _, slug := range []string{"acme", "acme-eu", "beta", "acme-us", "gamma"} {
		e.adminOK(http.StatusCreated, global, "POST", "/admin/v1/tenants", map[string]any{"slug": slug})
	}
	e.adminOK(http.StatusNoContent, global, "DELETE", tenantPath("gamma"), nil)
	tenantKey := e.mustAdminKey("acme-eu")

	tests := []struct {
		name, key string
		query     url.Values
		want      [][]string
	}{
		{"all at once", global, url.Values{}, [][]string{{"acme", "acme-eu", "acme-us", "beta"}}},
		{"pages of two", global, url.Values{"limit": {"2"}}, [][]string{{"acme", "acme-eu"}, {"acme-us", "beta"}}},
		{"prefix", global, url.Values{"prefix": {"acme-"}, "limit": {"1"}}, [][]string{{"acme-eu"}, {"acme-us"}}},
		{"no match", global, url.Values{"prefix": {"zeta"}}, [][]string{nil}},
		{"a tenant key sees its own", tenantKey, url.Values{}, [][]string{{"acme-eu"}}},
		{"a tenant key with another prefix", tenantKey, url.Values{"prefix": {"beta"}}, [][]string{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.pages(tt.key, "/admin/v1/tenants", tt.query, "slug"); !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("pages %q, want %q", got, tt.want)
			}
		})
	}

	first := e.adminOK(http.StatusOK, global, "GET", "/admin/v1/tenants?limit=1", nil)
	for _, bad := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"cursor=nonsense", "cursor"}, {"prefix=%01", "prefix"},
	} {
		t.Run(bad.query, func(t *testing.T) {
			wantProblem(t, e.admin(global, "GET", "/admin/v1/tenants?"+bad.query, nil), http.StatusBadRequest, "validation", bad.field)
		})
	}
	// A tenants cursor is not a clients cursor.
	wantProblem(t, e.admin(global, "GET", tenantPath("acme", "clients")+"?cursor="+first["next_cursor"].(string), nil),
		http.StatusBadRequest, "validation", "cursor")
}

func TestAdminClientListPages(t *testing.T) {
	e := newEnv(t)
	global := e.mustAdminKey("")
	for _, slug := range []string{"a", "b"} {
		e.adminOK(http.StatusCreated, global, "POST", "/admin/v1/tenants", map[string]any{"slug": slug})
	}
	// The test clock stands still: every client has the same created_at, so the pages
	// rest on the client_id tie-break.
	var ids []string
	for i := range 5 {
		c := e.adminOK(http.StatusCreated, global, "POST", tenantPath("a", "clients"), map[string]any{"name": "Web app " + strconv.Itoa(i)})
		ids = append(ids, c["client_id"].(string))
	}
	e.adminOK(http.StatusCreated, global, "POST", tenantPath("a", "clients"), map[string]any{"name": "Billing API"})
	other := e.adminOK(http.StatusCreated, global, "POST", tenantPath("b", "clients"), map[string]any{"name": "Web app b"})
	slices.Sort(ids)

	pages := e.pages(global, tenantPath("a", "clients"), url.Values{"search": {"WEB"}, "limit": {"2"}}, "client_id")
	if want := [][]string{ids[:2], ids[2:4], ids[4:]}; !slices.EqualFunc(pages, want, slices.Equal) {
		t.Errorf("pages %q, want %q", pages, want)
	}
	if got := e.pages(global, tenantPath("a", "clients"), url.Values{"search": {ids[3]}}, "client_id"); !slices.EqualFunc(got, [][]string{{ids[3]}}, slices.Equal) {
		t.Errorf("by client_id: %q", got)
	}
	if got := e.pages(global, tenantPath("a", "clients"), url.Values{}, "name"); len(got) != 1 || len(got[0]) != 6 {
		t.Errorf("all: %q", got)
	}
	// Another tenant's client is not found by its id, and a tenant key reaches only its own.
	if got := e.pages(global, tenantPath("a", "clients"), url.Values{"search": {other["client_id"].(string)}}, "client_id"); !slices.EqualFunc(got, [][]string{nil}, slices.Equal) {
		t.Errorf("another tenant's client: %q", got)
	}
	wantProblem(t, e.admin(e.mustAdminKey("b"), "GET", tenantPath("a", "clients"), nil), http.StatusNotFound, "not-found", "")
	wantProblem(t, e.admin(global, "GET", tenantPath("a", "clients")+"?limit=x", nil), http.StatusBadRequest, "validation", "limit")
}

func TestAdminEventsAfter(t *testing.T) {
	e := newEnv(t)
	key := e.mustAdminKey("")
	e.adminOK(http.StatusCreated, key, "POST", "/admin/v1/tenants", map[string]any{"slug": "acme"})
	for _, name := range []string{"alice", "bob", "carol"} {
		e.adminOK(http.StatusCreated, key, "POST", tenantPath("acme", "users"), map[string]any{"username": name, "password": "a long enough password"})
	}
	path := tenantPath("acme", "events")
	all := items(t, e.adminOK(http.StatusOK, key, "GET", path, nil))
	if len(all) < 4 {
		t.Fatalf("events %v", all)
	}
	id := func(ev map[string]any) string { return strconv.FormatFloat(ev["id"].(float64), 'f', 0, 64) }

	// After the oldest: every newer one, newest first, paged with the cursor.
	after := url.Values{"after": {id(all[len(all)-1])}, "limit": {"2"}}
	var got []map[string]any
	for {
		page := e.adminOK(http.StatusOK, key, "GET", path+"?"+after.Encode(), nil)
		got = append(got, items(t, page)...)
		next, ok := page["next_cursor"].(string)
		if !ok {
			break
		}
		after.Set("cursor", next)
	}
	if len(got) != len(all)-1 {
		t.Fatalf("after the oldest: %d events, want %d", len(got), len(all)-1)
	}
	for i := range got {
		if got[i]["id"] != all[i]["id"] {
			t.Errorf("event %d is %v, want %v", i, got[i]["id"], all[i]["id"])
		}
	}
	if newest := items(t, e.adminOK(http.StatusOK, key, "GET", path+"?after="+id(all[0]), nil)); len(newest) != 0 {
		t.Errorf("after the newest: %v", newest)
	}
	// What happens next is read after the last seen id.
	e.adminOK(http.StatusCreated, key, "POST", tenantPath("acme", "users"), map[string]any{"username": "dave", "password": "a long enough password"})
	if next := items(t, e.adminOK(http.StatusOK, key, "GET", path+"?after="+id(all[0]), nil)); len(next) != 1 || next[0]["kind"] != "user_created" {
		t.Errorf("after the newest, once dave exists: %v", next)
	}
	for _, bad := range []string{"0", "-1", "x", "1.5"} {
		wantProblem(t, e.admin(key, "GET", path+"?after="+bad, nil), http.StatusBadRequest, "validation", "after")
	}
}

func TestAdminKeyDescribesItself(t *testing.T) {
	e := newEnv(t)
	global := e.mustAdminKey("")
	e.adminOK(http.StatusCreated, global, "POST", "/admin/v1/tenants", map[string]any{"slug": "acme"})
	tenant := e.mustAdminKey("acme")
	if got := e.adminOK(http.StatusOK, global, "GET", "/admin/v1/key", nil); got["tenant"] != nil || got["name"] != "test key " {
		t.Errorf("global key: %v", got)
	}
	if got := e.adminOK(http.StatusOK, tenant, "GET", "/admin/v1/key", nil); got["tenant"] != "acme" || got["name"] != "test key acme" {
		t.Errorf("tenant key: %v", got)
	}
	wantProblem(t, e.admin("jak_nonsense", "GET", "/admin/v1/key", nil), http.StatusUnauthorized, "unauthorized", "")
}
