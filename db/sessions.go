package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Session is one password-grant login and the family of tokens descended from it.
type Session struct {
	TenantID        uuid.UUID
	ID              uuid.UUID
	ClientID        string
	UserID          uuid.UUID
	Scope           string
	CreatedAt       time.Time
	LastRefreshedAt *time.Time
	ExpiresAt       time.Time
	RevokedAt       *time.Time
}

const sessionColumns = `s.tenant_id, s.id, s.client_id, s.user_id, s.scope, s.created_at,
	s.last_refreshed_at, s.expires_at, s.revoked_at`

func scanSession(row pgx.Row) (Session, error) {
	var s Session
	err := row.Scan(&s.TenantID, &s.ID, &s.ClientID, &s.UserID, &s.Scope, &s.CreatedAt,
		&s.LastRefreshedAt, &s.ExpiresAt, &s.RevokedAt)
	return s, err
}

const sessionByID = `SELECT ` + sessionColumns + ` FROM sessions s WHERE s.tenant_id = $1 AND s.id = $2`

// Session returns the tenant's session, or ErrNotFound.
func (s *Store) Session(ctx context.Context, tenant, id uuid.UUID) (Session, error) {
	out, err := scanSession(s.pool.QueryRow(ctx, sessionByID, tenant, id))
	return out, translate("session", err)
}

const userSessions = `SELECT ` + sessionColumns + ` FROM sessions s
JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
JOIN clients c ON c.tenant_id = s.tenant_id AND c.id = s.client_id
JOIN tenants tn ON tn.id = s.tenant_id
WHERE s.tenant_id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3
  AND EXISTS (SELECT 1 FROM tokens t WHERE t.tenant_id = s.tenant_id AND t.session_id = s.id
              AND t.revoked_at IS NULL AND t.expires_at > $3 AND (t.kind = 'a' OR t.used_at IS NULL)
              AND t.user_epoch = u.epoch AND t.client_epoch = c.epoch AND t.tenant_epoch = tn.epoch)
ORDER BY s.created_at DESC`

// UserSessions returns the user's live sessions at now: not revoked, not past their
// lifetime, and with at least one live token under the current epochs.
func (s *Store) UserSessions(ctx context.Context, tenant, user uuid.UUID, now time.Time) ([]Session, error) {
	rows, err := s.pool.Query(ctx, userSessions, tenant, user, now)
	if err != nil {
		return nil, translate("user sessions", err)
	}
	return collect(rows, scanSession, "user sessions")
}
