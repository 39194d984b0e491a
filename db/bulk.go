package db

// Counting what a bulk revocation cut off. The revocation itself is the epoch bump
// (BumpUserEpoch, BumpClientEpoch, BumpTenantEpoch), committed before any of these runs,
// so a slow or failed count never holds back or rolls back a revocation.

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// liveAtBump keeps the tokens that were live at $3, the bump: unexpired, not revoked, not
// used (a refresh token), in a session not revoked. Tokens carrying the old epoch were all
// written before the bump committed, since issuing checks the epoch in the same statement.
const liveAtBump = `
  AND t.expires_at > $3 AND (t.revoked_at IS NULL OR t.revoked_at > $3)
  AND (t.kind = 'a' OR t.used_at IS NULL OR t.used_at > $3)
  AND (t.session_id IS NULL OR EXISTS (
	SELECT 1 FROM sessions s WHERE s.tenant_id = t.tenant_id AND s.id = t.session_id
	  AND (s.revoked_at IS NULL OR s.revoked_at > $3)))`

// Each query also requires the two other epochs to be current: a token an earlier bump
// had already cut off was not live.
const (
	countUserRevoked = `SELECT count(*) FROM tokens t
JOIN tenants tn ON tn.id = t.tenant_id
JOIN clients c ON c.tenant_id = t.tenant_id AND c.id = t.client_id
WHERE t.tenant_id = $1 AND t.user_id = $4 AND t.user_epoch = $2
  AND tn.epoch = t.tenant_epoch AND c.epoch = t.client_epoch` + liveAtBump

	countClientRevoked = `SELECT count(*) FROM tokens t
JOIN tenants tn ON tn.id = t.tenant_id
LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
WHERE t.tenant_id = $1 AND t.client_id = $4 AND t.client_epoch = $2
  AND tn.epoch = t.tenant_epoch AND (t.user_id IS NULL OR u.epoch = t.user_epoch)` + liveAtBump

	countTenantRevoked = `SELECT count(*) FROM tokens t
JOIN clients c ON c.tenant_id = t.tenant_id AND c.id = t.client_id
LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
WHERE t.tenant_id = $1 AND t.tenant_epoch = $2
  AND c.epoch = t.client_epoch AND (t.user_id IS NULL OR u.epoch = t.user_epoch)` + liveAtBump
)

// CountUserRevoked counts the user's tokens that carried epoch (the user's epoch before a
// bump at at) and were live at at.
func (s *Store) CountUserRevoked(ctx context.Context, tenant, user uuid.UUID, epoch int64, at time.Time) (int64, error) {
	return s.count(ctx, "count revoked user tokens", countUserRevoked, tenant, epoch, at, user)
}

// CountClientRevoked counts the client's tokens that carried epoch (the client's epoch
// before a bump at at) and were live at at.
func (s *Store) CountClientRevoked(ctx context.Context, tenant uuid.UUID, client string, epoch int64, at time.Time) (int64, error) {
	return s.count(ctx, "count revoked client tokens", countClientRevoked, tenant, epoch, at, client)
}

// CountTenantRevoked counts the tenant's tokens that carried epoch (the tenant's epoch
// before a bump at at) and were live at at.
func (s *Store) CountTenantRevoked(ctx context.Context, tenant uuid.UUID, epoch int64, at time.Time) (int64, error) {
	return s.count(ctx, "count revoked tenant tokens", countTenantRevoked, tenant, epoch, at)
}

func (s *Store) count(ctx context.Context, what, sql string, args ...any) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, sql, args...).Scan(&n)
	return n, translate(what, err)
}
