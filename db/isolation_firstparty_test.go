package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
)

// codeOfA gives A's user an unused authorization code and returns its hash and a check
// that A's codes, auth sessions and challenge sessions did not change.
func codeOfA(t *testing.T, w *world) (codeHash []byte, unchanged func()) {
	t.Helper()
	codeHash = randomHash(t)
	_, err := w.pool.Exec(context.Background(), `INSERT INTO authorization_codes (hash, tenant_id, client_id, user_id,
		user_epoch, scope, amr, ip, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 'read', '{pwd}', '', $6, $7)`,
		codeHash, w.a.ID, w.client.ID, w.user.ID, w.user.Epoch, t0, isoNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	rows := func() []string {
		var out []string
		r, err := w.pool.Query(context.Background(), `SELECT to_jsonb(x)::text FROM authorization_codes x WHERE x.tenant_id = $1
			UNION ALL SELECT to_jsonb(x)::text FROM auth_sessions x WHERE x.tenant_id = $1
			UNION ALL SELECT to_jsonb(c)::text FROM challenge_sessions c JOIN mfa_tokens m USING (hash) WHERE m.tenant_id = $1
			ORDER BY 1`, w.a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	before := rows()
	return codeHash, func() {
		t.Helper()
		if diff := cmp.Diff(before, rows()); diff != "" {
			t.Errorf("A's codes changed (-before +after):\n%s", diff)
		}
	}
}

// The first-party methods' isolation cases: as B, with A's client and user.
var isolationFirstParty = []isolationCase{
	{name: "CreateChallengeSession", act: func(t *testing.T, w *world) {
		_, unchanged := codeOfA(t, w)
		defer unchanged()
		err := w.store.CreateChallengeSession(context.Background(), db.MFAToken{Hash: randomHash(t), TenantID: w.b.ID,
			ClientID: w.client.ID, UserID: w.user.ID, UserEpoch: w.user.Epoch, CreatedAt: isoNow, ExpiresAt: isoNow.Add(time.Minute)},
			db.ChallengeSession{}, nil, evIn(w.b.ID, "mfa_challenged"))
		if err == nil {
			t.Error("CreateChallengeSession as B for A's client and user succeeded")
		}
	}},
	{name: "IssueCode", act: func(t *testing.T, w *world) {
		_, unchanged := codeOfA(t, w)
		defer unchanged()
		err := w.store.IssueCode(context.Background(), bCode(t, w), db.LoginCounters{TenantID: w.b.ID, Username: w.user.Username, IP: w.counters.IP})
		wantStale(t, "IssueCode", err)
	}},
	{name: "IssueStepUpCode", act: func(t *testing.T, w *world) {
		_, unchanged := codeOfA(t, w)
		defer unchanged()
		wantStale(t, "IssueStepUpCode", w.store.IssueStepUpCode(context.Background(), bCode(t, w)))
	}},
	{name: "RedeemCode", act: func(t *testing.T, w *world) {
		h, unchanged := codeOfA(t, w)
		defer unchanged()
		l := db.Login{TenantID: w.b.ID, ClientID: w.client.ID, UserID: w.user.ID, SessionID: uuid.New(), Scope: "read",
			Now: isoNow, SessionExpiresAt: isoNow.Add(time.Hour), Epochs: db.Epochs{Tenant: w.b.Epoch, Client: w.client.Epoch, User: &w.user.Epoch},
			Access: w.newToken(isoNow.Add(time.Minute)), Event: evIn(w.b.ID, "login_success")}
		err := w.store.RedeemCode(context.Background(), db.Redemption{CodeHash: h, Login: l, AMR: []string{"pwd"},
			AuthSessionHash: randomHash(t)})
		wantStale(t, "RedeemCode", err)
	}},
}

// bCode is a code claimed by tenant B for A's client and user.
func bCode(t *testing.T, w *world) db.AuthCode {
	return db.AuthCode{Hash: randomHash(t), TenantID: w.b.ID, ClientID: w.client.ID, UserID: w.user.ID,
		UserEpoch: w.user.Epoch, Scope: "read", AMR: []string{"pwd"}, CreatedAt: isoNow, ExpiresAt: isoNow.Add(time.Minute)}
}
