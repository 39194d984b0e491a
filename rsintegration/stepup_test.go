package rsintegration_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/rs"
	"github.com/jeton-auth/jeton/service"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// RFC 9470 step-up: an API that requires acr "mfa" and a login at most 10 minutes old
// refuses a password-only token, and a token of a login too long ago, with 401
// insufficient_user_authentication naming what it needs; a fresh login with a second
// factor passes.
func TestStepUpWithJeton(t *testing.T) {
	w := newWorld(t)
	s := w.newResourceServer(func(c *rs.Client) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /transfer", c.Middleware(rs.RequireACR("mfa"), rs.MaxAge(10*time.Minute))(http.HandlerFunc(me)))
		return mux
	})
	pwdOnly, _ := w.login("alice", testkit.AlicePassword)
	status, challenge, _ := s.get("GET", "/transfer", pwdOnly)
	want := `Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger authentication is required", acr_values="mfa", max_age="600"`
	if status != http.StatusUnauthorized || challenge != want {
		t.Fatalf("password-only token: %d %s", status, challenge)
	}

	// Under required alice enrols during her login; the confirmation completes it.
	if _, err := w.inst.svc.UpdateTenant(context.Background(), testkit.Actor, "a", func(t *db.Tenant) { t.MFAPolicy = service.MFARequired }); err != nil {
		t.Fatal(err)
	}
	_, body := w.post("/token", basic(w.app), url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}})
	var mfa struct {
		Token string `json:"mfa_token"`
	}
	if err := json.Unmarshal(body, &mfa); err != nil || mfa.Token == "" {
		t.Fatalf("password step: %s", body)
	}
	status, body = w.post("/account/v1/mfa/totp", "Bearer "+mfa.Token, nil)
	var en struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(body, &en); err != nil || status != http.StatusCreated {
		t.Fatalf("start totp: %d %s", status, body)
	}
	code, err := totp.GenerateCodeCustom(en.Secret, w.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	status, body = w.post("/account/v1/mfa/totp/confirm", "Bearer "+mfa.Token, url.Values{"otp": {code}})
	var tok struct {
		Access string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || status != http.StatusOK || tok.Access == "" {
		t.Fatalf("confirm: %d %s", status, body)
	}
	status, _, got := s.get("GET", "/transfer", tok.Access)
	if status != http.StatusOK || got["sub"] != w.alice.ID.String() {
		t.Fatalf("token of a login with a second factor: %d %v", status, got)
	}

	// Eleven minutes later the same token is too old a login for this API.
	w.clock.Advance(11 * time.Minute)
	status, challenge, _ = s.get("GET", "/transfer", tok.Access)
	want = `Bearer realm="api", error="insufficient_user_authentication", error_description="a more recent authentication is required", acr_values="mfa", max_age="600"`
	if status != http.StatusUnauthorized || challenge != want {
		t.Fatalf("an old login: %d %s", status, challenge)
	}
}
