package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/tokens"
)

// Only first-party clients allowed the authorization_code grant may use the endpoint; the
// client authenticates as at /token; response_type must be code.
func TestChallengeRefusesClients(t *testing.T) {
	w := newFPWorld(t, service.MFAOff)
	noCode := w.mustClient("a", service.ClientSpec{Name: "own, password only", FirstParty: true, GrantTypes: []string{"password"}})
	form := func() url.Values { return challengeForm("alice", testkit.AlicePassword) }
	wantStatus(t, "not first-party", w.as(w.app, "/authorize-challenge", form()), http.StatusBadRequest, "unauthorized_client")
	wantStatus(t, "no authorization_code grant", w.as(noCode, "/authorize-challenge", form()), http.StatusBadRequest, "unauthorized_client")
	wantStatus(t, "no client", w.post("/authorize-challenge", nil, form()), http.StatusUnauthorized, "invalid_client")
	bad := w.fp
	bad.Secret += "x"
	wantStatus(t, "wrong secret", w.as(bad, "/authorize-challenge", form()), http.StatusUnauthorized, "invalid_client")
	f := form()
	f.Del("response_type")
	wantStatus(t, "no response_type", w.as(w.fp, "/authorize-challenge", f), http.StatusBadRequest, "invalid_request")
	f.Set("response_type", "token")
	wantStatus(t, "response_type token", w.as(w.fp, "/authorize-challenge", f), http.StatusBadRequest, "unsupported_response_type")
	f = form()
	f.Del("password")
	wantStatus(t, "no password", w.as(w.fp, "/authorize-challenge", f), http.StatusBadRequest, "invalid_request")
	// The code grant is the first-party clients' too.
	code := wantCode(t, w.as(w.fp, "/authorize-challenge", form()))
	wantStatus(t, "code grant by another client", w.redeem(w.app, code, ""), http.StatusBadRequest, "unauthorized_client")
	// Turning first_party off closes the endpoint to the client.
	key := w.mustAdminKey("")
	w.adminOK(http.StatusOK, key, "PATCH", "/admin/v1/tenants/a/clients/"+w.fp.ID, map[string]any{"first_party": false})
	wantStatus(t, "first_party off", w.as(w.fp, "/authorize-challenge", form()), http.StatusBadRequest, "unauthorized_client")
}

// Another client's code or auth_session: invalid_grant and invalid_session.
func TestChallengeOtherClient(t *testing.T) {
	w := newFPWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	v, ch := newPKCE(t)
	as := wantInsufficient(t, w.as(w.spa, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword, "code_challenge", ch,
		"code_challenge_method", "S256")))
	wantStatus(t, "another client's auth_session", w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}, "otp": {w.code(secret, 0)}}), http.StatusBadRequest, "invalid_session")
	code := wantCode(t, w.as(w.spa, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}, "otp": {w.code(secret, 0)}}))
	wantStatus(t, "another client's code", w.redeem(w.fp, code, v), http.StatusBadRequest, "invalid_grant")
	wantToken(t, w.redeem(w.spa, code, v), "read")
}

// invalid_session: unknown, malformed or another kind of token, completed, and an
// auth_session sent with a username and password; an auth_session is no mfa_token.
func TestChallengeInvalidSession(t *testing.T) {
	w := newFPWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	unknown, _ := tokens.New(tokens.AuthSession, strings.NewReader(strings.Repeat("x", 64)))
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	as := wantInsufficient(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	for _, tc := range []struct{ name, session string }{
		{"unknown", unknown}, {"malformed", "jas_nope"}, {"an mfa_token", mt},
	} {
		r := w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"}, "auth_session": {tc.session},
			"otp": {w.code(secret, 0)}})
		wantStatus(t, tc.name, r, http.StatusBadRequest, "invalid_session")
	}
	wantStatus(t, "with username and password", w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword,
		"auth_session", as, "otp", w.code(secret, 0))), http.StatusBadRequest, "invalid_session")
	wantStatus(t, "the mfa-otp grant, a client without the password grant", w.otpGrant(w.fp, grantOTP, as, w.code(secret, 0)),
		http.StatusBadRequest, "unauthorized_client")
	wantStatus(t, "auth_session at the mfa-otp grant", w.otpGrant(w.app, grantOTP, as, w.code(secret, 0)),
		http.StatusBadRequest, "invalid_grant")
	wantCode(t, w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"}, "auth_session": {as},
		"otp": {w.code(secret, 0)}}))
}

// Five wrong codes end an auth_session; wrong codes count on the user's counter that the
// mfa-otp grant at /token reads too.
func TestChallengeWrongCodes(t *testing.T) {
	w := newFPWorld(t, service.MFAOptional)
	secret, codes := w.enrol("alice", testkit.AlicePassword)
	w.mustTenantSettings("a", func(tn *db.Tenant) { tn.MFAFailureLimit = intp(7) })
	as := wantInsufficient(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	wrong := func(session string) response {
		return w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"}, "auth_session": {session}, "otp": {"000000"}})
	}
	for i := range 5 {
		if r := wrong(as); r.Status != http.StatusBadRequest || r.JSON(t)["error"] != "invalid_grant" {
			t.Fatalf("wrong code %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	wantStatus(t, "after 5 wrong codes", w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}, "otp": {w.code(secret, 0)}}), http.StatusBadRequest, "invalid_session")
	if n := len(w.eventKinds("mfa_failure")); n != 5 {
		t.Fatalf("%d mfa_failure events", n)
	}
	// Failure 6 at /token, then the user's limit (7) is reached at both endpoints.
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	wantStatus(t, "wrong code at /token", w.otpGrant(w.app, grantOTP, mt, "000000"), http.StatusBadRequest, "invalid_grant")
	as = wantInsufficient(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	wantStatus(t, "wrong code 7", wrong(as), http.StatusBadRequest, "invalid_grant")
	wantStatus(t, "the right code past the limit", w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}, "recovery_code": {codes[0]}}), http.StatusTooManyRequests, "temporarily_unavailable")
	wantStatus(t, "at /token too", w.post("/token", &w.app, url.Values{"grant_type": {service.GrantMFARecoveryCode},
		"mfa_token": {mt}, "recovery_code": {codes[0]}}), http.StatusTooManyRequests, "temporarily_unavailable")
}

// The same enumeration guarantees as the password grant: one byte-identical invalid_grant
// for unknown user, wrong password and disabled user, the same as /token's.
func TestChallengeEnumeration(t *testing.T) {
	w := newFPWorld(t, service.MFAOff)
	w.mustUser("a", "carol", testkit.AlicePassword)
	if _, err := w.svc.UpdateUser(context.Background(), w.cli, "a", "carol", func(u *db.User) { u.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	var first response
	for i, tc := range []struct{ name, username, password string }{
		{"wrong password", "alice", testkit.AlicePassword + "!"},
		{"unknown user", "nobody", testkit.AlicePassword},
		{"disabled user with right password", "carol", testkit.AlicePassword},
		{"username PRECIS rejects", "al ice", testkit.AlicePassword},
	} {
		r := w.as(w.fp, "/authorize-challenge", challengeForm(tc.username, tc.password))
		if r.Status != http.StatusBadRequest || string(r.Body) != `{"error":"invalid_grant"}` {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		if i == 0 {
			first = r
			continue
		}
		if diff := cmp.Diff(stableHeaders(first.Header), stableHeaders(r.Header)); diff != "" {
			t.Errorf("%s: headers differ (-first +this):\n%s", tc.name, diff)
		}
	}
	tok := w.post("/token", &w.app, loginForm("nobody", testkit.AlicePassword))
	if tok.Status != first.Status || string(tok.Body) != string(first.Body) {
		t.Errorf("/token answers %d %s, the challenge endpoint %d %s", tok.Status, tok.Body, first.Status, first.Body)
	}
	reasons := []string{}
	for _, ev := range w.eventKinds("login_failure") {
		reasons = append(reasons, ev["detail"].(map[string]any)["reason"].(string))
	}
	// Newest first; the name PRECIS rejects is refused before any counting, as at /token.
	if diff := cmp.Diff([]string{"unknown_user", "user_disabled", "unknown_user", "wrong_password"}, reasons); diff != "" {
		t.Errorf("login_failure reasons (-want +got):\n%s", diff)
	}
}

// Failures at one endpoint count at the other: the per-username limit is one.
func TestChallengeSharesThrottles(t *testing.T) {
	w := newFPWorld(t, service.MFAOff)
	w.mustTenantSettings("a", func(tn *db.Tenant) { tn.LoginUserLimit, tn.LoginBackoffAfter = intp(3), intp(20) })
	wantStatus(t, "failure 1 at /token", w.post("/token", &w.app, loginForm("alice", "guess one")), http.StatusBadRequest, "invalid_grant")
	wantStatus(t, "failure 2 at the challenge", w.as(w.spa, "/authorize-challenge", challengeForm("alice", "guess two",
		"code_challenge", strings.Repeat("a", 43), "code_challenge_method", "S256")), http.StatusBadRequest, "invalid_grant")
	wantStatus(t, "failure 3 at /token", w.post("/token", &w.app, loginForm("alice", "guess three")), http.StatusBadRequest, "invalid_grant")
	wantThrottled(t, w.as(w.spa, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword,
		"code_challenge", strings.Repeat("a", 43), "code_challenge_method", "S256")), 3600)
	wantThrottled(t, w.postFrom(&w.app, loginForm("alice", testkit.AlicePassword)), 3600)
}
