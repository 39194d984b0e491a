package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// BulkRevocation is what revoking every token of a user, a client or a tenant did.
// Revoked counts the tokens that carried the previous epoch and were live at the bump,
// counted after the bump committed; it is nil when that count failed, which never undoes
// the revocation.
type BulkRevocation struct {
	Revoked *int64
}

// bumpTimeout bounds the short transaction that bumps an epoch when the caller's context
// has no deadline. The bump runs detached from the caller's cancellation: once asked for,
// a revocation is not abandoned halfway because the caller went away. It keeps the
// caller's deadline (the admin API's timeout), so the answer still comes within it.
const bumpTimeout = 30 * time.Second

// detached returns a context that outlives ctx's cancellation but not its deadline (or d
// when it has none).
func detached(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), dl)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// RevokeUserTokens revokes every token of the user (refresh tokens included) by bumping its
// epoch, with a user_tokens_revoked event, in one short transaction. It returns ErrNotFound.
func (s *Service) RevokeUserTokens(ctx context.Context, actor db.Actor, slug, ref string) (BulkRevocation, error) {
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return BulkRevocation{}, err
	}
	ev := s.userEvent("user_tokens_revoked", actor, t, u)
	return s.bulkRevoke(ctx, ev,
		func(ctx context.Context) (int64, error) { return s.store.BumpUserEpoch(ctx, t.ID, u.ID, ev) },
		func(ctx context.Context, epoch int64) (int64, error) {
			return s.store.CountUserRevoked(ctx, t.ID, u.ID, epoch, ev.At)
		})
}

// RevokeClientTokens revokes every token issued to the client by bumping its epoch, with
// a client_tokens_revoked event, in one short transaction. It returns ErrNotFound.
func (s *Service) RevokeClientTokens(ctx context.Context, actor db.Actor, slug, clientID string) (BulkRevocation, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return BulkRevocation{}, err
	}
	c, err := s.store.ClientByID(ctx, t.ID, clientID)
	if err != nil {
		return BulkRevocation{}, err
	}
	ev := s.event("client_tokens_revoked", actor, &t)
	ev.SubjectType, ev.SubjectID, ev.SubjectName, ev.ClientID = "client", c.ID, c.Name, c.ID
	return s.bulkRevoke(ctx, ev,
		func(ctx context.Context) (int64, error) { return s.store.BumpClientEpoch(ctx, t.ID, c.ID, ev) },
		func(ctx context.Context, epoch int64) (int64, error) {
			return s.store.CountClientRevoked(ctx, t.ID, c.ID, epoch, ev.At)
		})
}

// RevokeTenantTokens revokes every token of the tenant by bumping its epoch, with a
// tenant_tokens_revoked event, in one short transaction. It returns ErrNotFound.
func (s *Service) RevokeTenantTokens(ctx context.Context, actor db.Actor, slug string) (BulkRevocation, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return BulkRevocation{}, err
	}
	ev := s.event("tenant_tokens_revoked", actor, &t)
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "tenant", t.ID.String(), t.Slug
	return s.bulkRevoke(ctx, ev,
		func(ctx context.Context) (int64, error) { return s.store.BumpTenantEpoch(ctx, t.ID, ev) },
		func(ctx context.Context, epoch int64) (int64, error) {
			return s.store.CountTenantRevoked(ctx, t.ID, epoch, ev.At)
		})
}

// bulkRevoke commits bump (which returns the epoch before it), then counts with count
// under the caller's context. Only a failed bump is an error.
func (s *Service) bulkRevoke(ctx context.Context, ev db.Event, bump func(context.Context) (int64, error),
	count func(context.Context, int64) (int64, error)) (BulkRevocation, error) {
	bctx, cancel := detached(ctx, bumpTimeout)
	defer cancel()
	prev, err := bump(bctx)
	if err != nil {
		return BulkRevocation{}, fmt.Errorf("%s: %w", ev.Kind, err)
	}
	s.obs.Revoked(ev.SubjectType)
	n, err := count(ctx, prev)
	if err != nil {
		s.log.WarnContext(ctx, "bulk revocation committed but not counted", slog.String("kind", ev.Kind),
			slog.String("subject", ev.SubjectID), slog.Any("err", err))
		return BulkRevocation{}, nil
	}
	return BulkRevocation{Revoked: &n}, nil
}

// UserSessions lists the user's live sessions, newest first. It returns ErrNotFound.
func (s *Service) UserSessions(ctx context.Context, slug, ref string) ([]db.Session, error) {
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return nil, err
	}
	return s.store.UserSessions(ctx, t.ID, u.ID, s.Now())
}

// RevokeUserSession revokes one session of the user, and with it every token of the
// session. Revoking a session already revoked changes nothing and is not an error. It
// returns ErrNotFound for an unknown user, or a session that is not the user's.
func (s *Service) RevokeUserSession(ctx context.Context, actor db.Actor, slug, ref string, session uuid.UUID) error {
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return err
	}
	sess, err := s.store.Session(ctx, t.ID, session)
	if err != nil {
		return err
	}
	if sess.UserID != u.ID {
		return fmt.Errorf("session of another user: %w", ErrNotFound)
	}
	ev := s.event("session_revoked", actor, &t)
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "session", sess.ID.String(), u.Username
	ev.UserID, ev.ClientID = u.ID.String(), sess.ClientID
	changed, err := s.store.RevokeSession(ctx, t.ID, sess.ID, ev)
	if changed {
		s.obs.Revoked("session")
	}
	return err
}

// RevokeAsAdmin revokes token on behalf of an admin key (RFC 7009 §2.1 semantics, as
// Revoke): any token of the key's tenant, or any token at all for a global key. An access
// token is revoked alone, a refresh token with its whole session. Unknown, malformed,
// already revoked and out-of-reach tokens are not errors and change nothing.
func (s *Service) RevokeAsAdmin(ctx context.Context, k AdminKey, token string, actor db.Actor) error {
	kind := tokens.KindOf(token)
	if kind != tokens.Access && kind != tokens.Refresh {
		return nil
	}
	h := tokens.HashOf(token)
	var t db.Token
	var err error
	if k.Global() {
		t, err = s.store.TokenByHashAnyTenant(ctx, h[:])
	} else {
		t, err = s.store.TokenByHash(ctx, k.Tenant.ID, h[:])
	}
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return s.revokeToken(ctx, db.Tenant{ID: t.TenantID}, t, actor)
}
