package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"golang.org/x/oauth2"
)

// Under required a user without a factor enrols during the login with the mfa_token; the
// confirmation completes the login and consumes the token.
func TestEnrolmentDuringLogin(t *testing.T) {
	w := newMFAWorld(t, service.MFARequired)
	m := w.passwordStep(w.app, "alice", testkit.AlicePassword)
	if m["enrollment_required"] != true {
		t.Fatalf("password step: %v", m)
	}
	mt := m["mfa_token"].(string)
	// The enrolment token is not a second factor: the otp grant refuses it.
	wantStatus(t, "otp grant with an enrolment token", w.otpGrant(w.app, grantOTP, mt, "123456"), http.StatusBadRequest, "invalid_grant")
	secret, conf := w.enrolAnswer(mt)
	for _, k := range []string{"access_token", "refresh_token", "token_type", "expires_in", "scope"} {
		if conf[k] == nil {
			t.Fatalf("confirmation without %s: %v", k, conf)
		}
	}
	in := w.introspect(w.rs, conf["access_token"].(string))
	if !slices.Equal(anyStrings(in["amr"]), []string{"pwd", "otp"}) || in["scope"] != "read" {
		t.Fatalf("introspection: %v", in)
	}
	// The token is consumed: it opens nothing any more.
	wantStatus(t, "start again with the used token", w.account(mt, http.MethodPost, "/account/v1/mfa/totp", nil),
		http.StatusUnauthorized, "invalid-token")
	// The next login asks for the new factor, without enrolment.
	if m := w.passwordStep(w.app, "alice", testkit.AlicePassword); m["enrollment_required"] != nil {
		t.Fatalf("second login: %v", m)
	}
	wantStatus(t, "code", w.otpGrant(w.app, grantOTP, w.mfaToken(w.app, "alice", testkit.AlicePassword), w.code(secret, 0)), http.StatusOK, "")
	if n := len(w.eventKinds("mfa_enrolled")); n != 1 {
		t.Fatalf("%d mfa_enrolled events", n)
	}
}

// An mfa_token is no access token: introspection, the account API and the admin API
// refuse it, and only an enrolment token opens the two enrolment endpoints.
func TestMFATokenOpensNothingElse(t *testing.T) {
	w := newMFAWorld(t, service.MFARequired)
	w.mustUser("a", "bob", testkit.AlicePassword)
	enrolment := w.mfaToken(w.app, "bob", testkit.AlicePassword)
	w.setPolicy(service.MFAOptional)
	w.enrol("alice", testkit.AlicePassword)
	challenge := w.mfaToken(w.app, "alice", testkit.AlicePassword)

	for name, mt := range map[string]string{"enrolment": enrolment, "challenge": challenge} {
		if in := w.introspect(w.rs, mt); len(in) != 1 || in["active"] != false {
			t.Fatalf("%s token introspected: %v", name, in)
		}
		for _, rq := range []struct{ method, path string }{
			{http.MethodGet, "/account/v1/me"},
			{http.MethodDelete, "/account/v1/mfa/totp"},
			{http.MethodPost, "/account/v1/mfa/recovery-codes"},
		} {
			r := w.account(mt, rq.method, rq.path, url.Values{"otp": {"123456"}})
			wantStatus(t, name+" "+rq.path, r, http.StatusUnauthorized, "invalid-token")
			if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="jeton", error="invalid_token"` {
				t.Fatalf("WWW-Authenticate %q", got)
			}
		}
		wantStatus(t, name+" at the admin API", w.admin(mt, "GET", "/admin/v1/tenants", nil), http.StatusUnauthorized, "unauthorized")
	}
	// A challenge token (alice has a factor) does not open enrolment.
	wantStatus(t, "challenge token at enrolment", w.account(challenge, http.MethodPost, "/account/v1/mfa/totp", nil),
		http.StatusUnauthorized, "invalid-token")
	wantStatus(t, "enrolment token", w.account(enrolment, http.MethodPost, "/account/v1/mfa/totp", nil), http.StatusCreated, "")
}

// The account API's rule: an access token carrying the scope account.
func TestAccountScope(t *testing.T) {
	w := newMFAWorld(t, service.MFAOff)
	at := w.login(w.app, "alice", testkit.AlicePassword)["access_token"].(string) // scope read
	r := w.account(at, http.MethodGet, "/account/v1/me", nil)
	wantStatus(t, "without the account scope", r, http.StatusForbidden, "insufficient-scope")
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="jeton", error="insufficient_scope", scope="account"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	wantStatus(t, "no token", w.account("", http.MethodGet, "/account/v1/me", nil), http.StatusUnauthorized, "unauthorized")
	acct := w.login(w.app, "alice", testkit.AlicePassword, "scope", "account")["access_token"].(string)
	me := w.account(acct, http.MethodGet, "/account/v1/me", nil)
	wantStatus(t, "me", me, http.StatusOK, "")
	if m := me.JSON(t); m["username"] != "alice" || m["tenant"] != "a" || m["id"] != w.alice.ID.String() {
		t.Fatalf("me: %v", m)
	}
	// Bodies are form-encoded or JSON; a wrong code is invalid-otp.
	r = w.adminRaw(acct, http.MethodPost, "/account/v1/mfa/totp", "application/json", `{}`)
	wantStatus(t, "start", r, http.StatusCreated, "")
	if uri := r.JSON(t)["otpauth_uri"].(string); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "issuer=") {
		t.Fatalf("otpauth uri %q", uri)
	}
	wantStatus(t, "wrong code", w.adminRaw(acct, http.MethodPost, "/account/v1/mfa/totp/confirm", "application/json", `{"otp":"12345x"}`),
		http.StatusBadRequest, "invalid-otp")
	wantStatus(t, "unknown field", w.adminRaw(acct, http.MethodPost, "/account/v1/mfa/totp/confirm", "application/json", `{"code":"1"}`),
		http.StatusBadRequest, "unknown-field")
}

// Removing the factor needs a current code and is refused under required; regenerating
// the recovery codes replaces them.
func TestAccountRemoveAndRegenerate(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, codes := w.enrol("alice", testkit.AlicePassword)
	acct := w.otpGrantScope(secret, "account")
	r := w.account(acct, http.MethodPost, "/account/v1/mfa/recovery-codes", url.Values{"otp": {w.code(secret, 1)}})
	wantStatus(t, "regenerate", r, http.StatusOK, "")
	var fresh struct {
		Codes []string `json:"recovery_codes"`
	}
	_ = json.Unmarshal(r.Body, &fresh)
	if len(fresh.Codes) != 10 || slices.Contains(fresh.Codes, codes[0]) {
		t.Fatalf("new codes %v", fresh.Codes)
	}
	w.setPolicy(service.MFARequired)
	wantStatus(t, "remove under required", w.account(acct, http.MethodDelete, "/account/v1/mfa/totp", url.Values{"otp": {w.code(secret, 1)}}),
		http.StatusConflict, "mfa-required")
	w.setPolicy(service.MFAOptional)
	wantStatus(t, "remove with a wrong code", w.account(acct, http.MethodDelete, "/account/v1/mfa/totp", url.Values{"otp": {wrongCode(w.code(secret, 1))}}),
		http.StatusBadRequest, "invalid-otp")
	w.clock.Advance(30 * time.Second)
	wantStatus(t, "remove", w.account(acct, http.MethodDelete, "/account/v1/mfa/totp", url.Values{"otp": {w.code(secret, 1)}}),
		http.StatusNoContent, "")
	w.login(w.app, "alice", testkit.AlicePassword) // no factor, optional: no challenge
	if n := len(w.eventKinds("mfa_removed")); n != 1 {
		t.Fatalf("%d mfa_removed events", n)
	}
}

// otpGrantScope logs alice in with her factor, asking for scope, and returns the access
// token.
func (w world) otpGrantScope(secret, scope string) string {
	w.t.Helper()
	r := w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}, "scope": {scope}})
	mt := r.JSON(w.t)["mfa_token"].(string)
	ok := w.otpGrant(w.app, grantOTP, mt, w.code(secret, 0))
	wantStatus(w.t, "otp grant", ok, http.StatusOK, "")
	return ok.JSON(w.t)["access_token"].(string)
}

// The admin API: the tenant's policy needs a key ring; the user shows her factors; a
// reset removes them and she enrols again at her next login under required.
func TestAdminMFA(t *testing.T) {
	plain := newWorld(t)
	key := plain.mustAdminKey("")
	r := plain.admin(key, "PATCH", "/admin/v1/tenants/a", map[string]any{"mfa_policy": "required"})
	wantStatus(t, "policy without a key ring", r, http.StatusConflict, "key-ring-missing")
	if p := r.JSON(t); p["field"] != "mfa_policy" {
		t.Fatalf("problem %v", p)
	}

	w := newMFAWorld(t, service.MFAOff)
	key = w.mustAdminKey("a") // a tenant key may set its tenant's policy
	tn := w.adminOK(http.StatusOK, key, "PATCH", "/admin/v1/tenants/a", map[string]any{"mfa_policy": "required", "mfa_failure_limit": 5})
	if tn["mfa_policy"] != "required" || tn["mfa_failure_limit"] != float64(5) {
		t.Fatalf("tenant %v", tn)
	}
	wantStatus(t, "bad policy", w.admin(key, "PATCH", "/admin/v1/tenants/a", map[string]any{"mfa_policy": "always"}), http.StatusBadRequest, "validation")
	w.setPolicy(service.MFAOptional)
	w.enrol("alice", testkit.AlicePassword)
	w.setPolicy(service.MFARequired)
	path := "/admin/v1/tenants/a/users/" + w.alice.ID.String()
	if u := w.adminOK(http.StatusOK, key, "GET", path, nil); u["mfa"].(map[string]any)["totp"] != true {
		t.Fatalf("user %v", u)
	}
	list := w.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants/a/users", nil)
	if u := list["items"].([]any)[0].(map[string]any); u["mfa"].(map[string]any)["recovery_codes_left"] != float64(10) {
		t.Fatalf("listed user %v", u)
	}
	wantStatus(t, "reset", w.admin(key, "DELETE", path+"/mfa", nil), http.StatusNoContent, "")
	if u := w.adminOK(http.StatusOK, key, "GET", path, nil); u["mfa"].(map[string]any)["totp"] != false {
		t.Fatalf("user after reset %v", u)
	}
	if m := w.passwordStep(w.app, "alice", testkit.AlicePassword); m["enrollment_required"] != true {
		t.Fatalf("login after reset: %v", m)
	}
	if n := len(w.eventKinds("mfa_reset")); n != 1 {
		t.Fatalf("%d mfa_reset events", n)
	}
	wantStatus(t, "reset of nobody", w.admin(key, "DELETE", "/admin/v1/tenants/a/users/00000000-0000-0000-0000-000000000000/mfa", nil), http.StatusNotFound, "not-found")
}

// golang.org/x/oauth2 carries the mfa_required answer as a *RetrieveError whose Body
// holds the mfa_token: how a Go client continues the login (README, Second factor).
func TestOAuth2ClientReadsMFAToken(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	conf := oauth2.Config{ClientID: w.app.ID, ClientSecret: w.app.Secret,
		Endpoint: oauth2.Endpoint{TokenURL: w.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, w.srv.Client())
	_, err := conf.PasswordCredentialsToken(ctx, "alice", testkit.AlicePassword)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "mfa_required" || re.Response.StatusCode != http.StatusForbidden {
		t.Fatalf("password step through x/oauth2: %v", err)
	}
	var body struct {
		MFAToken string `json:"mfa_token"`
	}
	if err := json.Unmarshal(re.Body, &body); err != nil || !strings.HasPrefix(body.MFAToken, "jmt_") {
		t.Fatalf("mfa_token from the RetrieveError body %q: %v", re.Body, err)
	}
	wantStatus(t, "otp grant", w.otpGrant(w.app, grantOTP, body.MFAToken, w.code(secret, 0)), http.StatusOK, "")
}
