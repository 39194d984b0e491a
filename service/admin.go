package service

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
)

// Admin is an admin key acting through the admin API. Each method first checks that the
// key reaches what it names, then calls the same method the CLI calls, with the key as the
// actor. A global key reaches everything. A tenant key reaches only its tenant: anything
// else is ErrNotFound, exactly as if it did not exist; within its tenant it may not create,
// delete, rename, disable or enable tenants, read the global stream, or set a client's
// forwards_user_ip (ForbiddenError).
type Admin struct {
	s     *Service
	key   AdminKey
	actor db.Actor
}

// AsAdmin returns k's view of the service. ip and requestID go into the events it writes.
func (s *Service) AsAdmin(k AdminKey, ip, requestID string) Admin {
	return Admin{s: s, key: k, actor: k.actor(ip, requestID)}
}

// Key is the admin key acting.
func (a Admin) Key() AdminKey { return a.key }

// in returns ErrNotFound unless the key reaches the tenant slug.
func (a Admin) in(slug string) error {
	if a.key.Tenant != nil && a.key.Tenant.Slug != slug {
		return fmt.Errorf("tenant %q: %w", slug, ErrNotFound)
	}
	return nil
}

// global returns a ForbiddenError for a tenant key.
func (a Admin) global(what string) error {
	if a.key.Tenant != nil {
		return &ForbiddenError{Reason: what + " needs a global admin key"}
	}
	return nil
}

// TenantKeyFields are the tenant settings a tenant key may change (db.Tenant field names):
// its lifetimes, password policy and login thresholds, each within the configured bounds.
var TenantKeyFields = []string{"AccessTTL", "RefreshIdleTTL", "RefreshMaxTTL", "RefreshReuseGrace", "EventRetention",
	"MinPasswordLength", "LoginBackoffAfter", "LoginUserLimit", "LoginIPLimit", "MFAPolicy", "MFAFailureLimit",
	"PasswordHistory", "PasswordMaxAge", "PasswordResetTTL"}

// CreateTenant is Service.CreateTenant for a global key.
func (a Admin) CreateTenant(ctx context.Context, slug, name string) (db.Tenant, error) {
	if err := a.global("creating a tenant"); err != nil {
		return db.Tenant{}, err
	}
	return a.s.CreateTenant(ctx, a.actor, slug, name)
}

// Tenant is Service.Tenant.
func (a Admin) Tenant(ctx context.Context, slug string) (db.Tenant, error) {
	if err := a.in(slug); err != nil {
		return db.Tenant{}, err
	}
	return a.s.tenant(ctx, slug)
}

// UpdateTenant is Service.UpdateTenant. A tenant key may change only TenantKeyFields; any
// other change is a ForbiddenError and nothing is written.
func (a Admin) UpdateTenant(ctx context.Context, slug string, change func(*db.Tenant)) (db.Tenant, error) {
	if err := a.in(slug); err != nil {
		return db.Tenant{}, err
	}
	var allowed func([]string) error
	if a.key.Tenant != nil {
		allowed = func(changed []string) error {
			for _, f := range changed {
				if !slices.Contains(TenantKeyFields, f) {
					return &ForbiddenError{Reason: "a tenant key may change only its tenant's lifetimes and thresholds"}
				}
			}
			return nil
		}
	}
	return a.s.updateTenant(ctx, a.actor, slug, change, allowed)
}

// DeleteTenant is Service.DeleteTenant for a global key.
func (a Admin) DeleteTenant(ctx context.Context, slug string) error {
	if err := a.in(slug); err != nil {
		return err
	}
	if err := a.global("deleting a tenant"); err != nil {
		return err
	}
	return a.s.DeleteTenant(ctx, a.actor, slug)
}

// RevokeTenantTokens is Service.RevokeTenantTokens.
func (a Admin) RevokeTenantTokens(ctx context.Context, slug string) (BulkRevocation, error) {
	if err := a.in(slug); err != nil {
		return BulkRevocation{}, err
	}
	return a.s.RevokeTenantTokens(ctx, a.actor, slug)
}

// Events is Service.Events.
func (a Admin) Events(ctx context.Context, slug string, q EventQuery) (EventPage, error) {
	if err := a.in(slug); err != nil {
		return EventPage{}, err
	}
	return a.s.Events(ctx, slug, q)
}

// GlobalEvents is Service.GlobalEvents for a global key.
func (a Admin) GlobalEvents(ctx context.Context, q EventQuery) (EventPage, error) {
	if err := a.global("reading the global stream"); err != nil {
		return EventPage{}, err
	}
	return a.s.GlobalEvents(ctx, q)
}

// CreateUser is Service.CreateUser.
func (a Admin) CreateUser(ctx context.Context, slug, username, pw string, scopes []string) (db.User, error) {
	if err := a.in(slug); err != nil {
		return db.User{}, err
	}
	return a.s.CreateUser(ctx, a.actor, slug, username, pw, scopes)
}

// Users is Service.Users.
func (a Admin) Users(ctx context.Context, slug, prefix, cursor string, limit int) (UserPage, error) {
	if err := a.in(slug); err != nil {
		return UserPage{}, err
	}
	return a.s.Users(ctx, slug, prefix, cursor, limit)
}

// User is Service.User, by id only.
func (a Admin) User(ctx context.Context, slug string, id uuid.UUID) (db.User, error) {
	if err := a.in(slug); err != nil {
		return db.User{}, err
	}
	return a.s.User(ctx, slug, id.String())
}

// UpdateUser is Service.UpdateUser.
func (a Admin) UpdateUser(ctx context.Context, slug string, id uuid.UUID, change func(*db.User)) (db.User, error) {
	if err := a.in(slug); err != nil {
		return db.User{}, err
	}
	return a.s.UpdateUser(ctx, a.actor, slug, id.String(), change)
}

// DeleteUser is Service.DeleteUser.
func (a Admin) DeleteUser(ctx context.Context, slug string, id uuid.UUID) error {
	if err := a.in(slug); err != nil {
		return err
	}
	return a.s.DeleteUser(ctx, a.actor, slug, id.String())
}

// SetPassword is Service.SetPassword.
func (a Admin) SetPassword(ctx context.Context, slug string, id uuid.UUID, pw string) error {
	if err := a.in(slug); err != nil {
		return err
	}
	return a.s.SetPassword(ctx, a.actor, slug, id.String(), pw)
}

// UserSessions is Service.UserSessions.
func (a Admin) UserSessions(ctx context.Context, slug string, id uuid.UUID) ([]db.Session, error) {
	if err := a.in(slug); err != nil {
		return nil, err
	}
	return a.s.UserSessions(ctx, slug, id.String())
}

// RevokeUserSession is Service.RevokeUserSession.
func (a Admin) RevokeUserSession(ctx context.Context, slug string, id, session uuid.UUID) error {
	if err := a.in(slug); err != nil {
		return err
	}
	return a.s.RevokeUserSession(ctx, a.actor, slug, id.String(), session)
}

// RevokeUserTokens is Service.RevokeUserTokens.
func (a Admin) RevokeUserTokens(ctx context.Context, slug string, id uuid.UUID) (BulkRevocation, error) {
	if err := a.in(slug); err != nil {
		return BulkRevocation{}, err
	}
	return a.s.RevokeUserTokens(ctx, a.actor, slug, id.String())
}

// CreateClient is Service.CreateClient. A client that forwards its users' addresses
// (ForwardsUserIP) needs a global key: its header feeds the throttles, so the tenant must
// not vouch for itself.
func (a Admin) CreateClient(ctx context.Context, slug string, spec ClientSpec) (db.Client, string, error) {
	if err := a.in(slug); err != nil {
		return db.Client{}, "", err
	}
	if spec.ForwardsUserIP {
		if err := a.global("setting forwards_user_ip"); err != nil {
			return db.Client{}, "", err
		}
	}
	return a.s.CreateClient(ctx, a.actor, slug, spec)
}

// Client is Service.Client.
func (a Admin) Client(ctx context.Context, slug, clientID string) (db.Client, error) {
	if err := a.in(slug); err != nil {
		return db.Client{}, err
	}
	return a.s.Client(ctx, slug, clientID)
}

// ClientSecrets is Service.ClientSecrets.
func (a Admin) ClientSecrets(ctx context.Context, slug, clientID string) ([]db.Secret, error) {
	if err := a.in(slug); err != nil {
		return nil, err
	}
	return a.s.ClientSecrets(ctx, slug, clientID)
}

// TenantSecrets is Service.TenantSecrets.
func (a Admin) TenantSecrets(ctx context.Context, slug string) (map[string][]db.Secret, error) {
	if err := a.in(slug); err != nil {
		return nil, err
	}
	return a.s.TenantSecrets(ctx, slug)
}

// UpdateClient is Service.UpdateClient. A tenant key's change to ForwardsUserIP is a
// ForbiddenError, and its other changes never move that flag.
func (a Admin) UpdateClient(ctx context.Context, slug, clientID string, change func(*db.Client)) (db.Client, error) {
	if err := a.in(slug); err != nil {
		return db.Client{}, err
	}
	if a.key.Tenant != nil {
		cur, err := a.s.Client(ctx, slug, clientID)
		if err != nil {
			return cur, err
		}
		probe := cur
		change(&probe)
		if probe.ForwardsUserIP != cur.ForwardsUserIP {
			return cur, a.global("setting forwards_user_ip")
		}
		inner := change
		change = func(c *db.Client) {
			pinned := c.ForwardsUserIP
			inner(c)
			c.ForwardsUserIP = pinned
		}
	}
	return a.s.UpdateClient(ctx, a.actor, slug, clientID, change)
}

// DeleteClient is Service.DeleteClient.
func (a Admin) DeleteClient(ctx context.Context, slug, clientID string) error {
	if err := a.in(slug); err != nil {
		return err
	}
	return a.s.DeleteClient(ctx, a.actor, slug, clientID)
}

// RotateSecret is Service.RotateSecret.
func (a Admin) RotateSecret(ctx context.Context, slug, clientID string, overlap time.Duration) (string, error) {
	if err := a.in(slug); err != nil {
		return "", err
	}
	return a.s.RotateSecret(ctx, a.actor, slug, clientID, overlap)
}

// RevokeClientTokens is Service.RevokeClientTokens.
func (a Admin) RevokeClientTokens(ctx context.Context, slug, clientID string) (BulkRevocation, error) {
	if err := a.in(slug); err != nil {
		return BulkRevocation{}, err
	}
	return a.s.RevokeClientTokens(ctx, a.actor, slug, clientID)
}

// Revoke is Service.RevokeAsAdmin: /revoke with an admin key.
func (a Admin) Revoke(ctx context.Context, token string) error {
	return a.s.RevokeAsAdmin(ctx, a.key, token, a.actor)
}
