package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
)

// The second-factor methods' isolation cases. A's factor rows are written in SQL before
// each case (so the harness's tables stay as it made them) and compared after it.

var mfaTables = []string{"mfa_totp", "mfa_recovery_codes", "mfa_failures", "mfa_tokens"}

// mfaOfA gives A's user a TOTP factor at step 10, a recovery code, a failure and an
// mfa_token, and returns the token's hash and a check that none of them changed.
func mfaOfA(t *testing.T, w *world) (tokenHash []byte, unchanged func()) {
	t.Helper()
	ctx := context.Background()
	a, u := w.a.ID, w.user.ID
	tokenHash = randomHash(t)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO mfa_totp (tenant_id, user_id, key_id, secret, confirmed_at, last_step, created_at)
			VALUES ($1, $2, 'k1', '\x00', $3, 10, $3)`, []any{a, u, t0}},
		{`INSERT INTO mfa_recovery_codes (tenant_id, user_id, salt, hash) VALUES ($1, $2, '\x01', $3)`, []any{a, u, randomHash(t)}},
		{`INSERT INTO mfa_failures (tenant_id, user_id, failures, expires_at) VALUES ($1, $2, 3, $3)`, []any{a, u, isoNow.Add(time.Hour)}},
		{`INSERT INTO mfa_tokens (hash, tenant_id, client_id, user_id, user_epoch, scope, ip, enrollment, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, 'read', '192.0.2.10', false, $6, $7)`,
			[]any{tokenHash, a, w.client.ID, u, w.user.Epoch, t0, isoNow.Add(time.Hour)}},
	} {
		if _, err := w.pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	before := w.mfaRows(t)
	return tokenHash, func() {
		t.Helper()
		if diff := cmp.Diff(before, w.mfaRows(t)); diff != "" {
			t.Errorf("A's factor rows changed (-before +after):\n%s", diff)
		}
	}
}

func (w *world) mfaRows(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range mfaTables {
		rows, err := w.pool.Query(context.Background(), `SELECT to_jsonb(x)::text FROM `+table+` x WHERE x.tenant_id = $1 ORDER BY 1`, w.a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		rows.Close()
	}
	return out
}

var isolationMFA = []isolationCase{
	{name: "UserMFA", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		st, err := w.store.UserMFA(context.Background(), w.b.ID, w.user.ID)
		if err != nil || st != (db.MFAState{}) {
			t.Errorf("UserMFA as B: %+v, %v; want nothing", st, err)
		}
	}},
	{name: "UsersMFA", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		m, err := w.store.UsersMFA(context.Background(), w.b.ID, []uuid.UUID{w.user.ID})
		if err != nil || m[w.user.ID] != (db.MFAState{}) {
			t.Errorf("UsersMFA as B: %+v, %v; want nothing", m, err)
		}
	}},
	{name: "TOTP", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		_, err := w.store.TOTP(context.Background(), w.b.ID, w.user.ID)
		wantNotFound(t, "TOTP", err)
	}},
	{name: "RecoverySalt", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		_, err := w.store.RecoverySalt(context.Background(), w.b.ID, w.user.ID)
		wantNotFound(t, "RecoverySalt", err)
	}},
	// The writes name A's user in B: the foreign keys or the conditions refuse them.
	{name: "PutPendingTOTP", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		err := w.store.PutPendingTOTP(context.Background(), db.TOTPFactor{TenantID: w.b.ID, UserID: w.user.ID, KeyID: "k1", Secret: []byte{2}}, isoNow)
		if err == nil {
			t.Error("PutPendingTOTP as B for A's user succeeded")
		}
	}},
	{name: "UseTOTPAndReplaceCodes", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		err := w.store.UseTOTPAndReplaceCodes(context.Background(), db.TOTPUse{TenantID: w.b.ID, UserID: w.user.ID, Step: 99},
			db.RecoveryCodes{Salt: []byte{1}, Hashes: [][]byte{randomHash(t)}}, evIn(w.b.ID, "recovery_codes_regenerated"), nil)
		if !errors.Is(err, db.ErrCodeUsed) {
			t.Errorf("UseTOTPAndReplaceCodes as B: %v, want ErrCodeUsed", err)
		}
	}},
	{name: "RemoveTOTP", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		err := w.store.RemoveTOTP(context.Background(), db.TOTPUse{TenantID: w.b.ID, UserID: w.user.ID, Step: 99}, evIn(w.b.ID, "mfa_removed"))
		if !errors.Is(err, db.ErrCodeUsed) {
			t.Errorf("RemoveTOTP as B: %v, want ErrCodeUsed", err)
		}
	}},
	{name: "ResetMFA", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		wantNotFound(t, "ResetMFA", w.store.ResetMFA(context.Background(), w.b.ID, w.user.ID, evIn(w.b.ID, "mfa_reset")))
	}},
	{name: "CountMFAAttempt", act: func(t *testing.T, w *world) {
		h, unchanged := mfaOfA(t, w)
		defer unchanged()
		_, err := w.store.CountMFAAttempt(context.Background(), db.MFAAttempt{TenantID: w.b.ID, UserID: w.user.ID,
			TokenHash: h, Limit: 10, Window: 15 * time.Minute, Now: isoNow})
		if err == nil {
			t.Error("CountMFAAttempt as B for A's user succeeded")
		}
	}},
	{name: "CreateMFAToken", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		err := w.store.CreateMFAToken(context.Background(), db.MFAToken{Hash: randomHash(t), TenantID: w.b.ID, ClientID: w.client.ID,
			UserID: w.user.ID, UserEpoch: w.user.Epoch, CreatedAt: isoNow, ExpiresAt: isoNow.Add(time.Minute)},
			db.LoginCounters{TenantID: w.b.ID, Username: w.user.Username, IP: w.counters.IP}, evIn(w.b.ID, "mfa_challenged"))
		if err == nil {
			t.Error("CreateMFAToken as B for A's client and user succeeded")
		}
	}},
	{name: "AttemptMFALogin", act: func(t *testing.T, w *world) {
		h, unchanged := mfaOfA(t, w)
		defer unchanged()
		l := db.Login{TenantID: w.b.ID, ClientID: w.client.ID, UserID: w.user.ID, SessionID: uuid.New(), Scope: "read",
			Now: isoNow, SessionExpiresAt: isoNow.Add(time.Hour), Epochs: db.Epochs{Tenant: w.b.Epoch, Client: w.client.Epoch, User: &w.user.Epoch},
			Access: w.newToken(isoNow.Add(time.Minute)), Event: evIn(w.b.ID, "login_success")}
		fail := evIn(w.b.ID, "mfa_failure")
		_, err := w.store.AttemptMFALogin(context.Background(), db.MFALoginAttempt{
			Attempt: db.MFAAttempt{TenantID: w.b.ID, UserID: w.user.ID, TokenHash: h, Limit: 10, Window: 15 * time.Minute, Now: isoNow},
			Completion: &db.MFACompletion{TokenHash: h, Login: l, AMR: []string{"pwd", "otp"},
				TOTPStep: 99, Username: w.user.Username, IP: w.counters.IP},
			Failure: &fail})
		wantStale(t, "AttemptMFALogin", err)
	}},
	{name: "ResealTOTP", act: func(t *testing.T, w *world) {
		_, unchanged := mfaOfA(t, w)
		defer unchanged()
		ok, err := w.store.ResealTOTP(context.Background(), db.TOTPFactor{TenantID: w.b.ID, UserID: w.user.ID, KeyID: "k1", Secret: []byte{0}}, "k2", []byte{3})
		if err != nil || ok {
			t.Errorf("ResealTOTP as B: %v, %v; want nothing done", ok, err)
		}
	}},
}
