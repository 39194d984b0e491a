package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// accountWorld is tenant a with an app offering the account scope, alice and bob.
func accountWorld(t *testing.T) (world, client) {
	w := newWorld(t)
	app := w.mustClient("a", service.ClientSpec{Name: "account app", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read", service.AccountScope}})
	w.mustUser("a", "bob", "bob's long passphrase")
	return w, app
}

// accountSend sends an account API request with the bearer token (none when "").
func (w world) accountSend(tok, method, path, contentType, body string) response {
	w.t.Helper()
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return w.send(method, path, h, body)
}

func TestAccountScopeRequired(t *testing.T) {
	w, app := accountWorld(t)
	noScope := w.login(app, "alice", testkit.AlicePassword, "scope", "read")["access_token"].(string)
	r := w.accountSend(noScope, "GET", "/account/v1/me", "", "")
	wantProblem(t, r, http.StatusForbidden, "insufficient-scope", "")
	if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) || !strings.Contains(got, `scope="account"`) {
		t.Errorf("WWW-Authenticate %q", got)
	}
	r = w.accountSend("", "GET", "/account/v1/me", "", "")
	wantProblem(t, r, http.StatusUnauthorized, "unauthorized", "")
	if r.Header.Get("WWW-Authenticate") != `Bearer realm="jeton"` {
		t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	wantProblem(t, w.accountSend("jat_bogus", "GET", "/account/v1/me", "", ""), http.StatusUnauthorized, "invalid-token", "")
	tok := w.login(app, "alice", testkit.AlicePassword, "scope", "account")["access_token"].(string)
	me := w.accountSend(tok, "GET", "/account/v1/me", "", "")
	if m := me.JSON(t); me.Status != http.StatusOK || m["username"] != "alice" || m["tenant"] != "a" || m["password_changed_at"] == nil {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}
}

func TestAccountPasswordChange(t *testing.T) {
	w, app := accountWorld(t)
	other := w.login(w.app, "alice", testkit.AlicePassword)
	mine := w.login(app, "alice", testkit.AlicePassword, "scope", "account")
	tok := mine["access_token"].(string)
	feed := w.revocations("user")

	// A wrong current password is refused and counted on the login throttles.
	r := w.accountSend(tok, "POST", "/account/v1/password", formType, url.Values{"current_password": {"wrong guess"}, "new_password": {"a new long passphrase"}}.Encode())
	wantProblem(t, r, http.StatusBadRequest, "validation", "current_password")
	var failures int
	w.pool.QueryRow(context.Background(), `SELECT failures FROM login_throttles WHERE kind = 'u' AND username = 'alice'`).Scan(&failures)
	if failures != 1 {
		t.Errorf("username counter at %d after a wrong current password, want 1", failures)
	}
	wantProblem(t, w.accountSend(tok, "POST", "/account/v1/password", "application/json",
		`{"current_password":"`+testkit.AlicePassword+`","new_password":"short"}`), http.StatusBadRequest, "validation", "new_password")

	r = w.accountSend(tok, "POST", "/account/v1/password", "application/json",
		`{"current_password":"`+testkit.AlicePassword+`","new_password":"a new long passphrase"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["revoked_sessions"] != float64(2) || m["access_token"] == nil || m["refresh_token"] == nil || m["scope"] != "account" {
		t.Fatalf("answer %v", m)
	}
	for name, old := range map[string]any{"other session": other["access_token"], "caller's old token": tok} {
		if w.introspect(w.rs, old.(string))["active"] != false {
			t.Errorf("%s still active", name)
		}
	}
	if w.introspect(w.rs, m["access_token"].(string))["active"] != true {
		t.Error("the fresh token is not active")
	}
	if got := w.revocations("user"); got != feed+1 {
		t.Errorf("feed has %d user revocations, want %d", got, feed+1)
	}
	w.login(w.app, "alice", "a new long passphrase")
}

func TestAccountSessions(t *testing.T) {
	w, app := accountWorld(t)
	r := w.postFrom(&w.app, loginForm("alice", testkit.AlicePassword), "User-Agent", "phone app/1.0")
	if r.Status != http.StatusOK {
		t.Fatal(r.Status)
	}
	other := r.JSON(t)
	tok := w.login(app, "alice", testkit.AlicePassword, "scope", "account")["access_token"].(string)
	bob := w.login(w.app, "bob", "bob's long passphrase")
	bobSID := w.introspect(w.rs, bob["access_token"].(string))["sid"].(string)

	list := w.accountSend(tok, "GET", "/account/v1/sessions", "", "")
	items, _ := list.JSON(t)["items"].([]any)
	if list.Status != http.StatusOK || len(items) != 2 {
		t.Fatalf("sessions: %d %s", list.Status, list.Body)
	}
	var current, phone map[string]any
	for _, it := range items {
		s := it.(map[string]any)
		if s["current"] == true {
			current = s
		} else {
			phone = s
		}
	}
	if current == nil || current["client_name"] != "account app" || phone == nil || phone["user_agent"] != "phone app/1.0" ||
		phone["ip"] != "127.0.0.1" || phone["client_name"] != "app" {
		t.Fatalf("sessions %v", items)
	}
	wantProblem(t, w.accountSend(tok, "DELETE", "/account/v1/sessions/"+bobSID, "", ""), http.StatusNotFound, "not-found", "")
	if !w.active(w.rs, bob["access_token"].(string)) {
		t.Error("bob's session died")
	}
	feed := w.revocations("session")
	if r := w.accountSend(tok, "DELETE", "/account/v1/sessions/"+phone["sid"].(string), "", ""); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if w.active(w.rs, other["access_token"].(string)) || w.revocations("session") != feed+1 {
		t.Error("the deleted session lives, or the feed lacks it")
	}
	if r := w.accountSend(tok, "POST", "/account/v1/logout", "", ""); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	wantProblem(t, w.accountSend(tok, "GET", "/account/v1/me", "", ""), http.StatusUnauthorized, "invalid-token", "")

	tok = w.login(app, "alice", testkit.AlicePassword, "scope", "account")["access_token"].(string)
	again := w.login(w.app, "alice", testkit.AlicePassword)
	users := w.revocations("user")
	if r := w.accountSend(tok, "POST", "/account/v1/logout-all", "application/json", "{}"); r.Status != http.StatusNoContent {
		t.Fatalf("logout-all: %d %s", r.Status, r.Body)
	}
	if w.active(w.rs, again["access_token"].(string)) || w.active(w.rs, tok) || w.revocations("user") != users+1 {
		t.Error("logout-all left a session, or the feed lacks it")
	}
	if !w.active(w.rs, bob["access_token"].(string)) {
		t.Error("bob's session died with alice's logout-all")
	}
}

// The account API answers CORS as the OAuth endpoints do: preflights for an origin some
// client allows, actual answers for the token's client's origins.
func TestAccountCORS(t *testing.T) {
	w := newWorld(t)
	app := w.mustClient("a", service.ClientSpec{Name: "spa", GrantTypes: []string{"password"}, Public: true,
		Scopes: []string{service.AccountScope}, AllowedOrigins: []string{"https://app.example"}})
	r := w.send(http.MethodOptions, "/account/v1/sessions/x", headers("Origin", "https://app.example"), "")
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.Header.Get("Access-Control-Allow-Methods") != "DELETE" {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
	tok := w.login(app, "alice", testkit.AlicePassword)["access_token"].(string)
	h := headers("Origin", "https://app.example", "Authorization", "Bearer "+tok)
	if r := w.send(http.MethodGet, "/account/v1/me", h, ""); r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("me: %d %v", r.Status, r.Header)
	}
	h.Set("Origin", "https://evil.example")
	if r := w.send(http.MethodGet, "/account/v1/me", h, ""); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin allowed: %v", r.Header)
	}
}
