package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// Introspection is an active token's description (RFC 7662 §2.2). Iss is filled by the
// HTTP layer from the configured issuer.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	Username  string `json:"username,omitempty"`
	Sub       string `json:"sub"`
	TokenType string `json:"token_type"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	Iss       string `json:"iss"`
	Jti       string `json:"jti"`
	Tenant    string `json:"tenant"`
	Sid       string `json:"sid,omitempty"`
}

// Introspect describes token to a resource server of its tenant. ok is false for every
// token that is not a live access token of the caller's tenant; a malformed token is
// answered without reading the database. A caller without the introspect permission gets
// ErrUnauthorizedClient.
func (s *Service) Introspect(ctx context.Context, caller db.ClientAuth, token string) (in Introspection, ok bool, err error) {
	if !caller.Client.Introspect {
		return in, false, ErrUnauthorizedClient
	}
	if tokens.Check(tokens.Access, token) != nil {
		return in, false, nil
	}
	h := tokens.HashOf(token)
	got, err := s.store.Introspect(ctx, caller.Tenant.ID, h[:], s.Now())
	if errors.Is(err, db.ErrNotFound) {
		return in, false, nil
	}
	if err != nil {
		return in, false, fmt.Errorf("introspect: %w", err)
	}
	in = Introspection{Active: true, Scope: got.Scope, ClientID: got.ClientID, Sub: got.ClientID,
		TokenType: "Bearer", Exp: got.ExpiresAt.Unix(), Iat: got.IssuedAt.Unix(), Jti: got.ID.String(),
		Tenant: caller.Tenant.Slug}
	if got.UserID != nil {
		in.Sub = got.UserID.String()
	}
	if got.Username != nil {
		in.Username = *got.Username
	}
	if got.SessionID != nil {
		in.Sid = got.SessionID.String()
	}
	return in, true, nil
}

// Revoke revokes token for the client it was issued to (RFC 7009 §2.1): an access token
// alone, a refresh token with its whole session. Unknown, malformed, already revoked and
// other tenants' tokens are not errors and change nothing. Another client of the same
// tenant gets ErrUnauthorizedClient and the token is untouched. The hint only says where to
// look first, and jeton keeps both kinds in one place.
func (s *Service) Revoke(ctx context.Context, caller db.ClientAuth, token string, actor db.Actor) error {
	kind := tokens.KindOf(token)
	if kind != tokens.Access && kind != tokens.Refresh {
		return nil
	}
	h := tokens.HashOf(token)
	t, err := s.store.TokenByHash(ctx, caller.Tenant.ID, h[:])
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if t.ClientID != caller.Client.ID {
		return ErrUnauthorizedClient
	}
	return s.revokeToken(ctx, caller.Tenant, t, actor)
}

// revokeToken revokes t (a refresh token with its session) on behalf of actor.
func (s *Service) revokeToken(ctx context.Context, tenant db.Tenant, t db.Token, actor db.Actor) error {
	ev := s.event("token_revoked", actor, &tenant)
	ev.ClientID, ev.SubjectType, ev.SubjectID = t.ClientID, "token", tokens.Hash(t.Hash).Hex()
	if t.UserID != nil {
		ev.UserID = t.UserID.String()
	}
	var err error
	if t.Kind == db.KindRefresh {
		ev.Kind, ev.SubjectType, ev.SubjectID = "session_revoked", "session", t.SessionID.String()
		ev.Detail = map[string]any{"token_hash": tokens.Hash(t.Hash).Hex()}
		_, err = s.store.RevokeSession(ctx, tenant.ID, *t.SessionID, ev)
	} else {
		ev.Detail = map[string]any{"jti": t.ID.String()}
		_, err = s.store.RevokeToken(ctx, tenant.ID, t.Hash, ev)
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return nil
}
