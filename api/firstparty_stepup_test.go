package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/rs"
	"github.com/jeton-auth/jeton/service"
	"golang.org/x/oauth2"
)

// rsCall asks an API that requires acr mfa (package rs) with the access token and returns
// its status and WWW-Authenticate challenge.
func (w fpWorld) rsCall(access string) (int, string) {
	w.t.Helper()
	c, err := rs.New(rs.Config{URL: w.srv.URL, ClientID: w.rs.ID, ClientSecret: w.rs.Secret, Now: w.clock.Now,
		HTTPClient: w.srv.Client()})
	if err != nil {
		w.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/transfer", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	rec := httptest.NewRecorder()
	if _, err := c.Authorize(req, rs.RequireACR("mfa")); err != nil {
		c.WriteError(rec, err)
	}
	return rec.Code, rec.Header().Get("WWW-Authenticate")
}

// RFC 9470 step-up through the challenge endpoint: an rs 401 names acr_values=mfa; the
// stored auth_session asks only for the missing factor; the new code's tokens carry amr
// pwd+otp, acr mfa and a new auth_time in the same sid, and pass the API.
func TestChallengeStepUpFromRS401(t *testing.T) {
	w := newFPWorld(t, service.MFAOff)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	tok := w.spaLogin("alice", testkit.AlicePassword)
	before := w.introspect(w.rs, tok["access_token"].(string))
	status, challenge := w.rsCall(tok["access_token"].(string))
	acr := regexp.MustCompile(`acr_values="([^"]*)"`).FindStringSubmatch(challenge)
	if status != http.StatusUnauthorized || acr == nil {
		t.Fatalf("password-only token at the API: %d %q", status, challenge)
	}
	w.clock.Advance(5 * time.Minute)
	v, ch := newPKCE(t)
	step := url.Values{"response_type": {"code"}, "auth_session": {tok["auth_session"].(string)}, "acr_values": {acr[1]},
		"code_challenge": {ch}, "code_challenge_method": {"S256"}}
	pending := wantInsufficient(t, w.as(w.spa, "/authorize-challenge", step))
	code := wantCode(t, w.as(w.spa, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {pending}, "otp": {w.code(secret, 0)}}))
	r := w.redeem(w.spa, code, v)
	wantStatus(t, "redeem the step-up", r, http.StatusOK, "")
	up := r.JSON(t)
	in := w.introspect(w.rs, up["access_token"].(string))
	if diff := cmp.Diff([]any{"pwd", "otp"}, in["amr"]); diff != "" || in["acr"] != "mfa" ||
		in["sid"] != before["sid"] || in["auth_time"] != float64(w.clock.Now().Unix()) {
		t.Fatalf("stepped-up token %v (before %v)", in, before)
	}
	if status, _ := w.rsCall(up["access_token"].(string)); status != http.StatusOK {
		t.Fatalf("stepped-up token at the API: %d", status)
	}
	// Asking again with acr mfa now needs no factor: a code at once, same session.
	again := wantCode(t, w.as(w.spa, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {up["auth_session"].(string)}, "acr_values": {"mfa"}, "code_challenge": {ch},
		"code_challenge_method": {"S256"}}))
	r = w.redeem(w.spa, again, v)
	wantStatus(t, "second step-up", r, http.StatusOK, "")
	if in := w.introspect(w.rs, r.JSON(t)["access_token"].(string)); in["sid"] != before["sid"] {
		t.Fatalf("second step-up in another session: %v", in)
	}
	// The auth_session dies with its session.
	rv := w.as(w.spa, "/revoke", url.Values{"token": {tok["refresh_token"].(string)}})
	wantStatus(t, "revoke", rv, http.StatusOK, "")
	wantStatus(t, "auth_session of a revoked session", w.as(w.spa, "/authorize-challenge", step),
		http.StatusBadRequest, "invalid_session")
}

// A password change kills open auth sessions, unredeemed codes and redeemed codes'
// auth_sessions; so does a disable.
func TestPasswordChangeKillsChallenges(t *testing.T) {
	w := newFPWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	w.mustUser("a", "bob", testkit.AlicePassword)
	open := wantInsufficient(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	code := wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("bob", testkit.AlicePassword)))
	redeemed := wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("bob", testkit.AlicePassword)))
	tok := w.redeem(w.fp, redeemed, "").JSON(t)
	w.mustUser("a", "carol", testkit.AlicePassword)
	carols := w.redeem(w.fp, wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("carol", testkit.AlicePassword))), "").JSON(t)
	ctx := context.Background()
	if _, err := w.svc.UpdateUser(ctx, w.cli, "a", "carol", func(u *db.User) { u.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "a disabled user's auth_session", w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {carols["auth_session"].(string)}}), http.StatusBadRequest, "invalid_session")
	for _, u := range []string{"alice", "bob"} {
		if err := w.svc.SetPassword(ctx, w.cli, "a", u, "a brand new passphrase"); err != nil {
			t.Fatal(err)
		}
	}
	wantStatus(t, "open auth_session", w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {open}, "otp": {w.code(secret, 0)}}), http.StatusBadRequest, "invalid_session")
	wantStatus(t, "unredeemed code", w.redeem(w.fp, code, ""), http.StatusBadRequest, "invalid_grant")
	wantStatus(t, "redeemed code's auth_session", w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {tok["auth_session"].(string)}, "acr_values": {"mfa"}}), http.StatusBadRequest, "invalid_session")
}

// Under policy required a user without a factor enrols with the auth_session, as with an
// mfa_token; the confirmation ends in an authorization code bound to the PKCE challenge.
func TestChallengeEnrolment(t *testing.T) {
	w := newFPWorld(t, service.MFARequired)
	v, ch := newPKCE(t)
	r := w.as(w.spa, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword, "code_challenge", ch,
		"code_challenge_method", "S256"))
	as := wantInsufficient(t, r)
	if r.JSON(t)["enrollment_required"] != true {
		t.Fatalf("answer %s", r.Body)
	}
	_, conf := w.enrolAnswer(as)
	code, _ := conf["authorization_code"].(string)
	if conf["access_token"] != nil || code == "" {
		t.Fatalf("confirmation %v", conf)
	}
	wantStatus(t, "no verifier", w.redeem(w.spa, code, ""), http.StatusBadRequest, "invalid_grant")
	r = w.redeem(w.spa, code, v)
	wantStatus(t, "redeem", r, http.StatusOK, "")
	if in := w.introspect(w.rs, r.JSON(t)["access_token"].(string)); !cmp.Equal(in["amr"], []any{"pwd", "otp"}) {
		t.Fatalf("introspection %v", in)
	}
}

// The README's Go client: golang.org/x/oauth2 redeems the code with its PKCE verifier
// (no redirect_uri) and reads auth_session from the token response.
func TestOAuth2LibraryCodeExchange(t *testing.T) {
	w := newFPWorld(t, service.MFAOff)
	verifier := oauth2.GenerateVerifier()
	r := w.as(w.spa, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword,
		"code_challenge", oauth2.S256ChallengeFromVerifier(verifier), "code_challenge_method", "S256"))
	code := wantCode(t, r)
	cfg := oauth2.Config{ClientID: w.spa.ID,
		Endpoint: oauth2.Endpoint{TokenURL: w.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, w.srv.Client())
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("auth_session") == nil {
		t.Fatalf("token %+v", tok)
	}
	if in := w.introspect(w.rs, tok.AccessToken); in["active"] != true || in["client_id"] != w.spa.ID {
		t.Fatalf("introspection %v", in)
	}
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("second exchange: %v", err)
	}
}
