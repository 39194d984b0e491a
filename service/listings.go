package service

import (
	"context"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
)

// TenantPage is one page of tenants by slug. NextCursor is "" on the last page.
type TenantPage struct {
	Items      []db.Tenant
	NextCursor string
}

// TenantsPage lists the live tenants whose slug starts with prefix, by slug, a page at a
// time (limit 0 is DefaultPageSize; cursor is a previous page's NextCursor).
func (s *Service) TenantsPage(ctx context.Context, prefix, cursor string, limit int) (TenantPage, error) {
	after, limit, err := tenantPageArgs(prefix, cursor, limit)
	if err != nil {
		return TenantPage{}, err
	}
	ts, err := s.store.ListTenantsPage(ctx, prefix, after, limit+1)
	if err != nil {
		return TenantPage{}, err
	}
	var page TenantPage
	page.Items, page.NextCursor = pageOf(ts, limit, "t", func(t db.Tenant) string { return t.Slug })
	return page, nil
}

func tenantPageArgs(prefix, cursor string, limit int) (after string, n int, err error) {
	if err = validFilter("prefix", prefix); err != nil {
		return "", 0, err
	}
	if n, err = pageLimit(limit); err != nil {
		return "", 0, err
	}
	if cursor != "" {
		if after, err = decodeCursor("t", cursor); err != nil {
			return "", 0, err
		}
	}
	return after, n, nil
}

// TenantsPage is Service.TenantsPage; a tenant key's listing holds its own tenant at most.
func (a Admin) TenantsPage(ctx context.Context, prefix, cursor string, limit int) (TenantPage, error) {
	if a.key.Tenant == nil {
		return a.s.TenantsPage(ctx, prefix, cursor, limit)
	}
	after, _, err := tenantPageArgs(prefix, cursor, limit)
	if err != nil {
		return TenantPage{}, err
	}
	t, err := a.s.Tenant(ctx, a.key.Tenant.Slug)
	if err != nil {
		return TenantPage{}, err
	}
	if !strings.HasPrefix(t.Slug, prefix) || t.Slug <= after {
		return TenantPage{Items: []db.Tenant{}}, nil
	}
	return TenantPage{Items: []db.Tenant{t}}, nil
}

// ClientPage is one page of a tenant's clients, oldest first. NextCursor is "" on the
// last page.
type ClientPage struct {
	Items      []db.Client
	NextCursor string
}

// ClientsPage lists the tenant's clients whose name contains search (ignoring case) or
// whose client_id is search, oldest first, a page at a time. It returns ErrNotFound for an
// unknown tenant and a ValidationError for a bad query.
func (s *Service) ClientsPage(ctx context.Context, slug, search, cursor string, limit int) (ClientPage, error) {
	if err := validFilter("search", search); err != nil {
		return ClientPage{}, err
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return ClientPage{}, err
	}
	var after *db.ClientCursor
	if cursor != "" {
		if after, err = decodeClientCursor(cursor); err != nil {
			return ClientPage{}, err
		}
	}
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return ClientPage{}, err
	}
	cs, err := s.store.ListClientsPage(ctx, t.ID, search, after, limit+1)
	if err != nil {
		return ClientPage{}, err
	}
	var page ClientPage
	page.Items, page.NextCursor = pageOf(cs, limit, "c", func(c db.Client) string {
		return c.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + c.ID
	})
	return page, nil
}

func decodeClientCursor(cursor string) (*db.ClientCursor, error) {
	v, err := decodeCursor("c", cursor)
	if err != nil {
		return nil, err
	}
	at, id, ok := strings.Cut(v, " ")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if !ok || terr != nil || id == "" {
		return nil, invalid("cursor", "is not a cursor this listing returned")
	}
	return &db.ClientCursor{CreatedAt: t, ID: id}, nil
}

// ClientsPage is Service.ClientsPage.
func (a Admin) ClientsPage(ctx context.Context, slug, search, cursor string, limit int) (ClientPage, error) {
	if err := a.in(slug); err != nil {
		return ClientPage{}, err
	}
	return a.s.ClientsPage(ctx, slug, search, cursor, limit)
}
