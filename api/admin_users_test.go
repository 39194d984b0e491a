package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// Users are created, listed, read, updated and deleted through the admin API.
func TestAdminUserCRUD(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("")
	users := tenantPath("a", "users")

	created := w.adminOK(http.StatusCreated, key, "POST", users, map[string]any{"username": "Bob",
		"password": "a long enough password", "scopes": []string{"read"}})
	id, _ := created["id"].(string)
	if _, err := uuid.Parse(id); err != nil || created["username"] != "bob" || created["disabled"] != false ||
		!cmp.Equal(created["scopes"], []any{"read"}) || created["created_at"] == nil {
		t.Fatalf("created %v", created)
	}
	if _, ok := created["password"]; ok {
		t.Error("the password is echoed")
	}
	if got := w.adminOK(http.StatusOK, key, "GET", tenantPath("a", "users", id), nil); !cmp.Equal(got, created) {
		t.Errorf("GET %v, want %v", got, created)
	}
	wantProblem(t, w.admin(key, "POST", users, map[string]any{"username": "bob", "password": "a long enough password"}),
		http.StatusConflict, "conflict", "")
	wantProblem(t, w.admin(key, "POST", users, map[string]any{"username": "carol", "password": "short"}),
		http.StatusBadRequest, "validation", "password")
	wantProblem(t, w.admin(key, "POST", users, map[string]any{"username": "", "password": "a long enough password"}),
		http.StatusBadRequest, "validation", "username")

	// Scopes: absent leaves them, null lifts the restriction, [] allows none.
	got := w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a", "users", id), map[string]any{"disabled": true})
	if got["disabled"] != true || !cmp.Equal(got["scopes"], []any{"read"}) {
		t.Errorf("disable: %v", got)
	}
	got = w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a", "users", id), map[string]any{"disabled": false, "scopes": nil})
	if got["disabled"] != false || got["scopes"] != nil {
		t.Errorf("enable, no restriction: %v", got)
	}
	got = w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a", "users", id), map[string]any{"scopes": []string{}})
	if !cmp.Equal(got["scopes"], []any{}) {
		t.Errorf("no scopes: %v", got)
	}

	// A new password works at once and the old one no longer does.
	w.adminOK(http.StatusNoContent, key, "PUT", tenantPath("a", "users", w.alice.ID.String(), "password"),
		map[string]any{"password": "a brand new password"})
	w.login(w.app, "alice", "a brand new password")
	if r := w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}}); r.Status != http.StatusBadRequest {
		t.Errorf("old password: %d %s", r.Status, r.Body)
	}

	w.adminOK(http.StatusNoContent, key, "DELETE", tenantPath("a", "users", id), nil)
	wantProblem(t, w.admin(key, "GET", tenantPath("a", "users", id), nil), http.StatusNotFound, "not-found", "")
	wantProblem(t, w.admin(key, "DELETE", tenantPath("a", "users", id), nil), http.StatusNotFound, "not-found", "")
	// {user} is an id; a username names nothing.
	wantProblem(t, w.admin(key, "GET", tenantPath("a", "users", "alice"), nil), http.StatusNotFound, "not-found", "")
}

// GET .../users pages with prefix, limit and cursor, in username order.
func TestAdminUserPages(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("a")
	key := e.mustAdminKey("a")
	for i := range 7 {
		e.mustUser("a", fmt.Sprintf("user%02d", i), "a long enough password")
	}
	e.mustUser("a", "other", "a long enough password")

	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := url.Values{"prefix": {"USER"}, "limit": {"3"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		got := e.adminOK(http.StatusOK, key, "GET", tenantPath("a", "users")+"?"+q.Encode(), nil)
		for _, u := range items(t, got) {
			names = append(names, u["username"].(string))
		}
		next, _ := got["next_cursor"].(string)
		if next == "" {
			if _, ok := got["next_cursor"]; !ok || pages != 2 {
				t.Errorf("last page %v after %d pages", got, pages)
			}
			break
		}
		cursor = next
	}
	want := []string{"user00", "user01", "user02", "user03", "user04", "user05", "user06"}
	if !cmp.Equal(names, want) {
		t.Errorf("paged usernames %v, want %v", names, want)
	}
	all := items(t, e.adminOK(http.StatusOK, key, "GET", tenantPath("a", "users"), nil))
	if len(all) != 8 {
		t.Errorf("unfiltered: %d users", len(all))
	}
	for _, bad := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=x", "limit"},
		{"cursor=nonsense", "cursor"}, {"prefix=%00", "prefix"},
	} {
		t.Run(bad.query, func(t *testing.T) {
			wantProblem(t, e.admin(key, "GET", tenantPath("a", "users")+"?"+bad.query, nil), http.StatusBadRequest, "validation", bad.field)
		})
	}
}

// An admin lists a user's live sessions and revokes one, which kills its access
// and refresh tokens and leaves the others alone.
func TestAdminSessions(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a")
	first := w.loginPair(w.app, "alice", testkit.AlicePassword)
	w.clock.Advance(time.Second)
	second := w.loginPair(w.app, "alice", testkit.AlicePassword)
	sessions := tenantPath("a", "users", w.alice.ID.String(), "sessions")

	list := items(t, w.adminOK(http.StatusOK, key, "GET", sessions, nil))
	if len(list) != 2 {
		t.Fatalf("sessions %v", list)
	}
	for _, s := range list {
		if s["client_id"] != w.app.ID || s["scope"] != "read write" || s["created_at"] == nil ||
			s["expires_at"] == nil || s["last_refreshed_at"] != nil {
			t.Errorf("session %v", s)
		}
	}
	// Newest first: the second login's session.
	newest, _ := list[0]["id"].(string)
	if sid := w.introspect(w.rs, second.access)["sid"]; sid != newest {
		t.Fatalf("newest session %s, second login's sid %v", newest, sid)
	}
	w.adminOK(http.StatusNoContent, key, "DELETE", sessions+"/"+newest, nil)
	if w.active(w.rs, second.access) || w.refreshes(w.app, second.refresh) {
		t.Error("the revoked session's tokens still work")
	}
	if !w.active(w.rs, first.access) || !w.refreshes(w.app, first.refresh) {
		t.Error("the other session was touched")
	}
	if list := items(t, w.adminOK(http.StatusOK, key, "GET", sessions, nil)); len(list) != 1 || list[0]["id"] == newest {
		t.Errorf("sessions after revoking one: %v", list)
	}
	// Revoking again is harmless; a session of another user, or no session, is not found.
	w.adminOK(http.StatusNoContent, key, "DELETE", sessions+"/"+newest, nil)
	bob := w.mustUser("a", "bob", "a long enough password")
	wantProblem(t, w.admin(key, "DELETE", tenantPath("a", "users", bob.ID.String(), "sessions", newest), nil),
		http.StatusNotFound, "not-found", "")
	wantProblem(t, w.admin(key, "DELETE", sessions+"/"+uuid.NewString(), nil), http.StatusNotFound, "not-found", "")
	wantProblem(t, w.admin(key, "DELETE", sessions+"/not-a-uuid", nil), http.StatusNotFound, "not-found", "")
}
