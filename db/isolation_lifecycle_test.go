package db_test

import (
	"context"
	"testing"

	"github.com/jeton-auth/jeton/db"
)

// resetHash is tenant A's live reset token, written by lifecycleRows.
var resetHash = make([]byte, 32)

// lifecycleRows gives tenant A a previous password, a live reset token and a forbidden
// word, written directly so that A's tokens stay live.
func (w *world) lifecycleRows() {
	w.t.Helper()
	ctx := context.Background()
	a, u := w.a.ID, w.user.ID
	copy(resetHash, randomHash(w.t))
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO password_history (tenant_id, user_id, hash, created_at) VALUES ($1, $2, 'old-hash', $3)`, []any{a, u, t0}},
		{`INSERT INTO password_resets (hash, tenant_id, user_id, user_epoch, created_at, expires_at)
			VALUES ($4, $1, $2, $5, $3::timestamptz, $3::timestamptz + interval '1 day')`, []any{a, u, t0, resetHash, w.user.Epoch}},
		{`INSERT INTO forbidden_passwords (tenant_id, word) VALUES ($1, 'acme')`, []any{a}},
		{`INSERT INTO login_throttles (tenant_id, kind, username, ip, failures, refused, expires_at)
			VALUES ($1, 'u', 'reset token x', '', 3, 0, $2::timestamptz + interval '1 day')`, []any{a, t0}},
	} {
		if _, err := w.pool.Exec(ctx, q.sql, q.args...); err != nil {
			w.t.Fatal(err)
		}
	}
}

// isolationLifecycle are the password lifecycle's cases.
var isolationLifecycle = []isolationCase{
	{name: "PreviousPasswords", act: func(t *testing.T, w *world) {
		if got, err := w.store.PreviousPasswords(context.Background(), w.b.ID, w.user.ID, 5); err != nil || len(got) != 0 {
			t.Errorf("PreviousPasswords as B: %v, %v", got, err)
		}
	}},
	{name: "ChangePassword", act: func(t *testing.T, w *world) {
		_, err := w.store.ChangePassword(context.Background(), w.b.ID, w.user.ID, "new", 3, evIn(w.b.ID, "user_password_set"))
		wantNotFound(t, "ChangePassword", err)
	}},
	{name: "RequirePasswordChange", act: func(t *testing.T, w *world) {
		_, err := w.store.RequirePasswordChange(context.Background(), w.b.ID, w.user.ID, "admin", evIn(w.b.ID, "x"))
		wantNotFound(t, "RequirePasswordChange", err)
	}},
	// B's request for A's user is an unknown user's: its event, no token.
	{name: "CreateReset", bWrites: true, act: func(t *testing.T, w *world) {
		for _, r := range []db.ResetRequest{{Username: w.user.Username}, {UserID: &w.user.ID, Username: w.user.Username}} {
			r.Tenant, r.Hash, r.At, r.ExpiresAt = w.b.ID, randomHash(t), isoNow, isoNow.Add(3600e9)
			if found, err := w.store.CreateReset(context.Background(), r, evIn(w.b.ID, "password_reset_requested")); err != nil || found != nil {
				t.Errorf("CreateReset as B: %v, %v", found, err)
			}
		}
	}},
	{name: "RedeemReset", act: func(t *testing.T, w *world) {
		u := w.user
		u.TenantID = w.b.ID
		_, err := w.store.RedeemReset(context.Background(), resetHash, u, "new", 0, evIn(w.b.ID, "user_password_reset"))
		wantNotFound(t, "RedeemReset", err)
	}},
	{name: "UserThrottles", act: func(t *testing.T, w *world) {
		st, err := w.store.UserThrottles(context.Background(), w.b.ID, w.user.ID, w.user.Username, isoNow)
		if err != nil || len(st.Counters) != 0 || len(st.Known) != 0 {
			t.Errorf("UserThrottles as B: %+v, %v", st, err)
		}
	}},
	// B clears what B has under A's username and id: nothing; the event is B's.
	{name: "ClearUserThrottles", bWrites: true, act: func(t *testing.T, w *world) {
		u := w.user
		u.TenantID = w.b.ID
		if err := w.store.ClearUserThrottles(context.Background(), u, evIn(w.b.ID, "user_throttles_cleared")); err != nil {
			t.Error(err)
		}
	}},
	{name: "ForbiddenIn", act: func(t *testing.T, w *world) {
		if got, err := w.store.ForbiddenIn(context.Background(), w.b.ID, "my acme password"); err != nil || got != "" {
			t.Errorf("ForbiddenIn as B: %q, %v", got, err)
		}
	}},
	{name: "ForbiddenWords", act: func(t *testing.T, w *world) {
		if got, err := w.store.ForbiddenWords(context.Background(), w.b.ID); err != nil || len(got) != 0 {
			t.Errorf("ForbiddenWords as B: %v, %v", got, err)
		}
	}},
	{name: "ResetFailures", act: func(t *testing.T, w *world) {
		if n, _, err := w.store.ResetFailures(context.Background(), db.ResetCounter{Tenant: &w.b.ID, Name: "reset token x"}, isoNow); err != nil || n != 0 {
			t.Errorf("ResetFailures as B: %d, %v", n, err)
		}
	}},
	{name: "CountResetFailure", bWrites: true, act: func(t *testing.T, w *world) {
		c := db.ResetCounter{Tenant: &w.b.ID, Name: "reset token x"}
		if err := w.store.CountResetFailure(context.Background(), c, isoNow, isoNow.Add(3600e9)); err != nil {
			t.Error(err)
		}
	}},
	{name: "SessionLogins", act: func(t *testing.T, w *world) {
		got, err := w.store.SessionLogins(context.Background(), w.b.ID, w.user.ID, []string{w.session.String()})
		if err != nil || len(got) != 0 {
			t.Errorf("SessionLogins as B: %v, %v", got, err)
		}
	}},
	{name: "SetForbiddenWords", bWrites: true, act: func(t *testing.T, w *world) {
		if err := w.store.SetForbiddenWords(context.Background(), w.b.ID, []string{"other"}, evIn(w.b.ID, "x")); err != nil {
			t.Error(err)
		}
	}},
}
