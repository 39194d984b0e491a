package api_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// concurrently runs f n times at once and returns the statuses of its answers.
func concurrently(n int, f func(i int) response) []response {
	out := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// Two OTP grants with the same mfa_token and a valid code at once: exactly one gets
// tokens.
func TestMFAConcurrentGrantsOneWins(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	code := w.code(secret, 0)
	rs := concurrently(4, func(int) response { return w.otpGrant(w.app, grantOTP, mt, code) })
	ok := 0
	for _, r := range rs {
		switch r.Status {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
			wantStatus(t, "loser", r, http.StatusBadRequest, "invalid_grant")
		default:
			t.Fatalf("concurrent grant: %d %s", r.Status, r.Body)
		}
	}
	if ok != 1 {
		t.Fatalf("%d grants got tokens, want exactly 1", ok)
	}
}

// Wrong codes sent at once on one mfa_token are checked at most 5 times: the limit is
// decided by the write that counts the attempt, not by a read before it.
func TestMFATokenLimitUnderConcurrency(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	wrong := wrongCode(w.code(secret, 0))
	for _, r := range concurrently(16, func(int) response { return w.otpGrant(w.app, grantOTP, mt, wrong) }) {
		wantStatus(t, "wrong code", r, http.StatusBadRequest, "invalid_grant")
	}
	if n := len(w.eventKinds("mfa_failure")); n > 5 {
		t.Fatalf("%d wrong codes checked on one mfa_token, want at most 5", n)
	}
}

// Wrong codes sent at once across mfa_tokens are checked at most the user's limit
// (tenant mfa_failure_limit) times; the others answer 429.
func TestMFAUserLimitUnderConcurrency(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	mts := make([]string, 4)
	for i := range mts {
		mts[i] = w.mfaToken(w.app, "alice", testkit.AlicePassword)
	}
	wrong := wrongCode(w.code(secret, 0))
	for _, r := range concurrently(20, func(i int) response { return w.otpGrant(w.app, grantOTP, mts[i%4], wrong) }) {
		if r.Status == http.StatusTooManyRequests {
			continue
		}
		wantStatus(t, "wrong code", r, http.StatusBadRequest, "invalid_grant")
	}
	if n := len(w.eventKinds("mfa_failure")); n > service.DefaultMFAFailureLimit {
		t.Fatalf("%d wrong codes checked for the user, want at most %d", n, service.DefaultMFAFailureLimit)
	}
}

// One recovery code sent at once with two mfa_tokens: exactly one login completes.
func TestRecoveryCodeOnceUnderConcurrency(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	_, codes := w.enrol("alice", testkit.AlicePassword)
	mts := []string{w.mfaToken(w.app, "alice", testkit.AlicePassword), w.mfaToken(w.app, "alice", testkit.AlicePassword)}
	ok := 0
	for _, r := range concurrently(2, func(i int) response {
		return w.post("/token", &w.app, url.Values{"grant_type": {grantRecovery}, "mfa_token": {mts[i]}, "recovery_code": {codes[0]}})
	}) {
		if r.Status == http.StatusOK {
			ok++
			continue
		}
		wantStatus(t, "loser", r, http.StatusBadRequest, "invalid_grant")
	}
	if ok != 1 {
		t.Fatalf("%d logins with one recovery code, want 1", ok)
	}
}

// Two confirmations at once with the same enrolment mfa_token and a valid code: exactly
// one completes the login.
func TestEnrolmentConfirmOnceUnderConcurrency(t *testing.T) {
	w := newMFAWorld(t, service.MFARequired)
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	r := w.account(mt, http.MethodPost, "/account/v1/mfa/totp", nil)
	wantStatus(t, "start", r, http.StatusCreated, "")
	code := w.code(r.JSON(t)["secret"].(string), 0)
	ok := 0
	for _, r := range concurrently(3, func(int) response {
		return w.account(mt, http.MethodPost, "/account/v1/mfa/totp/confirm", url.Values{"otp": {code}})
	}) {
		switch r.Status {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized, http.StatusBadRequest, http.StatusConflict:
		default:
			t.Fatalf("concurrent confirmation: %d %s", r.Status, r.Body)
		}
	}
	if ok != 1 {
		t.Fatalf("%d confirmations succeeded, want 1", ok)
	}
}
