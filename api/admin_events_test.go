package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// allEvents pages through a stream (path plus query) with small pages and returns every
// event, newest first.
func (e *env) allEvents(key, path string, q url.Values) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	q = cloneValues(q)
	q.Set("limit", "7")
	for {
		got := e.adminOK(http.StatusOK, key, "GET", path+"?"+q.Encode(), nil)
		out = append(out, items(e.t, got)...)
		next, _ := got["next_cursor"].(string)
		if next == "" {
			return out
		}
		q.Set("cursor", next)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Every change and every OAuth outcome writes an event with the right actor
// (admin key, client or CLI), client IP and request id; events outlive the user they name,
// and a deleted tenant leaves a tombstone in the global stream.
func TestAdminEventsRecorded(t *testing.T) {
	w := newRevokeWorld(t)
	ctx := context.Background()
	keyRow, key, err := w.svc.CreateAdminKey(ctx, w.cli, "a", "ops")
	if err != nil {
		t.Fatal(err)
	}
	global := w.mustAdminKey("")
	adminActor := map[string]any{"type": "admin_key", "id": keyRow.ID.String(), "name": "ops"}
	clientActor := func(c client, name string) map[string]any {
		return map[string]any{"type": "client", "id": c.ID, "name": name}
	}
	cliActor := map[string]any{"type": "cli", "id": w.cli.ID, "name": w.cli.Name}

	// What each admin request answered with as its request id.
	requestIDs := map[string]string{}
	adminDo := func(kind string, want int, method, path string, body any) map[string]any {
		t.Helper()
		r := w.admin(key, method, path, body)
		if r.Status != want {
			t.Fatalf("%s: %d %s", kind, r.Status, r.Body)
		}
		requestIDs[kind] = r.Header.Get("X-Request-Id")
		if want == http.StatusNoContent {
			return nil
		}
		return r.JSON(t)
	}

	// OAuth outcomes, by clients.
	tok := w.loginPair(w.app, "alice", testkit.AlicePassword)
	w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong password!"}})
	r := w.post("/token", &w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	w.post("/token", &w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}}) // reuse
	w.clientToken(w.cc)
	other := w.loginPair(w.app2, "alice", testkit.AlicePassword)
	w.post("/revoke", &w.app2, url.Values{"token": {other.access}})

	// Admin changes, by the tenant key.
	bob := adminDo("user_created", http.StatusCreated, "POST", tenantPath("a", "users"), map[string]any{"username": "robert", "password": "robert's long password"})
	bobID, _ := bob["id"].(string)
	bobTok := w.loginPair(w.app, "robert", "robert's long password")
	adminDo("user_updated", http.StatusOK, "PATCH", tenantPath("a", "users", bobID), map[string]any{"scopes": []string{"read"}})
	adminDo("user_disabled", http.StatusOK, "PATCH", tenantPath("a", "users", bobID), map[string]any{"disabled": true})
	adminDo("user_enabled", http.StatusOK, "PATCH", tenantPath("a", "users", bobID), map[string]any{"disabled": false})
	adminDo("user_password_set", http.StatusNoContent, "PUT", tenantPath("a", "users", bobID, "password"), map[string]any{"password": "robert's new password"})
	bobTok = w.loginPair(w.app, "robert", "robert's new password")
	bobSession, _ := w.introspect(w.rs, bobTok.access)["sid"].(string)
	adminDo("session_revoked", http.StatusNoContent, "DELETE", tenantPath("a", "users", bobID, "sessions", bobSession), nil)
	adminDo("user_tokens_revoked", http.StatusOK, "POST", tenantPath("a", "users", bobID, "revoke"), nil)
	adminDo("user_deleted", http.StatusNoContent, "DELETE", tenantPath("a", "users", bobID), nil)
	cl := adminDo("client_created", http.StatusCreated, "POST", tenantPath("a", "clients"), map[string]any{"name": "temp"})
	clID, _ := cl["client_id"].(string)
	adminDo("client_updated", http.StatusOK, "PATCH", tenantPath("a", "clients", clID), map[string]any{"name": "temporary"})
	adminDo("client_disabled", http.StatusOK, "PATCH", tenantPath("a", "clients", clID), map[string]any{"disabled": true})
	adminDo("client_enabled", http.StatusOK, "PATCH", tenantPath("a", "clients", clID), map[string]any{"disabled": false})
	adminDo("client_secret_rotated", http.StatusOK, "POST", tenantPath("a", "clients", clID, "secret"), map[string]any{"previous_valid_for": "1h"})
	adminDo("client_tokens_revoked", http.StatusOK, "POST", tenantPath("a", "clients", clID, "revoke"), nil)
	adminDo("client_deleted", http.StatusNoContent, "DELETE", tenantPath("a", "clients", clID), nil)
	adminDo("tenant_updated", http.StatusOK, "PATCH", tenantPath("a"), map[string]any{"access_ttl": "10m"})
	adminDo("tenant_tokens_revoked", http.StatusOK, "POST", tenantPath("a", "revoke"), nil)
	late := w.loginPair(w.app, "alice", testkit.AlicePassword)
	rr := w.send("POST", "/revoke", headers("Content-Type", formType, "Authorization", "Bearer "+key), url.Values{"token": {late.access}}.Encode())
	requestIDs["token_revoked by admin"] = rr.Header.Get("X-Request-Id")

	events := w.allEvents(key, tenantPath("a", "events"), nil)
	byKind := map[string][]map[string]any{}
	for _, ev := range events {
		k := ev["kind"].(string)
		byKind[k] = append(byKind[k], ev)
	}
	// The tenant key reads its own stream: newest first.
	for i := 1; i < len(events); i++ {
		if events[i-1]["id"].(float64) <= events[i]["id"].(float64) {
			t.Fatalf("events not newest first at %d", i)
		}
	}

	type want struct {
		kind    string
		actor   map[string]any
		subject string // subject type
		userID  string
		client  string
	}
	wants := []want{
		{"tenant_created", cliActor, "", "", ""},
		{"admin_key_created", cliActor, "admin_key", "", ""},
		{"login_success", clientActor(w.app, "app"), "session", w.alice.ID.String(), w.app.ID},
		{"login_failure", clientActor(w.app, "app"), "username", w.alice.ID.String(), w.app.ID},
		{"token_refreshed", clientActor(w.app, "app"), "session", w.alice.ID.String(), w.app.ID},
		{"refresh_reuse_detected", clientActor(w.app, "app"), "session", w.alice.ID.String(), w.app.ID},
		{"token_issued", clientActor(w.cc, "worker"), "token", "", w.cc.ID},
		{"token_revoked", clientActor(w.app2, "app 2"), "token", w.alice.ID.String(), w.app2.ID},
		{"user_created", adminActor, "user", bobID, ""},
		{"user_updated", adminActor, "user", bobID, ""},
		{"user_disabled", adminActor, "user", bobID, ""},
		{"user_enabled", adminActor, "user", bobID, ""},
		{"user_password_set", adminActor, "user", bobID, ""},
		{"session_revoked", adminActor, "session", bobID, w.app.ID},
		{"user_tokens_revoked", adminActor, "user", bobID, ""},
		{"user_deleted", adminActor, "user", bobID, ""},
		{"client_created", adminActor, "client", "", clID},
		{"client_updated", adminActor, "client", "", clID},
		{"client_disabled", adminActor, "client", "", clID},
		{"client_enabled", adminActor, "client", "", clID},
		{"client_secret_rotated", adminActor, "client", "", clID},
		{"client_tokens_revoked", adminActor, "client", "", clID},
		{"client_deleted", adminActor, "client", "", clID},
		{"tenant_updated", adminActor, "tenant", "", ""},
		{"tenant_tokens_revoked", adminActor, "tenant", "", ""},
	}
	for _, wt := range wants {
		t.Run(wt.kind, func(t *testing.T) {
			var ev map[string]any // the newest of its kind by that actor
			for _, e := range byKind[wt.kind] {
				if cmp.Equal(e["actor"], wt.actor) {
					ev = e
					break
				}
			}
			if ev == nil {
				t.Fatalf("no %s event by %v in %v", wt.kind, wt.actor, byKind[wt.kind])
			}
			subject, _ := ev["subject"].(map[string]any)
			if wt.subject != "" && (subject == nil || subject["type"] != wt.subject) {
				t.Errorf("subject %v, want type %s", ev["subject"], wt.subject)
			}
			if ev["user_id"] != nilIfEmpty(wt.userID) || ev["client_id"] != nilIfEmpty(wt.client) {
				t.Errorf("user %v client %v, want %q %q", ev["user_id"], ev["client_id"], wt.userID, wt.client)
			}
			if wt.actor["type"] != "cli" && ev["client_ip"] != "127.0.0.1" {
				t.Errorf("client_ip %v", ev["client_ip"])
			}
			if id, ok := requestIDs[wt.kind]; ok && ev["request_id"] != id {
				t.Errorf("request_id %v, want %s", ev["request_id"], id)
			}
			if _, err := time.Parse(time.RFC3339Nano, ev["at"].(string)); err != nil {
				t.Errorf("at %v", ev["at"])
			}
		})
	}
	// Details: the reason a login failed is kept (never shown to the caller of /token).
	if d := byKind["login_failure"][0]["detail"].(map[string]any); d["reason"] != "wrong_password" {
		t.Errorf("login_failure detail %v", d)
	}
	// The admin's /revoke is recorded with the admin key as the actor.
	adminRevokes := 0
	for _, ev := range byKind["token_revoked"] {
		if cmp.Equal(ev["actor"], adminActor) && ev["request_id"] == requestIDs["token_revoked by admin"] {
			adminRevokes++
		}
	}
	if adminRevokes != 1 {
		t.Errorf("%d token_revoked events by the admin key", adminRevokes)
	}

	// The deleted user's events are all still there, with its id and name.
	bobEvents := w.allEvents(key, tenantPath("a", "events"), url.Values{"user": {bobID}})
	if len(bobEvents) < 10 {
		t.Errorf("%d events of the deleted user", len(bobEvents))
	}
	for _, ev := range bobEvents {
		if ev["user_id"] != bobID {
			t.Errorf("user filter let through %v", ev)
		}
	}
	deleted := w.allEvents(key, tenantPath("a", "events"), url.Values{"kind": {"user_deleted"}})
	if len(deleted) != 1 || deleted[0]["subject"].(map[string]any)["name"] != "robert" ||
		deleted[0]["subject"].(map[string]any)["id"] != bobID {
		t.Errorf("user_deleted events %v", deleted)
	}

	// Deleting a tenant leaves a tombstone in the global stream, which only global keys read.
	keyB := w.mustAdminKey("b")
	w.adminOK(http.StatusNoContent, global, "DELETE", tenantPath("b"), nil)
	stream := w.allEvents(global, "/admin/v1/events", nil)
	var tombstone map[string]any
	for _, ev := range stream {
		if ev["kind"] == "tenant_deleted" {
			tombstone = ev
		}
	}
	if tombstone == nil || tombstone["subject"].(map[string]any)["name"] != "b" {
		t.Fatalf("global stream %v has no tombstone for b", stream)
	}
	if tombstone["actor"].(map[string]any)["type"] != "admin_key" {
		t.Errorf("tombstone actor %v", tombstone["actor"])
	}
	wantProblem(t, w.admin(keyB, "GET", tenantPath("b", "events"), nil), http.StatusUnauthorized, "unauthorized", "")
	for _, ev := range stream {
		if ev["kind"] == "admin_key_created" && ev["subject"].(map[string]any)["name"] == "ops" {
			t.Error("a tenant key's creation is in the global stream")
		}
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// The event listing filters by kind, user, client and time and pages with a
// cursor; bad filters are validation problems.
func TestAdminEventFilters(t *testing.T) {
	w := newRevokeWorld(t)
	key := w.mustAdminKey("a")
	start := w.clock.Now()
	for range 3 {
		w.loginPair(w.app, "alice", testkit.AlicePassword)
		w.clock.Advance(time.Minute)
	}
	middle := w.clock.Now()
	w.loginPair(w.app2, "bob", "bob's long password")
	w.clientToken(w.cc)
	w.loginPair(w.appB, "carol", "carol's long password")
	path := tenantPath("a", "events")

	tests := []struct {
		name  string
		query url.Values
		want  int
	}{
		{"kind", url.Values{"kind": {"login_success"}}, 4},
		{"user", url.Values{"user": {w.alice.ID.String()}}, 4}, // created, 3 logins
		{"client", url.Values{"client": {w.app2.ID}}, 2},       // created, 1 login
		{"user and kind", url.Values{"user": {w.alice.ID.String()}, "kind": {"login_success"}}, 3},
		{"since", url.Values{"since": {middle.Format(time.RFC3339)}, "kind": {"login_success"}}, 1}, // not carol's, in b
		{"until", url.Values{"until": {middle.Format(time.RFC3339)}, "kind": {"login_success"}}, 3},
		{"since and until", url.Values{"since": {start.Add(time.Minute).Format(time.RFC3339)},
			"until": {middle.Format(time.RFC3339)}, "kind": {"login_success"}}, 2},
		{"no match", url.Values{"user": {uuid.NewString()}}, 0},
		{"another tenant's client", url.Values{"client": {w.appB.ID}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := w.allEvents(key, path, tt.query); len(got) != tt.want {
				t.Errorf("%d events, want %d: %v", len(got), tt.want, got)
			}
		})
	}
	// Pages do not overlap and the last one says so.
	all := w.allEvents(key, path, nil)
	q := url.Values{"limit": {strconv.Itoa(len(all) - 1)}}
	first := w.adminOK(http.StatusOK, key, "GET", path+"?"+q.Encode(), nil)
	q.Set("cursor", first["next_cursor"].(string))
	second := w.adminOK(http.StatusOK, key, "GET", path+"?"+q.Encode(), nil)
	if len(items(t, second)) != 1 || second["next_cursor"] != nil || items(t, second)[0]["id"] != all[len(all)-1]["id"] {
		t.Errorf("second page %v", second)
	}

	for _, bad := range []struct{ query, field string }{
		{"since=yesterday", "since"}, {"until=2026-13-01T00:00:00Z", "until"},
		{"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"},
		{"user=alice", "user"}, {"limit=-1", "limit"}, {"limit=5000", "limit"},
		{"cursor=" + first["next_cursor"].(string) + "x", "cursor"}, {"kind=%01", "kind"},
	} {
		t.Run(bad.query, func(t *testing.T) {
			wantProblem(t, w.admin(key, "GET", path+"?"+bad.query, nil), http.StatusBadRequest, "validation", bad.field)
		})
	}
	// A users cursor is not an events cursor.
	users := w.adminOK(http.StatusOK, key, "GET", tenantPath("a", "users")+"?limit=1", nil)
	wantProblem(t, w.admin(key, "GET", path+"?cursor="+users["next_cursor"].(string), nil), http.StatusBadRequest, "validation", "cursor")
}

// The sweeper removes events older than the tenant's retention (default 90 days);
// younger events and other tenants' stay.
func TestAdminEventRetention(t *testing.T) {
	w := newRevokeWorld(t)
	key := w.mustAdminKey("")
	w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a"), map[string]any{"event_retention": "30d"})
	w.loginPair(w.app, "alice", testkit.AlicePassword)
	w.loginPair(w.appB, "carol", "carol's long password")
	w.clock.Advance(20 * 24 * time.Hour)
	w.loginPair(w.app, "alice", testkit.AlicePassword)
	w.clock.Advance(11 * 24 * time.Hour) // day 31: the first login is past a's 30 days

	if _, err := w.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	logins := w.allEvents(key, tenantPath("a", "events"), url.Values{"kind": {"login_success"}})
	if len(logins) != 1 {
		t.Errorf("tenant a keeps %d logins, want the one of day 20", len(logins))
	}
	if got := w.allEvents(key, tenantPath("b", "events"), url.Values{"kind": {"login_success"}}); len(got) != 1 {
		t.Errorf("tenant b (default 90 days) keeps %d logins, want 1", len(got))
	}
	w.clock.Advance(60 * 24 * time.Hour) // day 91
	if _, err := w.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.allEvents(key, tenantPath("b", "events"), nil); len(got) != 0 {
		t.Errorf("tenant b keeps %d events after 90 days", len(got))
	}
}
