package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// twoTenants is tenant a's world plus tenant b with its own app, resource server and a
// user also called alice (with a different password), and a second app of tenant a.
type twoTenants struct {
	world
	app2, appB, rsB client
}

const aliceBPassword = "tenant b alice password!"

func newTwoTenants(t *testing.T) twoTenants {
	w := newWorld(t)
	w.mustTenant("b")
	tt := twoTenants{world: w,
		app2: w.mustClient("a", service.ClientSpec{Name: "app 2", GrantTypes: []string{"password"}, Scopes: []string{"read"}}),
		appB: w.mustClient("b", service.ClientSpec{Name: "app b", GrantTypes: []string{"password"}, Scopes: []string{"read", "write"}}),
		rsB:  w.mustClient("b", service.ClientSpec{Name: "api b", Introspect: true}),
	}
	w.mustUser("b", "alice", aliceBPassword)
	return tt
}

// RFC 7662 §2.2: a resource server of tenant B sees tenant A's token as inactive,
// exactly as it sees an unknown one, while A's resource server sees it live.
func TestCrossTenantIntrospection(t *testing.T) {
	w := newTwoTenants(t)
	at := w.mustLogin()
	r := w.post("/introspect", &w.rsB, url.Values{"token": {at}})
	wantInactive(t, r)
	if in := w.introspect(w.rs, at); in["active"] != true || in["tenant"] != "a" {
		t.Errorf("tenant a's resource server: %v", in)
	}
	// And the other way round.
	bt, _ := w.login(w.appB, "alice", aliceBPassword)["access_token"].(string)
	wantInactive(t, w.post("/introspect", &w.rs, url.Values{"token": {bt}}))
	if in := w.introspect(w.rsB, bt); in["active"] != true || in["tenant"] != "b" {
		t.Errorf("tenant b's resource server: %v", in)
	}
}

// RFC 7009 §2.1: a client of tenant B gets 200 and changes nothing; another client
// of tenant A gets 400 unauthorized_client and changes nothing.
func TestRevokeByAnotherClient(t *testing.T) {
	w := newTwoTenants(t)
	tests := []struct {
		name   string
		as     client
		status int
		body   string
	}{
		{"app of another tenant", w.appB, http.StatusOK, ""},
		{"resource server of another tenant", w.rsB, http.StatusOK, ""},
		{"another app of the same tenant", w.app2, http.StatusBadRequest, `{"error":"unauthorized_client"}`},
		{"resource server of the same tenant", w.rs, http.StatusBadRequest, `{"error":"unauthorized_client"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := w.login(w.app, "alice", testkit.AlicePassword)
			for _, kind := range []string{"access_token", "refresh_token"} {
				token, _ := tok[kind].(string)
				r := w.post("/revoke", &tt.as, url.Values{"token": {token}})
				if r.Status != tt.status || string(r.Body) != tt.body {
					t.Errorf("%s: got %d %q, want %d %q", kind, r.Status, r.Body, tt.status, tt.body)
				}
				if tt.status != http.StatusOK {
					wantError(t, r, tt.status, "unauthorized_client")
				}
			}
			at, _ := tok["access_token"].(string)
			if in := w.introspect(w.rs, at); in["active"] != true {
				t.Errorf("token after the attempt: %v", in)
			}
		})
	}
}

// A client authenticates a tenant; a user of another tenant does not exist there, even
// with the same username, and request parameters or headers cannot pick the tenant.
func TestTenantComesFromTheClient(t *testing.T) {
	w := newTwoTenants(t)
	t.Run("alice of a cannot log in through b's app", func(t *testing.T) {
		r := w.post("/token", &w.appB, passwordForm())
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("alice of b cannot log in through a's app", func(t *testing.T) {
		r := w.post("/token", &w.app, passwordForm("password", aliceBPassword))
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("tenant parameters and headers are ignored", func(t *testing.T) {
		h := headers("Content-Type", formType, "Authorization", basic(w.app.ID, w.app.Secret),
			"X-Tenant", "b", "Host", "b.example.test", "X-Forwarded-Host", "b.example.test")
		r := w.send(http.MethodPost, "/token", h, passwordForm("tenant", "b", "tenant_id", "b").Encode())
		at := wantToken(t, r, "read write")
		if in := w.introspect(w.rs, at); in["active"] != true || in["tenant"] != "a" || in["sub"] != w.alice.ID.String() {
			t.Errorf("introspection %v", in)
		}
		wantInactive(t, w.post("/introspect", &w.rsB, url.Values{"token": {at}}))
	})
	t.Run("each alice gets her own subject", func(t *testing.T) {
		bt, _ := w.login(w.appB, "alice", aliceBPassword)["access_token"].(string)
		in := w.introspect(w.rsB, bt)
		if in["active"] != true || in["username"] != "alice" || in["sub"] == w.alice.ID.String() || in["tenant"] != "b" {
			t.Errorf("introspection %v", in)
		}
	})
}
