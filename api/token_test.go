package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/jeton-auth/jeton/internal/testkit"
)

func TestLoginIntrospectRevoke(t *testing.T) {
	w := newWorld(t)
	tok := w.login(w.app, "alice", testkit.AlicePassword)
	at, _ := tok["access_token"].(string)
	if tok["token_type"] != "Bearer" || tok["scope"] != "read write" || tok["expires_in"] != float64(900) {
		t.Fatalf("token response %v", tok)
	}
	in := w.introspect(w.rs, at)
	if in["active"] != true || in["username"] != "alice" || in["sub"] != w.alice.ID.String() ||
		in["tenant"] != "a" || in["client_id"] != w.app.ID || in["iss"] != issuer {
		t.Fatalf("introspection %v", in)
	}
	r := w.post("/revoke", &w.app, url.Values{"token": {at}})
	if r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Fatalf("revoke: %d %q", r.Status, r.Body)
	}
	if got := w.post("/introspect", &w.rs, url.Values{"token": {at}}); string(got.Body) != `{"active":false}` {
		t.Fatalf("after revoke: %s", got.Body)
	}
}
