package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// A sealed TOTP secret copied to another user's row does not open (the user and tenant
// ids are its associated data): neither user's code completes the other's login.
func TestMovedTOTPSecretDoesNotOpen(t *testing.T) {
	w := newMFAWorld(t, service.MFAOptional)
	const carolPassword = "carol's password, long enough"
	w.mustUser("a", "carol", carolPassword)
	_, _ = w.enrol("alice", testkit.AlicePassword)
	carolSecret, _ := w.enrol("carol", carolPassword)
	if _, err := w.pool.Exec(context.Background(), `UPDATE mfa_totp a SET key_id = c.key_id, secret = c.secret
		FROM mfa_totp c WHERE a.user_id = $1 AND c.user_id <> a.user_id`, w.alice.ID); err != nil {
		t.Fatal(err)
	}
	mt := w.mfaToken(w.app, "alice", testkit.AlicePassword)
	r := w.otpGrant(w.app, grantOTP, mt, w.code(carolSecret, 0))
	if r.Status == http.StatusOK {
		t.Fatalf("carol's secret, moved to alice, opened: %s", r.Body)
	}
}
