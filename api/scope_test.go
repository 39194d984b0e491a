package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// Granted = requested (or the client's defaults) ∩ client allowed ∩ user allowed; asking
// for more than the client or the user may have is invalid_scope.
func TestScopeIntersection(t *testing.T) {
	w := newWorld(t)
	all := w.mustClient("a", service.ClientSpec{Name: "all", GrantTypes: []string{"password"},
		Scopes: []string{"read", "write", "admin"}})
	narrow := w.mustClient("a", service.ClientSpec{Name: "defaults", GrantTypes: []string{"password"},
		Scopes: []string{"read", "write", "admin"}, DefaultScopes: []string{"read", "admin"}})
	w.mustUser("a", "bob", testkit.AlicePassword, "read", "write")

	for _, c := range []struct {
		name      string
		client    client
		user      string
		scope     string
		want      string // granted scope; "" means an error
		wantError string
	}{
		{"no scope: the client's allowed scopes", all, "alice", "", "read write admin", ""},
		{"no scope: the client's defaults", narrow, "alice", "", "read admin", ""},
		{"no scope: defaults narrowed to the user's", all, "bob", "", "read write", ""},
		{"no scope: defaults narrowed to the user's, again", narrow, "bob", "", "read", ""},
		{"requested subset", all, "bob", "write read", "write read", ""},
		{"duplicates collapse", all, "alice", "read read", "read", ""},
		{"a scope the user may not have", all, "bob", "read admin", "", "invalid_scope"},
		{"a scope the client may not have", all, "alice", "read delete", "", "invalid_scope"},
		{"malformed: two spaces", all, "alice", "read  write", "", "invalid_scope"},
		{"malformed: a quote", all, "alice", `"read"`, "", "invalid_scope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := w.post("/token", &c.client, url.Values{"grant_type": {"password"}, "username": {c.user},
				"password": {testkit.AlicePassword}, "scope": {c.scope}})
			if c.wantError != "" {
				expectOAuthError(t, r, http.StatusBadRequest, c.wantError)
				return
			}
			if r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			tok := r.JSON(t)
			if tok["scope"] != c.want {
				t.Errorf("granted %q, want %q", tok["scope"], c.want)
			}
			if got := str(w.introspect(w.rs, str(tok, "access_token")), "scope"); got != c.want {
				t.Errorf("introspected scope %q, want %q", got, c.want)
			}
		})
	}
}

// A refresh may narrow the new access token's scope, never widen it; the new refresh
// token keeps the original scope, and the user's current scopes apply at each refresh.
func TestRefreshScope(t *testing.T) {
	w := newWorld(t)
	wide := w.mustClient("a", service.ClientSpec{Name: "wide", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read", "write", "admin"}, DefaultScopes: []string{"read", "write"}})
	tok := w.login(wide, "alice", testkit.AlicePassword)
	if tok["scope"] != "read write" {
		t.Fatalf("login scope %v", tok["scope"])
	}

	narrowed := w.mustRefresh(wide, str(tok, "refresh_token"), "scope", "read")
	if narrowed["scope"] != "read" || str(w.introspect(w.rs, str(narrowed, "access_token")), "scope") != "read" {
		t.Errorf("narrowed refresh: %v, want scope read", narrowed)
	}
	rt := str(narrowed, "refresh_token")

	// admin is allowed for the client but was not granted: widening, refused without using
	// the refresh token up.
	for _, scope := range []string{"read write admin", "admin"} {
		expectOAuthError(t, w.tryRefresh(wide, rt, "scope", scope), http.StatusBadRequest, "invalid_scope")
	}
	back := w.mustRefresh(wide, rt)
	if back["scope"] != "read write" {
		t.Errorf("refresh without scope after narrowing: %v, want the original read write", back["scope"])
	}

	// A scope taken from the user disappears at the next refresh.
	if _, err := w.svc.UpdateUser(context.Background(), w.cli, "a", "alice", func(u *db.User) {
		u.Scopes = []string{"write"}
	}); err != nil {
		t.Fatal(err)
	}
	if got := w.mustRefresh(wide, str(back, "refresh_token")); got["scope"] != "write" {
		t.Errorf("refresh after the user lost read: scope %v, want write", got["scope"])
	}
}

// RFC 6749 §4.4: client credentials give a confidential client an access token of its own,
// with no user and no refresh token.
func TestClientCredentials(t *testing.T) {
	w := newWorld(t)
	batch := w.mustClient("a", service.ClientSpec{Name: "batch", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"jobs", "reports"}})
	cc := url.Values{"grant_type": {"client_credentials"}}

	r := w.post("/token", &batch, cc)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	if _, ok := tok["refresh_token"]; ok {
		t.Errorf("client credentials response has a refresh_token: %s", r.Body)
	}
	if tok["token_type"] != "Bearer" || tok["scope"] != "jobs reports" || tok["expires_in"] != float64(900) {
		t.Errorf("token response %s", r.Body)
	}
	in := w.introspect(w.rs, str(tok, "access_token"))
	if in["active"] != true || in["sub"] != batch.ID || in["client_id"] != batch.ID || in["scope"] != "jobs reports" {
		t.Errorf("introspection %v, want active with sub = client_id", in)
	}
	for _, absent := range []string{"username", "sid"} {
		if _, ok := in[absent]; ok {
			t.Errorf("introspection of a client token has %q: %v", absent, in)
		}
	}

	narrowed := w.post("/token", &batch, url.Values{"grant_type": {"client_credentials"}, "scope": {"jobs"}})
	if narrowed.Status != http.StatusOK || narrowed.JSON(t)["scope"] != "jobs" {
		t.Errorf("scope=jobs: %d %s", narrowed.Status, narrowed.Body)
	}
	expectOAuthError(t, w.post("/token", &batch, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}),
		http.StatusBadRequest, "invalid_scope")

	// A client without the grant, and a public client, are refused.
	expectOAuthError(t, w.post("/token", &w.app, cc), http.StatusBadRequest, "unauthorized_client")
	spa := w.mustClient("a", service.ClientSpec{Name: "spa", Public: true, GrantTypes: []string{"password"}})
	expectOAuthError(t, w.post("/token", nil, url.Values{"grant_type": {"client_credentials"}, "client_id": {spa.ID}}),
		http.StatusBadRequest, "unauthorized_client")
	if _, _, err := w.svc.CreateClient(context.Background(), w.cli, "a", service.ClientSpec{Name: "bad", Public: true,
		GrantTypes: []string{"client_credentials"}}); err == nil {
		t.Error("a public client was given client_credentials")
	}
}
