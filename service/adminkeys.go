package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// ErrInvalidAdminKey means the admin key presented is missing, malformed, unknown,
// revoked, or belongs to a deleted tenant. The admin API answers 401 and says no more.
var ErrInvalidAdminKey = errors.New("invalid admin key")

// ForbiddenError says that an authenticated admin key may not do what it asked, and why.
// It is only returned about the key's own tenant or global operations: anything of another
// tenant is ErrNotFound, so a tenant key learns nothing about other tenants.
type ForbiddenError struct{ Reason string }

func (e *ForbiddenError) Error() string { return "forbidden: " + e.Reason }

// AdminKey is an authenticated admin key. Tenant is nil for a global key.
type AdminKey struct {
	ID     uuid.UUID
	Name   string
	Tenant *db.Tenant
}

// Global reports whether k manages every tenant.
func (k AdminKey) Global() bool { return k.Tenant == nil }

// actor names k in events, with where the request came from.
func (k AdminKey) actor(ip, requestID string) db.Actor {
	return db.Actor{Type: "admin_key", ID: k.ID.String(), Name: k.Name, IP: ip, RequestID: requestID}
}

// AuthenticateAdminKey returns the admin key key names. A malformed key is refused without
// reading the database. A malformed, unknown or revoked key and a key of a deleted tenant
// are ErrInvalidAdminKey; a key of a disabled tenant is a ForbiddenError (a disabled tenant
// stops its own keys too; a global key can still manage it).
func (s *Service) AuthenticateAdminKey(ctx context.Context, key string) (AdminKey, error) {
	if tokens.Check(tokens.AdminKey, key) != nil {
		return AdminKey{}, ErrInvalidAdminKey
	}
	h := tokens.HashOf(key)
	k, err := s.store.AdminKeyByHash(ctx, h[:])
	if errors.Is(err, db.ErrNotFound) {
		return AdminKey{}, ErrInvalidAdminKey
	}
	if err != nil {
		return AdminKey{}, fmt.Errorf("authenticate admin key: %w", err)
	}
	out := AdminKey{ID: k.ID, Name: k.Name}
	if k.TenantID == nil {
		return out, nil
	}
	t, err := s.store.TenantBySlug(ctx, k.TenantSlug)
	if errors.Is(err, db.ErrNotFound) || (err == nil && t.ID != *k.TenantID) {
		return AdminKey{}, ErrInvalidAdminKey
	}
	if err != nil {
		return AdminKey{}, fmt.Errorf("authenticate admin key: %w", err)
	}
	if t.Disabled {
		return AdminKey{}, &ForbiddenError{Reason: "the key's tenant is disabled"}
	}
	out.Tenant = &t
	return out, nil
}

// CreateAdminKey makes an admin key for the tenant slug, or a global key when slug is "".
// The key ("jak_...", 256 random bits) is returned once; only its SHA-256 is stored. name
// defaults to "admin key". It returns ErrNotFound for an unknown tenant and a
// ValidationError for a bad name.
func (s *Service) CreateAdminKey(ctx context.Context, actor db.Actor, slug, name string) (db.AdminKey, string, error) {
	return s.createAdminKey(ctx, actor, slug, name, false)
}

// ReplaceAdminKey is CreateAdminKey that also revokes, in the same transaction, every live
// key of the same tenant (or global) with the same name: how "jeton dev" rotates its key.
func (s *Service) ReplaceAdminKey(ctx context.Context, actor db.Actor, slug, name string) (db.AdminKey, string, error) {
	return s.createAdminKey(ctx, actor, slug, name, true)
}

func (s *Service) createAdminKey(ctx context.Context, actor db.Actor, slug, name string, replace bool) (db.AdminKey, string, error) {
	if name == "" {
		name = "admin key"
	}
	if err := validName(name); err != nil {
		return db.AdminKey{}, "", err
	}
	var tenant *uuid.UUID
	if slug != "" {
		t, err := s.tenant(ctx, slug)
		if err != nil {
			return db.AdminKey{}, "", err
		}
		tenant = &t.ID
	}
	key, err := tokens.New(tokens.AdminKey, s.rand)
	if err != nil {
		return db.AdminKey{}, "", err
	}
	h := tokens.HashOf(key)
	ev := s.event("admin_key_created", actor, nil)
	k, err := s.store.CreateAdminKey(ctx, tenant, name, h[:], replace, ev)
	if err != nil {
		return db.AdminKey{}, "", err
	}
	return k, key, nil
}

// AdminKeys lists every admin key, live and revoked, oldest first.
func (s *Service) AdminKeys(ctx context.Context) ([]db.AdminKey, error) {
	return s.store.ListAdminKeys(ctx)
}

// RevokeAdminKey revokes the key with that id at once. It returns ErrNotFound when no live
// key has that id.
func (s *Service) RevokeAdminKey(ctx context.Context, actor db.Actor, id uuid.UUID) (db.AdminKey, error) {
	return s.store.RevokeAdminKey(ctx, id, s.event("admin_key_revoked", actor, nil))
}
