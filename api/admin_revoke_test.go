package api_test

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/tokens"
)

// revokeWorld is tenant a's world plus bob, a second app, a client_credentials client and
// tenant b with a user and an app.
type revokeWorld struct {
	world
	app2, cc, appB, rsB client
	bob                 string
}

func newRevokeWorld(t *testing.T) revokeWorld {
	w := revokeWorld{world: newWorld(t)}
	w.app2 = w.mustClient("a", appSpec("app 2"))
	w.cc = w.mustClient("a", service.ClientSpec{Name: "worker", GrantTypes: []string{"client_credentials"}, Scopes: []string{"jobs"}})
	w.bob = w.mustUser("a", "bob", "bob's long password").ID.String()
	w.mustTenant("b")
	w.appB = w.mustClient("b", appSpec("app b"))
	w.rsB = w.mustClient("b", service.ClientSpec{Name: "api b", Introspect: true})
	w.mustUser("b", "carol", "carol's long password")
	return w
}

func (w revokeWorld) clientToken(c client) string {
	w.t.Helper()
	r := w.post("/token", &c, url.Values{"grant_type": {"client_credentials"}})
	if r.Status != http.StatusOK {
		w.t.Fatalf("client credentials: %d %s", r.Status, r.Body)
	}
	tok, _ := r.JSON(w.t)["access_token"].(string)
	return tok
}

// wantRevoked checks a bulk revocation's answer.
func wantRevoked(t *testing.T, got map[string]any, n int) {
	t.Helper()
	if got["revoked"] != float64(n) || len(got) != 1 {
		t.Errorf("answer %v, want {revoked: %d}", got, n)
	}
}

// Revoking every token of a user kills its access and refresh tokens of every
// client and session; the answer counts the tokens that were live at the bump; a second
// call answers 0; other users' tokens stay active.
func TestAdminRevokeUser(t *testing.T) {
	w := newRevokeWorld(t)
	key := w.mustAdminKey("a")

	expired := w.loginPair(w.app, "alice", testkit.AlicePassword)
	w.clock.Advance(16 * time.Minute) // its access token expires; its refresh token is live
	one := w.loginPair(w.app, "alice", testkit.AlicePassword)
	two := w.loginPair(w.app2, "alice", testkit.AlicePassword)
	rotated := w.loginPair(w.app, "alice", testkit.AlicePassword)
	r := w.post("/token", &w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rotated.refresh}})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	next := tokenPair{r.JSON(t)["access_token"].(string), r.JSON(t)["refresh_token"].(string)}
	revokedOne := w.loginPair(w.app, "alice", testkit.AlicePassword)
	w.post("/revoke", &w.app, url.Values{"token": {revokedOne.access}})
	bobs := w.loginPair(w.app, "bob", "bob's long password")

	// Live: expired.refresh (1), one (2), two (2), rotated.access (1; its refresh token is
	// used), next (2), revokedOne.refresh (1).
	path := tenantPath("a", "users", w.alice.ID.String(), "revoke")
	wantRevoked(t, w.adminOK(http.StatusOK, key, "POST", path, nil), 9)
	for name, tok := range map[string]string{"one": one.access, "two": two.access, "rotated": rotated.access, "next": next.access} {
		if w.active(w.rs, tok) {
			t.Errorf("alice's %s access token is active", name)
		}
	}
	for name, rt := range map[string]string{"expired": expired.refresh, "one": one.refresh, "next": next.refresh} {
		if w.refreshes(w.app, rt) {
			t.Errorf("alice's %s refresh token works", name)
		}
	}
	if w.refreshes(w.app2, two.refresh) {
		t.Error("alice's refresh token of app 2 works")
	}
	if !w.active(w.rs, bobs.access) || !w.refreshes(w.app, bobs.refresh) {
		t.Error("bob's tokens died")
	}
	wantRevoked(t, w.adminOK(http.StatusOK, key, "POST", path, map[string]any{}), 0)
	// A new login after the revocation works, and only it counts next time.
	fresh := w.loginPair(w.app, "alice", testkit.AlicePassword)
	if !w.active(w.rs, fresh.access) {
		t.Error("a login after the revocation is inactive")
	}
	wantRevoked(t, w.adminOK(http.StatusOK, key, "POST", path, nil), 2)
}

// Revoking every token of a client kills the tokens it was issued, of every
// user, and only those.
func TestAdminRevokeClient(t *testing.T) {
	w := newRevokeWorld(t)
	key := w.mustAdminKey("")
	alice := w.loginPair(w.app, "alice", testkit.AlicePassword)
	bob := w.loginPair(w.app, "bob", "bob's long password")
	other := w.loginPair(w.app2, "alice", testkit.AlicePassword)
	job := w.clientToken(w.cc)

	path := tenantPath("a", "clients", w.app.ID, "revoke")
	wantRevoked(t, w.adminOK(http.StatusOK, key, "POST", path, nil), 4)
	if w.active(w.rs, alice.access) || w.active(w.rs, bob.access) || w.refreshes(w.app, alice.refresh) || w.refreshes(w.app, bob.refresh) {
		t.Error("a token of the revoked client still works")
	}
	if !w.active(w.rs, other.access) || !w.active(w.rs, job) {
		t.Error("another client's token died")
	}
	wantRevoked(t, w.adminOK(http.StatusOK, key, "POST", path, nil), 0)

	wantRevoked(t, w.adminOK(http.StatusOK, key, "POST", tenantPath("a", "clients", w.cc.ID, "revoke"), nil), 1)
	if w.active(w.rs, job) || !w.active(w.rs, other.access) {
		t.Error("revoking the worker's tokens")
	}
	if !w.active(w.rs, w.clientToken(w.cc)) {
		t.Error("the worker's new token is inactive")
	}
}

// Revoking every token of a tenant kills all of them and no other tenant's.
func TestAdminRevokeTenant(t *testing.T) {
	w := newRevokeWorld(t)
	key := w.mustAdminKey("")
	alice := w.loginPair(w.app, "alice", testkit.AlicePassword)
	job := w.clientToken(w.cc)
	carol := w.loginPair(w.appB, "carol", "carol's long password")

	path := tenantPath("a", "revoke")
	wantRevoked(t, w.adminOK(http.StatusOK, key, "POST", path, nil), 3)
	if w.active(w.rs, alice.access) || w.active(w.rs, job) || w.refreshes(w.app, alice.refresh) {
		t.Error("a token of the tenant still works")
	}
	if !w.active(w.rsB, carol.access) || !w.refreshes(w.appB, carol.refresh) {
		t.Error("tenant b's tokens died")
	}
	wantRevoked(t, w.adminOK(http.StatusOK, key, "POST", path, nil), 0)
	// The tenant keeps working for new logins.
	if !w.active(w.rs, w.loginPair(w.app, "alice", testkit.AlicePassword).access) {
		t.Error("a login after the revocation is inactive")
	}
}

// A disabled tenant stops all its clients, users and tokens; re-enabling it
// revives none of the tokens live when it was disabled. Other tenants carry on.
func TestAdminDisableTenant(t *testing.T) {
	w := newRevokeWorld(t)
	key := w.mustAdminKey("")
	alice := w.loginPair(w.app, "alice", testkit.AlicePassword)
	job := w.clientToken(w.cc)
	carol := w.loginPair(w.appB, "carol", "carol's long password")

	w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a"), map[string]any{"disabled": true})
	for name, r := range map[string]response{
		"login":              w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}}),
		"refresh":            w.post("/token", &w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.refresh}}),
		"client credentials": w.post("/token", &w.cc, url.Values{"grant_type": {"client_credentials"}}),
		"introspect":         w.post("/introspect", &w.rs, url.Values{"token": {alice.access}}),
	} {
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s in a disabled tenant: %d %s", name, r.Status, r.Body)
		}
	}
	if !w.active(w.rsB, carol.access) {
		t.Error("tenant b's token died")
	}

	w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a"), map[string]any{"disabled": false})
	if w.active(w.rs, alice.access) || w.active(w.rs, job) || w.refreshes(w.app, alice.refresh) {
		t.Error("re-enabling the tenant revived a token")
	}
	if !w.active(w.rs, w.loginPair(w.app, "alice", testkit.AlicePassword).access) {
		t.Error("a login after re-enabling is inactive")
	}
}

// RFC 7009: /revoke takes an admin key as Bearer credentials. A tenant key
// revokes any token of its tenant and nothing of another (still 200); a global key revokes
// any token.
func TestRevokeWithAdminKey(t *testing.T) {
	w := newRevokeWorld(t)
	keyA, global := w.mustAdminKey("a"), w.mustAdminKey("")
	send := func(key, body string) response {
		t.Helper()
		return w.send("POST", "/revoke", headers("Content-Type", formType, "Authorization", "Bearer "+key), body)
	}
	alice := w.loginPair(w.app, "alice", testkit.AlicePassword)
	other := w.loginPair(w.app2, "alice", testkit.AlicePassword)
	job := w.clientToken(w.cc)
	carol := w.loginPair(w.appB, "carol", "carol's long password")

	for name, tok := range map[string]string{"an access token": alice.access, "a client credentials token": job,
		"a refresh token": other.refresh, "tenant b's token": carol.access, "a malformed token": "jat_nonsense",
		"an unknown token": unknownToken(t)} {
		if r := send(keyA, url.Values{"token": {tok}}.Encode()); r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Errorf("%s: %d %q", name, r.Status, r.Body)
		}
	}
	if w.active(w.rs, alice.access) || w.active(w.rs, job) || w.refreshes(w.app2, other.refresh) || w.active(w.rs, other.access) {
		t.Error("a token of tenant a survived its tenant key")
	}
	if !w.active(w.rsB, carol.access) {
		t.Error("tenant a's key revoked tenant b's token")
	}
	if r := send(global, url.Values{"token": {carol.refresh}}.Encode()); r.Status != http.StatusOK {
		t.Errorf("global key: %d %s", r.Status, r.Body)
	}
	if w.active(w.rsB, carol.access) {
		t.Error("the global key did not revoke tenant b's session")
	}

	unknownKey, err := tokens.New(tokens.AdminKey, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, send(unknownKey, "token="+alice.access), http.StatusUnauthorized, "invalid_client")
	wantError(t, send("nonsense", "token="+alice.access), http.StatusUnauthorized, "invalid_client")
	wantError(t, w.send("POST", "/revoke", headers("Content-Type", formType, "Authorization", "Bearer "+keyA),
		url.Values{"token": {carol.access}, "client_id": {w.app.ID}, "client_secret": {w.app.Secret}}.Encode()),
		http.StatusBadRequest, "invalid_request")
}

// unknownToken is a well-formed access token that was never issued.
func unknownToken(t *testing.T) string {
	t.Helper()
	tok, err := tokens.New(tokens.Access, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
