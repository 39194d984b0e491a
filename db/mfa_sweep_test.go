package db_test

import (
	"context"
	"testing"
	"time"
)

// Expired mfa_tokens and wrong-code windows that ended go; live ones stay.
func TestSweepMFA(t *testing.T) {
	w := newWorld(t, newFixture(t))
	live, _ := mfaOfA(t, w) // a token and a failure window live past isoNow
	ctx := context.Background()
	old := randomHash(t)
	if _, err := w.pool.Exec(ctx, `INSERT INTO mfa_tokens (hash, tenant_id, client_id, user_id, user_epoch, scope, ip, enrollment, created_at, expires_at)
		VALUES ($1, $2, $3, $4, 1, '', '', false, $5, $6)`, old, w.b.ID, w.bClient.ID, w.bUser.ID, t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO mfa_failures (tenant_id, user_id, failures, expires_at) VALUES ($1, $2, 1, $3)`,
		w.b.ID, w.bUser.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := w.store.SweepMFATokens(ctx, isoNow.Add(time.Minute), 100); err != nil || n != 1 {
		t.Fatalf("sweep mfa tokens: %d, %v", n, err)
	}
	if n, err := w.store.SweepMFAFailures(ctx, isoNow.Add(time.Minute), 100); err != nil || n != 1 {
		t.Fatalf("sweep mfa failures: %d, %v", n, err)
	}
	var left int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM mfa_tokens WHERE hash = $1`, live).Scan(&left); err != nil || left != 1 {
		t.Fatalf("the live mfa_token: %d, %v", left, err)
	}
}
