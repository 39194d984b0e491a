package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ExportUser is a user as an export writes it: with its password hash as stored and the
// external id an import gave it.
type ExportUser struct {
	ID           uuid.UUID
	Username     string
	PasswordHash string
	Disabled     bool
	Scopes       []string
	ExternalID   *string
	CreatedAt    time.Time
}

const exportUsers = `SELECT u.id, u.username, u.password_hash, u.disabled, u.scopes, u.external_id, u.created_at
FROM users u WHERE u.tenant_id = $1 AND u.username > $2 ORDER BY u.username LIMIT $3`

// ExportUsers returns up to limit users of the tenant whose username sorts after after,
// in username order. It returns the database's error.
func (s *Store) ExportUsers(ctx context.Context, tenant uuid.UUID, after string, limit int) ([]ExportUser, error) {
	rows, err := s.pool.Query(ctx, exportUsers, tenant, after, limit)
	if err != nil {
		return nil, translate("export users", err)
	}
	return collect(rows, func(r pgx.Row) (ExportUser, error) {
		var u ExportUser
		err := r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Disabled, &u.Scopes, &u.ExternalID, &u.CreatedAt)
		return u, err
	}, "export users")
}
