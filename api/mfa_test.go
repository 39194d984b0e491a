package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// Each policy: off never asks, optional asks users with a factor, required asks everyone
// and users without a factor enrol.
func TestMFAPolicies(t *testing.T) {
	w := newMFAWorld(t, service.MFAOff)
	w.mustUser("a", "bob", testkit.AlicePassword)
	w.enrol("alice", testkit.AlicePassword) // alice has a factor, bob none

	w.login(w.app, "alice", testkit.AlicePassword) // off: tokens at once
	w.login(w.app, "bob", testkit.AlicePassword)

	w.setPolicy(service.MFAOptional)
	if m := w.passwordStep(w.app, "alice", testkit.AlicePassword); m["enrollment_required"] != nil {
		t.Fatalf("optional, a user with a factor: %v", m)
	}
	w.login(w.app, "bob", testkit.AlicePassword) // optional, no factor: tokens

	w.setPolicy(service.MFARequired)
	if m := w.passwordStep(w.app, "alice", testkit.AlicePassword); m["enrollment_required"] != nil {
		t.Fatalf("required, a user with a factor: %v", m)
	}
	if m := w.passwordStep(w.app, "bob", testkit.AlicePassword); m["enrollment_required"] != true {
		t.Fatalf("required, a user without a factor: %v", m)
	}
	// A wrong password is still a plain invalid_grant, under every policy.
	wantStatus(t, "wrong password", w.post("/token", &w.app, loginForm("alice", "wrong password, long enough")),
		http.StatusBadRequest, "invalid_grant")
	if n := len(w.eventKinds("mfa_challenged")); n != 3 {
		t.Fatalf("%d mfa_challenged events, want 3", n)
	}
}

// The full login: password, then a code computed from the secret the enrolment returned;
// introspection tells how the user authenticated, and a refresh keeps it.
func TestMFALoginWithTOTP(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	start := w.clock.Now()
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	code := w.code(secret, 0)
	r := w.otpGrant(w.app, grantOTP, mt, code)
	wantStatus(t, "otp grant", r, http.StatusOK, "")
	tok := r.JSON(t)
	in := w.introspect(w.rs, tok["access_token"].(string))
	if diff := cmp.Diff([]any{"pwd", "otp"}, in["amr"]); diff != "" || in["acr"] != "mfa" || in["auth_time"] != float64(start.Unix()) {
		t.Fatalf("introspection: %v (amr -want +got %s)", in, diff)
	}
	w.clock.Advance(time.Minute)
	ref := w.post("/token", &w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}})
	wantStatus(t, "refresh", ref, http.StatusOK, "")
	in = w.introspect(w.rs, ref.JSON(t)["access_token"].(string))
	if diff := cmp.Diff([]any{"pwd", "otp"}, in["amr"]); diff != "" || in["auth_time"] != float64(start.Unix()) {
		t.Fatalf("introspection after refresh: %v", in)
	}
	// The token is consumed; the code is not accepted again, even with a new mfa_token.
	wantStatus(t, "used mfa_token", w.otpGrant(w.app, grantOTP, mt, code), http.StatusBadRequest, "invalid_grant")
	w.clock.Advance(-time.Minute) // back to the step of the code
	mt2 := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	wantStatus(t, "replayed code", w.otpGrant(w.app, grantOTP, mt2, code), http.StatusBadRequest, "invalid_grant")
	// login_success records the amr.
	ev := w.eventKinds("login_success")
	if d := ev[0]["detail"].(map[string]any); !slices.Equal(anyStrings(d["amr"]), []string{"pwd", "otp"}) {
		t.Fatalf("login_success detail %v", d)
	}
}

func anyStrings(v any) []string {
	out := []string{}
	s, _ := v.([]any)
	for _, x := range s {
		out = append(out, x.(string))
	}
	return out
}

// A password-only login says so.
func TestIntrospectionAMRPasswordOnly(t *testing.T) {
	w := newMFAWorld(t, service.MFAOff)
	in := w.introspect(w.rs, w.login(w.app, "alice", testkit.AlicePassword)["access_token"].(string))
	if diff := cmp.Diff([]any{"pwd"}, in["amr"]); diff != "" || in["acr"] != "pwd" || in["auth_time"] != float64(w.clock.Now().Unix()) {
		t.Fatalf("introspection: %v", in)
	}
}

// RFC 6238 §5.2 with one step of skew: codes one step off are accepted, two steps off
// refused, and once a step succeeded only later ones are.
func TestTOTPSkew(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	w.clock.Advance(2 * time.Minute) // past the steps near the enrolment's code
	for _, tc := range []struct {
		name  string
		steps int
		ok    bool
	}{
		{"two steps behind", -2, false},
		{"one step behind", -1, true},
		{"the same step again", -1, false},
		{"two steps ahead", 2, false},
		{"one step ahead", 1, true},
		{"the current step, earlier than the last used", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
			r := w.otpGrant(w.app, grantOTP, mt, w.code(secret, tc.steps))
			if tc.ok {
				wantStatus(t, tc.name, r, http.StatusOK, "")
			} else {
				wantStatus(t, tc.name, r, http.StatusBadRequest, "invalid_grant")
			}
		})
	}
}

// One mfa_token survives 5 wrong codes; the sixth attempt, right or wrong, is refused.
func TestMFATokenDiesAfterFiveWrongCodes(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	right := w.code(secret, 0)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := range 5 {
		wantStatus(t, "wrong code", w.otpGrant(w.app, grantOTP, mt, wrong), http.StatusBadRequest, "invalid_grant")
		_ = i
	}
	wantStatus(t, "right code on a dead token", w.otpGrant(w.app, grantOTP, mt, right), http.StatusBadRequest, "invalid_grant")
	if n := len(w.eventKinds("mfa_failure")); n != 5 {
		t.Fatalf("%d mfa_failure events, want 5", n)
	}
	// A new token still works: the user's counter is not past its limit.
	wantStatus(t, "new token", w.otpGrant(w.app, grantOTP, w.mfaToken(w.app, "alice", testkit.AlicePassword), right), http.StatusOK, "")
}

// Wrong codes count per user across mfa_tokens: past 10 in 15 minutes, 429; a success
// resets the count.
func TestMFAUserFailureLimit(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	wrongs := func(n int) {
		t.Helper()
		mt := ""
		for i := range n {
			if i%5 == 0 {
				mt = w.mfaToken(w.app, "alice", testkit.AlicePassword)
			}
			wantStatus(t, "wrong code", w.otpGrant(w.app, grantOTP, mt, wrongCode(w.code(secret, 0))), http.StatusBadRequest, "invalid_grant")
		}
	}
	wrongs(5)
	wantStatus(t, "success after 5", w.otpGrant(w.app, grantOTP, w.mfaToken(w.app, "alice", testkit.AlicePassword), w.code(secret, 0)), http.StatusOK, "")
	w.clock.Advance(30 * time.Second)
	wrongs(10) // 5 before the success do not count any more
	r := w.otpGrant(w.app, grantOTP, w.mfaToken(w.app, "alice", testkit.AlicePassword), w.code(secret, 0))
	wantStatus(t, "past the limit", r, http.StatusTooManyRequests, "temporarily_unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	w.clock.Advance(15 * time.Minute)
	wantStatus(t, "after the window", w.otpGrant(w.app, grantOTP, w.mfaToken(w.app, "alice", testkit.AlicePassword), w.code(secret, 0)), http.StatusOK, "")
}

func wrongCode(right string) string {
	if right == "123456" {
		return "654321"
	}
	return "123456"
}

// A recovery code completes a login once, under both grant names.
func TestRecoveryCodeWorksOnce(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	_, codes := w.enrol("alice", testkit.AlicePassword)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	form := func(grant, mt, code string) url.Values {
		return url.Values{"grant_type": {grant}, "mfa_token": {mt}, "recovery_code": {code}}
	}
	r := w.post("/token", &w.app, form(grantRecovery, w.mfaToken(w.app, "alice", testkit.AlicePassword), codes[0]))
	wantStatus(t, "recovery code", r, http.StatusOK, "")
	if in := w.introspect(w.rs, r.JSON(t)["access_token"].(string)); !slices.Equal(anyStrings(in["amr"]), []string{"pwd", "mfa"}) || in["acr"] != "mfa" {
		t.Fatalf("introspection: %v", in)
	}
	again := w.post("/token", &w.app, form(grantRecovery, w.mfaToken(w.app, "alice", testkit.AlicePassword), codes[0]))
	wantStatus(t, "the same code again", again, http.StatusBadRequest, "invalid_grant")
	// Auth0's name, and a code typed in lower case without its hyphen.
	typed := []byte(codes[1][:5] + codes[1][6:])
	for i, c := range typed {
		if c >= 'A' && c <= 'Z' {
			typed[i] = c + 'a' - 'A'
		}
	}
	r = w.post("/token", &w.app, form("http://auth0.com/oauth/grant-type/mfa-recovery-code", w.mfaToken(w.app, "alice", testkit.AlicePassword), string(typed)))
	wantStatus(t, "auth0 alias", r, http.StatusOK, "")
	if n := len(w.eventKinds("recovery_code_used")); n != 2 {
		t.Fatalf("%d recovery_code_used events", n)
	}
	key := w.mustAdminKey("a")
	u := w.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants/a/users/"+w.alice.ID.String(), nil)
	if diff := cmp.Diff(map[string]any{"totp": true, "recovery_codes_left": float64(8)}, u["mfa"]); diff != "" {
		t.Fatalf("admin user mfa (-want +got):\n%s", diff)
	}
}

// The Auth0 name of the otp grant is an alias.
func TestAuth0OTPAlias(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	r := w.otpGrant(w.app, "http://auth0.com/oauth/grant-type/mfa-otp", w.mfaToken(w.app, "alice", testkit.AlicePassword), w.code(secret, 0))
	wantStatus(t, "auth0 mfa-otp", r, http.StatusOK, "")
}

// An mfa_token belongs to the client it was issued to, and dies with the user's epoch.
func TestMFATokenBoundToClientAndEpoch(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	other := w.mustClient("a", service.ClientSpec{Name: "other", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	wantStatus(t, "another client's mfa_token", w.otpGrant(other, grantOTP, mt, w.code(secret, 0)), http.StatusBadRequest, "invalid_grant")

	mt = w.mfaToken(w.app, "alice", testkit.AlicePassword)
	if err := w.svc.SetPassword(context.Background(), w.cli, "a", "alice", "a brand new password for alice"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "after a password change", w.otpGrant(w.app, grantOTP, mt, w.code(secret, 0)), http.StatusBadRequest, "invalid_grant")

	mt = w.mfaToken(w.app, "alice", "a brand new password for alice")
	w.clock.Advance(service.MFATokenTTL)
	wantStatus(t, "expired", w.otpGrant(w.app, grantOTP, mt, w.code(secret, 0)), http.StatusBadRequest, "invalid_grant")
	for _, bad := range []string{"jmt_x", "jat_" + mt[4:], ""} {
		r := w.otpGrant(w.app, grantOTP, bad, w.code(secret, 0))
		if r.Status != http.StatusBadRequest {
			t.Fatalf("mfa_token %q: %d %s", bad, r.Status, r.Body)
		}
	}
	w.clock.Advance(time.Minute)
	mt = w.mfaToken(w.app, "alice", "a brand new password for alice")
	if _, err := w.svc.UpdateUser(context.Background(), w.cli, "a", "alice", func(u *db.User) { u.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "after a disable", w.otpGrant(w.app, grantOTP, mt, w.code(secret, 0)), http.StatusBadRequest, "invalid_grant")
}

// Bad second-factor requests get RFC 6749 §5.2 errors, never a 500.
func TestMFAGrantBadRequests(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	w.mustUser("a", "bob", testkit.AlicePassword)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	noPassword := w.mustClient("a", service.ClientSpec{Name: "cc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	for _, tc := range []struct {
		name   string
		c      client
		form   url.Values
		status int
		code   string
	}{
		{"no mfa_token", w.app, url.Values{"grant_type": {grantOTP}, "otp": {"123456"}}, 400, "invalid_request"},
		{"no otp", w.app, url.Values{"grant_type": {grantOTP}, "mfa_token": {mt}}, 400, "invalid_request"},
		{"no recovery_code", w.app, url.Values{"grant_type": {grantRecovery}, "mfa_token": {mt}}, 400, "invalid_request"},
		{"a client without the password grant", noPassword, url.Values{"grant_type": {grantOTP}, "mfa_token": {mt}, "otp": {"123456"}}, 400, "unauthorized_client"},
		{"letters", w.app, url.Values{"grant_type": {grantOTP}, "mfa_token": {mt}, "otp": {"abcdef"}}, 400, "invalid_grant"},
		{"seven digits", w.app, url.Values{"grant_type": {grantOTP}, "mfa_token": {mt}, "otp": {w.code(secret, 0) + "1"}}, 400, "invalid_grant"},
		{"a recovery code too long", w.app, url.Values{"grant_type": {grantRecovery}, "mfa_token": {mt}, "recovery_code": {strings.Repeat("A", 300)}}, 400, "invalid_grant"},
		{"an access token as mfa_token", w.app, url.Values{"grant_type": {grantOTP}, "mfa_token": {w.login(w.app, "bob", testkit.AlicePassword)["access_token"].(string)}, "otp": {"123456"}}, 400, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, tc.name, w.post("/token", &tc.c, tc.form), tc.status, tc.code)
		})
	}
	// The token survived the malformed codes within its 5 wrong ones: the right code works.
	wantStatus(t, "right code", w.otpGrant(w.app, grantOTP, mt, w.code(secret, 0)), http.StatusOK, "")
}

// The password step of a challenged login is an attempt without a failure: its unit on
// the throttles is given back; the address becomes known for the user only once the
// factor succeeds.
func TestMFAThrottleAccounting(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	ctx := context.Background()
	// The enrolment's own password login made the address known: start from none.
	if _, err := w.pool.Exec(ctx, `DELETE FROM known_ips`); err != nil {
		t.Fatal(err)
	}
	counts := func() (failures, known int) {
		t.Helper()
		if err := w.pool.QueryRow(ctx, `SELECT COALESCE(sum(failures), 0) FROM login_throttles WHERE username = 'alice' OR kind = 'i'`).Scan(&failures); err != nil {
			t.Fatal(err)
		}
		if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM known_ips WHERE user_id = $1`, w.alice.ID).Scan(&known); err != nil {
			t.Fatal(err)
		}
		return failures, known
	}
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	if f, k := counts(); f != 0 || k != 0 {
		t.Fatalf("after the password step: %d failures counted, %d known addresses; want 0 and 0", f, k)
	}
	wantStatus(t, "code", w.otpGrant(w.app, grantOTP, mt, w.code(secret, 0)), http.StatusOK, "")
	if f, k := counts(); f != 0 || k != 1 {
		t.Fatalf("after the factor: %d failures counted, %d known addresses; want 0 and 1", f, k)
	}
}
