package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// The second step grants what the user and the client may still have: a scope taken from
// either after the password step is not granted by it (as a refresh would not).
func TestMFAGrantNarrowsToCurrentScopes(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	f := loginForm("alice", testkit.AlicePassword)
	f.Set("scope", "read write account")
	r := w.post("/token", &w.app, f)
	wantStatus(t, "password step", r, http.StatusForbidden, "mfa_required")
	mt := r.JSON(t)["mfa_token"].(string)
	ctx := context.Background()
	if _, err := w.svc.UpdateUser(ctx, w.cli, "a", "alice", func(u *db.User) { u.Scopes = []string{"read", "account"} }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.UpdateClient(ctx, w.cli, "a", w.app.ID, func(c *db.Client) { c.Scopes = []string{"read", "write"} }); err != nil {
		t.Fatal(err)
	}
	r = w.otpGrant(w.app, grantOTP, mt, w.code(secret, 0))
	wantStatus(t, "otp grant", r, http.StatusOK, "")
	if sc := r.JSON(t)["scope"]; sc != "read" {
		t.Fatalf("scope %v, want read", sc)
	}
}

// The account API answers unknown routes and methods as problem details, as the admin
// API does.
func TestAccountUnknownRoutesAreProblems(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	for _, c := range []struct {
		method, path string
		status       int
	}{{http.MethodPut, "/account/v1/me", http.StatusMethodNotAllowed}, {http.MethodGet, "/account/v1/nothing", http.StatusNotFound}} {
		r := w.adminRaw("", c.method, c.path, "", "")
		if r.Status != c.status || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s %s, want %d problem details", c.method, c.path, r.Status, r.Header.Get("Content-Type"), r.Body, c.status)
		}
	}
}

// login_success records the amr of every login: ["pwd"] for a password alone.
func TestLoginSuccessRecordsAMR(t *testing.T) {
	w := newMFAWorld(t, service.MFAOff)
	w.login(w.app, "alice", testkit.AlicePassword)
	evs := w.eventKinds("login_success")
	if len(evs) != 1 {
		t.Fatalf("%d login_success events, want 1", len(evs))
	}
	if d, _ := evs[0]["detail"].(map[string]any); fmt.Sprint(d["amr"]) != "[pwd]" {
		t.Fatalf("login_success detail %v, want amr [pwd]", evs[0]["detail"])
	}
}

// An authorization code is redeemed with the scope it was issued for, narrowed to what the
// user and the client may have at redemption, as the mfa grants and a refresh narrow it.
func TestCodeGrantNarrowsToCurrentScopes(t *testing.T) {
	w := newFPWorld(t, service.MFAOptional)
	code := wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword, "scope", "read write account")))
	ctx := context.Background()
	if _, err := w.svc.UpdateUser(ctx, w.cli, "a", "alice", func(u *db.User) { u.Scopes = []string{"read", "account"} }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.UpdateClient(ctx, w.cli, "a", w.fp.ID, func(c *db.Client) { c.Scopes = []string{"read", "write"} }); err != nil {
		t.Fatal(err)
	}
	r := w.redeem(w.fp, code, "")
	wantStatus(t, "code grant", r, http.StatusOK, "")
	if sc := r.JSON(t)["scope"]; sc != "read" {
		t.Fatalf("scope %v, want read", sc)
	}
}
