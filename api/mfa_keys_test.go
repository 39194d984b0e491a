package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// Rotating the key ring re-seals every factor under the new first key: afterwards a
// jeton with the new key alone still checks every factor.
func TestKeyRotationKeepsFactors(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	w.mustUser("a", "bob", testkit.AlicePassword)
	aliceSecret, _ := w.enrol("alice", testkit.AlicePassword)
	bobSecret, _ := w.enrol("bob", testkit.AlicePassword)

	both := newEnv(t, onPool(w.pool), withService(service.WithKeyRing(testRing(t, keySpec("k2", 2), keySpec("k1", 1)))))
	n, err := both.svc.RotateKeys(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("rotate: %d %v", n, err)
	}
	if n, err := both.svc.RotateKeys(context.Background()); err != nil || n != 0 {
		t.Fatalf("second rotation: %d %v", n, err)
	}
	newOnly := world{env: newEnv(t, onPool(w.pool), withService(service.WithKeyRing(testRing(t, keySpec("k2", 2))))), app: w.app, rs: w.rs}
	newOnly.clock.Advance(5 * time.Minute) // past the steps the enrolments used
	for name, secret := range map[string]string{"alice": aliceSecret, "bob": bobSecret} {
		r := newOnly.otpGrant(w.app, grantOTP, newOnly.mfaToken(w.app, name, testkit.AlicePassword), newOnly.code(secret, 0))
		wantStatus(t, name+" under the new key alone", r, http.StatusOK, "")
	}
}

// No factor secret, code, recovery code or mfa_token reaches the logs: a session of
// enrolments, logins with codes (right, wrong, replayed), recovery codes and account
// calls runs against a server that logs everything at debug level.
func TestLogsHoldNoMFASecrets(t *testing.T) {
	w := newMFAWorld(t, service.MFARequired)
	secrets := map[string]string{}
	// Enrolment during a login, with the mfa_token.
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	secrets["the enrolment mfa_token"] = mt
	secret, conf := w.enrolAnswer(mt)
	secrets["the TOTP secret"] = secret
	for i, c := range conf["recovery_codes"].([]any) {
		secrets["recovery code "+string(rune('0'+i))] = c.(string)
	}
	// Logins: a wrong code, a right one, a replay, a recovery code, an alias.
	mt = w.mfaToken(w.app, "alice", testkit.AlicePassword)
	secrets["a challenge mfa_token"] = mt
	right := w.code(secret, 0)
	secrets["a right code"] = right
	w.otpGrant(w.app, grantOTP, mt, wrongCode(right))
	w.otpGrant(w.app, grantOTP, mt, right)
	w.otpGrant(w.app, grantOTP, w.mfaToken(w.app, "alice", testkit.AlicePassword), right)
	code := conf["recovery_codes"].([]any)[0].(string)
	w.post("/token", &w.app, url.Values{"grant_type": {"http://auth0.com/oauth/grant-type/mfa-recovery-code"},
		"mfa_token": {w.mfaToken(w.app, "alice", testkit.AlicePassword)}, "recovery_code": {code}})
	// Account calls with codes, and the codes in odd places.
	w.clock.Advance(30 * time.Second)
	at := w.otpGrantScope(secret, "account")
	w.clock.Advance(30 * time.Second)
	next := w.code(secret, 0)
	secrets["a code sent to the account API"] = next
	r := w.account(at, http.MethodPost, "/account/v1/mfa/recovery-codes", url.Values{"otp": {next}})
	for i, c := range r.JSON(t)["recovery_codes"].([]any) {
		secrets["regenerated code "+string(rune('0'+i))] = c.(string)
	}
	w.adminRaw(at, http.MethodPost, "/account/v1/mfa/totp/confirm?otp="+next, "application/json", `{"otp":"`+next+`"}`)
	w.send(http.MethodPost, "/token?mfa_token="+mt, headers("Content-Type", formType), "grant_type="+grantOTP+"&mfa_token="+mt)

	logs := w.logs.String()
	if strings.Count(logs, "msg=request") < 10 {
		t.Fatalf("the access log has %d requests; is it captured?", strings.Count(logs, "msg=request"))
	}
	assertNotLogged(t, logs, secrets)
}
