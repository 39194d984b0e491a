package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// LegacyLogin is a tenant's lazy migration hook.
type LegacyLogin struct {
	URL    string
	Secret string
}

const legacyLogin = `SELECT l.url, l.secret FROM legacy_logins l WHERE l.tenant_id = $1`

// LegacyLogin returns the tenant's legacy-login hook, or ErrNotFound when it has none.
func (s *Store) LegacyLogin(ctx context.Context, tenant uuid.UUID) (LegacyLogin, error) {
	var l LegacyLogin
	err := s.pool.QueryRow(ctx, legacyLogin, tenant).Scan(&l.URL, &l.Secret)
	return l, translate("legacy login", err)
}

const (
	setLegacyLogin = `INSERT INTO legacy_logins AS l (tenant_id, url, secret, created_at, updated_at)
SELECT t.id, $2, $3, $4, $4 FROM tenants t WHERE t.id = $1 AND t.deleted_at IS NULL
ON CONFLICT (tenant_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, updated_at = EXCLUDED.updated_at`
	deleteLegacyLogin = `DELETE FROM legacy_logins WHERE tenant_id = $1`
)

// SetLegacyLogin sets the tenant's hook (nil: turns it off) and writes ev, in one
// transaction. It returns ErrNotFound for a tenant that is not live.
func (s *Store) SetLegacyLogin(ctx context.Context, tenant uuid.UUID, l *LegacyLogin, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if l == nil { // turning off what is off is no error
			if _, err := tx.Exec(ctx, deleteLegacyLogin, tenant); err != nil {
				return translate("set legacy login", err)
			}
			return writeEvent(ctx, tx, ev)
		}
		tag, err := tx.Exec(ctx, setLegacyLogin, tenant, l.URL, l.Secret, ev.At)
		if err != nil {
			return translate("set legacy login", err)
		}
		if tag.RowsAffected() == 0 {
			return translate("set legacy login", pgx.ErrNoRows)
		}
		return writeEvent(ctx, tx, ev)
	})
}
