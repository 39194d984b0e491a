package service

import (
	"context"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
)

// UserThrottles is the login throttle state of a user, with the limits that apply to it.
type UserThrottles struct {
	db.UserThrottleState
	BackoffAfter int // failures of one (username, address) pair before back-off
	UserLimit    int // failures of the username per window before unknown addresses are refused
}

// Throttles returns the user's login throttle state. It returns ErrNotFound.
func (s *Service) Throttles(ctx context.Context, slug, ref string) (UserThrottles, error) {
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return UserThrottles{}, err
	}
	st, err := s.store.UserThrottles(ctx, t.ID, u.ID, u.Username, s.Now())
	l := s.cfg.Throttle.limits(t, false)
	return UserThrottles{UserThrottleState: st, BackoffAfter: l.BackoffAfter, UserLimit: l.UserLimit}, err
}

// ClearThrottles lifts the user's back-offs and username limit and forgets its known
// addresses; the event names who did it. It returns ErrNotFound.
func (s *Service) ClearThrottles(ctx context.Context, actor db.Actor, slug, ref string) error {
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return err
	}
	return s.store.ClearUserThrottles(ctx, u, s.event("user_throttles_cleared", actor, &t))
}

// Throttles is Service.Throttles.
func (a Admin) Throttles(ctx context.Context, slug string, id uuid.UUID) (UserThrottles, error) {
	if err := a.in(slug); err != nil {
		return UserThrottles{}, err
	}
	return a.s.Throttles(ctx, slug, id.String())
}

// ClearThrottles is Service.ClearThrottles.
func (a Admin) ClearThrottles(ctx context.Context, slug string, id uuid.UUID) error {
	if err := a.in(slug); err != nil {
		return err
	}
	return a.s.ClearThrottles(ctx, a.actor, slug, id.String())
}

// PasswordReset is Service.PasswordReset.
func (a Admin) PasswordReset(ctx context.Context, slug string, id *uuid.UUID, username string) (ResetToken, error) {
	if err := a.in(slug); err != nil {
		return ResetToken{}, err
	}
	return a.s.PasswordReset(ctx, a.actor, slug, id, username)
}

// RequirePasswordChange is Service.RequirePasswordChange.
func (a Admin) RequirePasswordChange(ctx context.Context, slug string, id uuid.UUID, reason string) (db.User, error) {
	if err := a.in(slug); err != nil {
		return db.User{}, err
	}
	return a.s.RequirePasswordChange(ctx, a.actor, slug, id.String(), reason)
}

// SetForbiddenWords is Service.SetForbiddenWords.
func (a Admin) SetForbiddenWords(ctx context.Context, slug string, words []string) ([]string, error) {
	if err := a.in(slug); err != nil {
		return nil, err
	}
	return a.s.SetForbiddenWords(ctx, a.actor, slug, words)
}

// ForbiddenWords is Service.ForbiddenWords.
func (a Admin) ForbiddenWords(ctx context.Context, slug string) ([]string, error) {
	if err := a.in(slug); err != nil {
		return nil, err
	}
	return a.s.ForbiddenWords(ctx, slug)
}

// ClientPasswordReset is PasswordReset for a confidential client with the password_reset
// permission, within its own tenant; the event names the client. Any other client gets a
// ForbiddenError, another tenant's slug ErrNotFound.
func (s *Service) ClientPasswordReset(ctx context.Context, ca db.ClientAuth, ip, requestID, slug string, id *uuid.UUID, username string) (ResetToken, error) {
	if ca.Client.Public || !ca.Client.PasswordReset {
		return ResetToken{}, &ForbiddenError{Reason: "the client lacks the password_reset permission"}
	}
	if ca.Tenant.Slug != slug {
		return ResetToken{}, ErrNotFound
	}
	actor := db.Actor{Type: "client", ID: ca.Client.ID, Name: ca.Client.Name, IP: ip, RequestID: requestID}
	return s.PasswordReset(ctx, actor, slug, id, username)
}
