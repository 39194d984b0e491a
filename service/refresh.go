package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// RefreshGrant rotates a refresh token (RFC 6749 §6; RFC 9700 §4.14.2): the client that
// received it gets a new access token and a new refresh token, and the old one is used up.
// Presenting a used refresh token again revokes its whole session, unless the tenant's
// reuse grace covers it. Every failure is ErrInvalidGrant (or ErrInvalidScope for a wider
// scope, ErrUnauthorizedClient for a client without the grant).
func (s *Service) RefreshGrant(ctx context.Context, ca db.ClientAuth, refreshToken, scope string, actor db.Actor) (TokenResponse, error) {
	if !allows(ca.Client, GrantRefreshToken) {
		return TokenResponse{}, ErrUnauthorizedClient
	}
	requested, err := ParseScope(scope)
	if err != nil {
		return TokenResponse{}, err
	}
	if tokens.Check(tokens.Refresh, refreshToken) != nil {
		return TokenResponse{}, ErrInvalidGrant
	}
	h := tokens.HashOf(refreshToken)
	old, err := s.store.TokenByHash(ctx, ca.Tenant.ID, h[:])
	if errors.Is(err, db.ErrNotFound) || (err == nil && (old.Kind != db.KindRefresh || old.ClientID != ca.Client.ID)) {
		return TokenResponse{}, ErrInvalidGrant
	}
	if err != nil {
		return TokenResponse{}, fmt.Errorf("refresh: %w", err)
	}
	now := s.Now()
	// Past its own expiry a used token is as unknown as the sweeper will soon make it:
	// reuse detection ends there whether or not the row is still stored.
	if !old.ExpiresAt.After(now) {
		return TokenResponse{}, ErrInvalidGrant
	}
	if old.UsedAt != nil {
		return TokenResponse{}, s.reused(ctx, ca, old, actor)
	}
	if old.RevokedAt != nil {
		return TokenResponse{}, ErrInvalidGrant
	}

	granted, u, sess, err := s.refreshScope(ctx, ca, old, requested)
	if err != nil {
		return TokenResponse{}, err
	}
	resp, rot, err := s.newRotation(ca, old, u, sess, granted, actor, now)
	if err != nil {
		return TokenResponse{}, err
	}
	err = s.store.Rotate(ctx, rot)
	if errors.Is(err, db.ErrStale) {
		// Lost a race to another use of the same token, or the session died meanwhile.
		if again, err := s.store.TokenByHash(ctx, ca.Tenant.ID, h[:]); err == nil && again.UsedAt != nil {
			return TokenResponse{}, s.reused(ctx, ca, again, actor)
		}
		return TokenResponse{}, ErrInvalidGrant
	}
	if err != nil {
		return TokenResponse{}, fmt.Errorf("refresh: %w", err)
	}
	s.obs.TokenIssued(GrantRefreshToken)
	return resp, nil
}

// refreshScope is what a refresh of old may grant, and to whom: the scope requested (nil:
// the original grant's), which may only narrow the original grant, narrowed further to
// the user's and the client's current scopes; the user, and the session the new tokens
// continue. It returns ErrInvalidScope (as a ValidationError) for a wider scope, and
// ErrInvalidGrant when the user or the session is gone.
func (s *Service) refreshScope(ctx context.Context, ca db.ClientAuth, old db.Token, requested []string) ([]string, db.User, db.Session, error) {
	granted := strings.Fields(old.Scope)
	if requested != nil {
		for _, sc := range requested {
			if !slices.Contains(granted, sc) {
				return nil, db.User{}, db.Session{}, invalidScope("requested scope exceeds the original grant")
			}
		}
		granted = requested
	}
	u, err := s.store.UserByID(ctx, ca.Tenant.ID, *old.UserID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, db.User{}, db.Session{}, ErrInvalidGrant
	}
	if err != nil {
		return nil, db.User{}, db.Session{}, fmt.Errorf("refresh: %w", err)
	}
	granted, _ = userScope(granted, u, false)
	granted = slices.DeleteFunc(granted, func(sc string) bool { return !slices.Contains(ca.Client.Scopes, sc) })
	sess, err := s.store.Session(ctx, ca.Tenant.ID, *old.SessionID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, db.User{}, db.Session{}, ErrInvalidGrant
	}
	if err != nil {
		return nil, db.User{}, db.Session{}, fmt.Errorf("refresh: %w", err)
	}
	return granted, u, sess, nil
}

// newRotation mints the new pair of a refresh of old in sess, granting scopes, and the
// rotation that records it.
func (s *Service) newRotation(ca db.ClientAuth, old db.Token, u db.User, sess db.Session, scopes []string,
	actor db.Actor, now time.Time) (TokenResponse, db.Rotation, error) {
	accessTTL, idleTTL, _ := s.lifetimes(ca)
	// No token outlives its session.
	accessExp := minTime(now.Add(accessTTL), sess.ExpiresAt)
	at, access, err := s.newToken(tokens.Access, accessExp)
	if err != nil {
		return TokenResponse{}, db.Rotation{}, err
	}
	rt, refresh, err := s.newToken(tokens.Refresh, minTime(now.Add(idleTTL), sess.ExpiresAt))
	if err != nil {
		return TokenResponse{}, db.Rotation{}, err
	}
	resp := TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(accessExp.Sub(now) / time.Second),
		RefreshToken: rt, Scope: strings.Join(scopes, " ")}
	ev := s.event("token_refreshed", actor, &ca.Tenant)
	ev.ClientID, ev.UserID = ca.Client.ID, u.ID.String()
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "session", sess.ID.String(), u.Username
	ev.Detail = map[string]any{"jti": access.ID.String(), "scope": resp.Scope}
	return resp, db.Rotation{TenantID: ca.Tenant.ID, Old: old, Scope: resp.Scope, Now: now,
		Access: access, Refresh: refresh, Event: ev}, nil
}

// reused handles a used refresh token presented again by the client it was issued to:
// within the tenant's grace after its first use nothing happens; otherwise the whole
// session is revoked and refresh_reuse_detected recorded. It always returns ErrInvalidGrant
// unless the revocation itself fails.
func (s *Service) reused(ctx context.Context, ca db.ClientAuth, t db.Token, actor db.Actor) error {
	if g := ca.Tenant.RefreshReuseGrace; g > 0 && !s.Now().After(t.UsedAt.Add(g)) {
		return ErrInvalidGrant
	}
	ev := s.event("refresh_reuse_detected", actor, &ca.Tenant)
	ev.ClientID, ev.SubjectType, ev.SubjectID = ca.Client.ID, "session", t.SessionID.String()
	if t.UserID != nil {
		ev.UserID = t.UserID.String()
	}
	ev.Detail = map[string]any{"token_hash": tokens.Hash(t.Hash).Hex()}
	if _, err := s.store.RevokeSession(ctx, ca.Tenant.ID, *t.SessionID, ev); err != nil {
		return fmt.Errorf("refresh reuse: %w", err)
	}
	s.obs.RefreshReuseDetected()
	return ErrInvalidGrant
}
