package db_test

import (
	"context"
	"testing"
	"time"
)

// Codes that expired before the cut-off go; a younger one stays (the sweeper keeps codes a
// day past expiry for reuse detection, so its cut-off is a day back).
func TestSweepAuthCodes(t *testing.T) {
	w := newWorld(t, newFixture(t))
	young, _ := codeOfA(t, w) // expires a minute after isoNow
	ctx := context.Background()
	old := randomHash(t)
	if _, err := w.pool.Exec(ctx, `INSERT INTO authorization_codes (hash, tenant_id, client_id, user_id, user_epoch, scope,
		amr, ip, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, 1, '', '{pwd}', '', $5, $6, $5)`,
		old, w.b.ID, w.bClient.ID, w.bUser.ID, t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := w.store.SweepAuthCodes(ctx, isoNow.Add(30*time.Second), 100); err != nil || n != 1 {
		t.Fatalf("sweep authorization codes: %d, %v", n, err)
	}
	var left int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM authorization_codes WHERE hash = $1`, young).Scan(&left); err != nil || left != 1 {
		t.Fatalf("the younger code: %d, %v", left, err)
	}
}
