package db

import (
	"context"
	"time"
)

const sweepMFATokens = `DELETE FROM mfa_tokens d
WHERE d.ctid = ANY (ARRAY(SELECT m.ctid FROM mfa_tokens m WHERE m.expires_at < $1 ORDER BY m.expires_at LIMIT $2))
  AND d.expires_at < $1`

// SweepMFATokens deletes up to n mfa_tokens that expired before now (used or not) and
// returns how many it deleted, or the database's error.
func (s *Store) SweepMFATokens(ctx context.Context, now time.Time, n int) (int64, error) {
	return s.sweep(ctx, "sweep mfa tokens", sweepMFATokens, now, n)
}

const sweepMFAFailures = `DELETE FROM mfa_failures d
WHERE (d.tenant_id, d.user_id) IN (
	SELECT f.tenant_id, f.user_id FROM mfa_failures f WHERE f.expires_at < $1 LIMIT $2)
  AND d.expires_at < $1`

// SweepMFAFailures deletes up to n wrong-code counters whose window ended before now and
// returns how many it deleted, or the database's error.
func (s *Store) SweepMFAFailures(ctx context.Context, now time.Time, n int) (int64, error) {
	return s.sweep(ctx, "sweep mfa failures", sweepMFAFailures, now, n)
}
