package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// The two-step flow: password, insufficient_authorization with an auth_session, the TOTP
// code, an authorization code, and at /token the tokens of a login with amr pwd+otp and a
// fresh auth_session; refresh works as for password logins.
func TestChallengeTwoStepTOTP(t *testing.T) {
	w := newFPWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	start := w.clock.Now()
	v, ch := newPKCE(t)
	as := wantInsufficient(t, w.as(w.spa, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword,
		"code_challenge", ch, "code_challenge_method", "S256", "scope", "read write")))
	if n := len(w.eventKinds("mfa_challenged")); n != 1 {
		t.Fatalf("%d mfa_challenged events", n)
	}
	// Asked again without a code: the same auth_session goes on.
	if again := wantInsufficient(t, w.as(w.spa, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}})); again != as {
		t.Fatalf("asked again: %s, want %s", again, as)
	}
	code := wantCode(t, w.as(w.spa, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}, "otp": {w.code(secret, 0)}}))
	r := w.redeem(w.spa, code, v)
	wantStatus(t, "redeem", r, http.StatusOK, "")
	wantNoStore(t, r)
	tok := r.JSON(t)
	if tok["scope"] != "read write" || !strings.HasPrefix(tok["auth_session"].(string), "jas_") ||
		tok["auth_session"] == as || tok["refresh_token"] == nil {
		t.Fatalf("token response %v", tok)
	}
	in := w.introspect(w.rs, tok["access_token"].(string))
	if diff := cmp.Diff([]any{"pwd", "otp"}, in["amr"]); diff != "" || in["acr"] != "mfa" || in["auth_time"] != float64(start.Unix()) {
		t.Fatalf("introspection %v", in)
	}
	w.clock.Advance(time.Minute)
	ref := w.as(w.spa, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}})
	wantStatus(t, "refresh", ref, http.StatusOK, "")
	if in := w.introspect(w.rs, ref.JSON(t)["access_token"].(string)); in["sid"] == nil || in["sid"] != w.introspect(w.rs, tok["access_token"].(string))["sid"] {
		t.Fatalf("refreshed token in another session: %v", in)
	}
	// The auth_session is completed: it opens nothing any more.
	wantStatus(t, "completed auth_session", w.as(w.spa, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}, "otp": {w.code(secret, 0)}}), http.StatusBadRequest, "invalid_session")
	if ev := w.eventKinds("login_success"); len(ev) != 2 { // enrol's login, then this one
		t.Fatalf("%d login_success events", len(ev))
	}
}

// The one-step flow: a user without a factor gets a code at once; a confidential client
// need not use PKCE.
func TestChallengeOneStep(t *testing.T) {
	w := newFPWorld(t, service.MFAOptional)
	code := wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	r := w.redeem(w.fp, code, "")
	wantToken(t, r, "read")
	in := w.introspect(w.rs, r.JSON(t)["access_token"].(string))
	if diff := cmp.Diff([]any{"pwd"}, in["amr"]); diff != "" || in["username"] != "alice" {
		t.Fatalf("introspection %v", in)
	}
	// A verifier for a code issued without a challenge is wrong too.
	code = wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	v, _ := newPKCE(t)
	wantStatus(t, "unexpected verifier", w.redeem(w.fp, code, v), http.StatusBadRequest, "invalid_grant")
}

// PKCE: required of public clients, S256 only; the verifier must match (RFC 7636
// Appendix B's example verifier and challenge).
func TestChallengePKCE(t *testing.T) {
	w := newFPWorld(t, service.MFAOff)
	const verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, tc := range []struct {
		name string
		kv   []string
	}{
		{"public client without a challenge", nil},
		{"challenge without a method (plain)", []string{"code_challenge", challenge}},
		{"plain", []string{"code_challenge", challenge, "code_challenge_method", "plain"}},
		{"method without a challenge", []string{"code_challenge_method", "S256"}},
		{"challenge too short", []string{"code_challenge", "abc", "code_challenge_method", "S256"}},
	} {
		r := w.as(w.spa, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword, tc.kv...))
		wantStatus(t, tc.name, r, http.StatusBadRequest, "invalid_request")
	}
	code := wantCode(t, w.as(w.spa, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword,
		"code_challenge", challenge, "code_challenge_method", "S256")))
	wantStatus(t, "no verifier", w.redeem(w.spa, code, ""), http.StatusBadRequest, "invalid_grant")
	wrong := strings.Replace(verifier, "d", "e", 1)
	wantStatus(t, "wrong verifier", w.redeem(w.spa, code, wrong), http.StatusBadRequest, "invalid_grant")
	wantToken(t, w.redeem(w.spa, code, verifier), "read")
	// A confidential client may use PKCE too, and must then send the verifier.
	code = wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword,
		"code_challenge", challenge, "code_challenge_method", "S256")))
	wantStatus(t, "confidential, no verifier", w.redeem(w.fp, code, ""), http.StatusBadRequest, "invalid_grant")
	wantToken(t, w.redeem(w.fp, code, verifier), "read")
}

// RFC 6749 §4.1.2: a code presented again fails and revokes what its first redemption
// issued.
func TestCodeReuseRevokesFirstRedemption(t *testing.T) {
	w := newFPWorld(t, service.MFAOff)
	code := wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	tok := w.redeem(w.fp, code, "").JSON(t)
	at := tok["access_token"].(string)
	if in := w.introspect(w.rs, at); in["active"] != true {
		t.Fatalf("first redemption's token %v", in)
	}
	r := w.redeem(w.fp, code, "")
	wantStatus(t, "second redemption", r, http.StatusBadRequest, "invalid_grant")
	if string(r.Body) != `{"error":"invalid_grant"}` {
		t.Errorf("body %s", r.Body)
	}
	if in := w.introspect(w.rs, at); in["active"] != false {
		t.Fatalf("first redemption's access token after the reuse: %v", in)
	}
	ref := w.as(w.fp, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}})
	wantStatus(t, "first redemption's refresh token", ref, http.StatusBadRequest, "invalid_grant")
	wantStatus(t, "its auth_session", w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {tok["auth_session"].(string)}, "acr_values": {"mfa"}}), http.StatusBadRequest, "invalid_session")
	ev := w.eventKinds("session_revoked")
	if len(ev) != 1 || ev[0]["detail"].(map[string]any)["reason"] != "authorization_code_reused" {
		t.Fatalf("session_revoked events %v", ev)
	}
}

// A code lives 60 seconds, an unfinished auth_session 10 minutes (the injected clock).
func TestChallengeExpiry(t *testing.T) {
	w := newFPWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	w.mustUser("a", "bob", testkit.AlicePassword)
	code := wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("bob", testkit.AlicePassword)))
	w.clock.Advance(59 * time.Second)
	fresh := wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("bob", testkit.AlicePassword)))
	w.clock.Advance(time.Second)
	wantStatus(t, "code at 60 s", w.redeem(w.fp, code, ""), http.StatusBadRequest, "invalid_grant")
	wantToken(t, w.redeem(w.fp, fresh, ""), "read")

	as := wantInsufficient(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	w.clock.Advance(10 * time.Minute)
	wantStatus(t, "auth_session at 10 min", w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}, "otp": {w.code(secret, 0)}}), http.StatusBadRequest, "invalid_session")
	as = wantInsufficient(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	w.clock.Advance(10*time.Minute - time.Second)
	wantCode(t, w.as(w.fp, "/authorize-challenge", url.Values{"response_type": {"code"},
		"auth_session": {as}, "otp": {w.code(secret, 0)}}))
}

// Concurrent redemptions of one code: one wins, and since the others are reuses its
// session ends revoked.
func TestConcurrentCodeRedemptions(t *testing.T) {
	w := newFPWorld(t, service.MFAOff)
	code := wantCode(t, w.as(w.fp, "/authorize-challenge", challengeForm("alice", testkit.AlicePassword)))
	const n = 6
	results := make(chan response, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- w.redeem(w.fp, code, "")
		}()
	}
	wg.Wait()
	close(results)
	var won []string
	for r := range results {
		switch r.Status {
		case http.StatusOK:
			won = append(won, r.JSON(t)["access_token"].(string))
		case http.StatusBadRequest:
			if string(r.Body) != `{"error":"invalid_grant"}` {
				t.Errorf("loser: %s", r.Body)
			}
		default:
			t.Errorf("redemption: %d %s", r.Status, r.Body)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d redemptions won", len(won))
	}
	if in := w.introspect(w.rs, won[0]); in["active"] != false {
		t.Fatalf("the winner's token after %d reuses: %v", n-1, in)
	}
}
