package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/keyring"
	"github.com/jeton-auth/jeton/service"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Helpers for the second-factor tests.

const (
	grantOTP      = "urn:jeton:params:oauth:grant-type:mfa-otp"
	grantRecovery = "urn:jeton:params:oauth:grant-type:mfa-recovery-code"
)

// testRing is a key ring of one key named id, its bytes all b.
func testRing(t *testing.T, spec ...string) *keyring.Ring {
	t.Helper()
	r, err := keyring.Parse(joinSpecs(spec))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func keySpec(id string, b byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

func joinSpecs(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// mfaWorld is the usual world with a key ring, tenant a at policy, and an app client that
// may also be granted the account scope.
func newMFAWorld(t *testing.T, policy string, opts ...envOption) world {
	t.Helper()
	w := newWorld(t, append([]envOption{withService(service.WithKeyRing(testRing(t, keySpec("k1", 1))))}, opts...)...)
	w.app = w.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read", "write", "account"}, DefaultScopes: []string{"read"}})
	w.setPolicy(policy)
	return w
}

func (w world) setPolicy(policy string) {
	w.t.Helper()
	if _, err := w.svc.UpdateTenant(context.Background(), w.cli, "a", func(t *db.Tenant) { t.MFAPolicy = policy }); err != nil {
		w.t.Fatal(err)
	}
}

// code is the TOTP code of secret at the test clock moved by steps time steps, computed by
// pquerna/otp.
func (w world) code(secret string, steps int) string {
	w.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, w.clock.Now().Add(time.Duration(steps)*30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// account sends a form to the account API with bearer.
func (w world) account(bearer, method, path string, form url.Values) response {
	w.t.Helper()
	ct := ""
	if form != nil {
		ct = formType
	}
	return w.adminRaw(bearer, method, path, ct, form.Encode())
}

// enrol gives username a TOTP factor with an access token carrying the account scope
// (policy off or optional, so the login needs no factor) and returns its secret and
// recovery codes.
func (w world) enrol(username, pw string) (string, []string) {
	w.t.Helper()
	at := w.login(w.app, username, pw, "scope", "account")["access_token"].(string)
	return w.enrolWith(at)
}

// enrolWith enrols with bearer (an access token or an enrolment mfa_token) and returns
// the secret and the confirmation's answer's recovery codes.
func (w world) enrolWith(bearer string) (string, []string) {
	w.t.Helper()
	secret, conf := w.enrolAnswer(bearer)
	codes := []string{}
	for _, c := range conf["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, codes
}

func (w world) enrolAnswer(bearer string) (string, map[string]any) {
	w.t.Helper()
	r := w.account(bearer, http.MethodPost, "/account/v1/mfa/totp", nil)
	if r.Status != http.StatusCreated {
		w.t.Fatalf("start totp: %d %s", r.Status, r.Body)
	}
	secret := r.JSON(w.t)["secret"].(string)
	r = w.account(bearer, http.MethodPost, "/account/v1/mfa/totp/confirm", url.Values{"otp": {w.code(secret, 0)}})
	if r.Status != http.StatusOK {
		w.t.Fatalf("confirm totp: %d %s", r.Status, r.Body)
	}
	// The next code must be of a later step than the confirmation's.
	w.clock.Advance(30 * time.Second)
	return secret, r.JSON(w.t)
}

// passwordStep runs the password grant and returns the 403 mfa_required answer.
func (w world) passwordStep(c client, username, pw string) map[string]any {
	w.t.Helper()
	r := w.post("/token", &c, loginForm(username, pw))
	if r.Status != http.StatusForbidden {
		w.t.Fatalf("password step: %d %s, want 403 mfa_required", r.Status, r.Body)
	}
	m := r.JSON(w.t)
	if m["error"] != "mfa_required" {
		w.t.Fatalf("password step: %s", r.Body)
	}
	return m
}

// mfaToken runs the password step and returns the mfa_token.
func (w world) mfaToken(c client, username, pw string) string {
	w.t.Helper()
	return w.passwordStep(c, username, pw)["mfa_token"].(string)
}

// otpGrant sends the mfa-otp grant (grant: its name) as c.
func (w world) otpGrant(c client, grant, mfaToken, code string) response {
	w.t.Helper()
	return w.post("/token", &c, url.Values{"grant_type": {grant}, "mfa_token": {mfaToken}, "otp": {code}})
}

// wantStatus fails unless r has status and, when code is not "", that error code.
func wantStatus(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
	if code == "" {
		return
	}
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	if m["error"] != code && m["type"] != "https://jeton.dev/problems/"+code {
		t.Fatalf("%s: %s, want %s", what, r.Body, code)
	}
}

// eventKinds returns the kinds of the tenant's events, oldest first.
func (w world) eventKinds(kind string) []map[string]any {
	w.t.Helper()
	key := w.mustAdminKey("")
	page := w.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants/a/events?kind="+kind, nil)
	out := []map[string]any{}
	for _, it := range page["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}
