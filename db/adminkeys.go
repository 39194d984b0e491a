package db

// admin_keys belongs to the deployment rather than to one tenant: a global key has no
// tenant at all. Listing every key (for the CLI) and looking one up by its hash
// (AdminKeyByHash in global.go) cross tenants on purpose; everything else names the key.

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AdminKey describes an admin key, never its value: only SHA-256 of the key is stored.
// TenantID is nil for a global key.
type AdminKey struct {
	ID         uuid.UUID
	TenantID   *uuid.UUID
	TenantSlug string // "" for a global key
	Name       string
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// adminKeyColumns are read from admin_keys k LEFT JOIN tenants tn.
const adminKeyColumns = `k.id, k.tenant_id, COALESCE(tn.slug, ''), k.name, k.created_at, k.revoked_at`

func scanAdminKey(row pgx.Row) (AdminKey, error) {
	var k AdminKey
	err := row.Scan(&k.ID, &k.TenantID, &k.TenantSlug, &k.Name, &k.CreatedAt, &k.RevokedAt)
	return k, err
}

const createAdminKey = `WITH k AS (
	INSERT INTO admin_keys (id, hash, tenant_id, name, created_at) VALUES ($1, $2, $3, $4, $5)
	RETURNING id, tenant_id, name, created_at, revoked_at
)
SELECT ` + adminKeyColumns + ` FROM k LEFT JOIN tenants tn ON tn.id = k.tenant_id`

// Replacing revokes the live keys of the same scope and name (IS NOT DISTINCT FROM: a
// global key's tenant_id is NULL).
const revokeNamedAdminKeys = `UPDATE admin_keys SET revoked_at = $3
WHERE tenant_id IS NOT DISTINCT FROM $1 AND name = $2 AND revoked_at IS NULL RETURNING id`

// CreateAdminKey stores a new key (its SHA-256 hash, its tenant or nil for a global key,
// its name) and ev in one transaction. When replace is set, every live key with the same
// tenant and name is revoked in that transaction first, and their ids are added to ev's
// detail as "replaced". It returns ErrConflict for a hash already stored.
func (s *Store) CreateAdminKey(ctx context.Context, tenant *uuid.UUID, name string, hash []byte, replace bool, ev Event) (AdminKey, error) {
	var out AdminKey
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if replace {
			rows, err := tx.Query(ctx, revokeNamedAdminKeys, tenant, name, ev.At)
			if err != nil {
				return translate("replace admin keys", err)
			}
			ids, err := collect(rows, func(r pgx.Row) (string, error) {
				var id uuid.UUID
				err := r.Scan(&id)
				return id.String(), err
			}, "replace admin keys")
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				ev.Detail = withDetail(ev.Detail, "replaced", ids)
			}
		}
		var err error
		out, err = scanAdminKey(tx.QueryRow(ctx, createAdminKey, uuid.New(), hash, tenant, name, ev.At))
		if err != nil {
			return translate("create admin key", err)
		}
		ev.TenantID = out.TenantID
		ev.SubjectType, ev.SubjectID, ev.SubjectName = "admin_key", out.ID.String(), out.Name
		return writeEvent(ctx, tx, ev)
	})
	return out, err
}

func withDetail(d map[string]any, key string, v any) map[string]any {
	if d == nil {
		d = map[string]any{}
	}
	d[key] = v
	return d
}

const listAdminKeys = `SELECT ` + adminKeyColumns + ` FROM admin_keys k LEFT JOIN tenants tn ON tn.id = k.tenant_id
ORDER BY k.created_at, k.id`

// ListAdminKeys returns every admin key, live and revoked, oldest first.
func (s *Store) ListAdminKeys(ctx context.Context) ([]AdminKey, error) {
	rows, err := s.pool.Query(ctx, listAdminKeys)
	if err != nil {
		return nil, translate("list admin keys", err)
	}
	return collect(rows, scanAdminKey, "list admin keys")
}

const revokeAdminKey = `WITH k AS (
	UPDATE admin_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
	RETURNING id, tenant_id, name, created_at, revoked_at
)
SELECT ` + adminKeyColumns + ` FROM k LEFT JOIN tenants tn ON tn.id = k.tenant_id`

// RevokeAdminKey revokes the key and writes ev (in the key's tenant's stream, or the global
// stream for a global key) in one transaction. It returns ErrNotFound when no live key has
// that id.
func (s *Store) RevokeAdminKey(ctx context.Context, id uuid.UUID, ev Event) (AdminKey, error) {
	var out AdminKey
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = scanAdminKey(tx.QueryRow(ctx, revokeAdminKey, id, ev.At)); err != nil {
			return translate("revoke admin key", err)
		}
		ev.TenantID = out.TenantID
		ev.SubjectType, ev.SubjectID, ev.SubjectName = "admin_key", out.ID.String(), out.Name
		return writeEvent(ctx, tx, ev)
	})
	return out, err
}
