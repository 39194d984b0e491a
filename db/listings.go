package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Paged listings of tenants and clients for the admin API (ListClients returns every
// client at once, for jeton dev).

// listTenantsPage bounds the slug from below as well, so the slug index is walked from
// the prefix on (starts_with alone would scan).
const listTenantsPage = `SELECT ` + tenantColumns + ` FROM tenants t
WHERE t.deleted_at IS NULL AND t.slug >= $1 AND starts_with(t.slug, $1) AND t.slug > $2
ORDER BY t.slug LIMIT $3`

// ListTenantsPage returns up to limit live tenants whose slug starts with prefix and
// sorts after the slug after, by slug. Tenants are global: see global.go.
func (s *Store) ListTenantsPage(ctx context.Context, prefix, after string, limit int) ([]Tenant, error) {
	rows, err := s.pool.Query(ctx, listTenantsPage, prefix, after, limit)
	if err != nil {
		return nil, translate("list tenants", err)
	}
	return collect(rows, scanTenant, "list tenants")
}

// ClientCursor is the position of the last client of a page: clients list oldest first.
type ClientCursor struct {
	CreatedAt time.Time
	ID        string
}

// listClientsPage matches search against the name (case-insensitive, anywhere) or the
// whole client_id; an empty search matches every client.
const listClientsPage = `SELECT ` + clientColumns + ` FROM clients c
WHERE c.tenant_id = $1
  AND ($2 = '' OR strpos(lower(c.name), lower($2)) > 0 OR c.id = $2)
  AND ($3::timestamptz IS NULL OR (c.created_at, c.id) > ($3, $4::text))
ORDER BY c.created_at, c.id LIMIT $5`

// ListClientsPage returns up to limit of the tenant's clients matching search, oldest
// first, after the cursor when it is not nil.
func (s *Store) ListClientsPage(ctx context.Context, tenant uuid.UUID, search string, after *ClientCursor, limit int) ([]Client, error) {
	var at *time.Time
	var id string
	if after != nil {
		at, id = &after.CreatedAt, after.ID
	}
	rows, err := s.pool.Query(ctx, listClientsPage, tenant, search, at, id, limit)
	if err != nil {
		return nil, translate("list clients", err)
	}
	return collect(rows, scanClient, "list clients")
}
