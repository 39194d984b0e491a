package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/google/uuid"
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
	// AMR, ACR and AuthTime say how and when the user of a login's token authenticated:
	// RFC 8176 methods, "mfa" when a second factor was passed (else "pwd"), and the login's
	// time (its session's start, kept across refreshes).
	AMR      []string `json:"amr,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
}

// Caller is what the HTTP layer learns about the authenticated client of an /introspect
// request.
type Caller struct {
	Tenant        string // the slug of the client's tenant
	OriginAllowed bool   // the request's Origin is on the client's CORS list
}

// IntrospectAs authenticates the client presenting cred and describes token to it, in one
// database round trip shared with concurrent requests: the caller's client, tenant and
// secrets are read in the same statement (so the same snapshot) as the token, and nothing
// is cached. origin is the request's Origin header ("" when none).
//
// A failed authentication is ErrInvalidClient with a zero Caller (see AuthenticateClient
// for what fails). An authenticated client without the introspect permission gets its
// Caller and ErrUnauthorizedClient. Otherwise ok is false for every token that is not a
// live access token of the caller's tenant. A missing or malformed token is answered
// without reading any token: the client alone is authenticated.
func (s *Service) IntrospectAs(ctx context.Context, cred Credentials, token, origin string) (Caller, Introspection, bool, error) {
	if origin != "" && ValidOrigin("origin", origin) != nil {
		// An Origin no client could list (invalid UTF-8, say) must not reach the batched
		// query, where it would fail every request of the batch.
		origin = ""
	}
	if !plausibleClientID(cred.ClientID) {
		return Caller{}, Introspection{}, false, ErrInvalidClient
	}
	q := db.IntrospectQuery{ClientID: cred.ClientID, Origin: origin, Now: s.Now()}
	if cred.Secret != "" {
		// A secret is never right for a public client, so a malformed one fails whoever
		// presents it.
		if tokens.Check(tokens.ClientSecret, cred.Secret) != nil {
			return Caller{}, Introspection{}, false, ErrInvalidClient
		}
		q.HasSecret, q.SecretHash = true, sha256.Sum256([]byte(cred.Secret))
	}
	if tokens.Check(tokens.Access, token) == nil {
		q.TokenHash = tokens.HashOf(token)
	} else {
		q.CallerOnly = true
	}
	r, err := s.store.Introspect(ctx, q)
	if err != nil {
		return Caller{}, Introspection{}, false, fmt.Errorf("introspect: %w", err)
	}
	cl := r.Caller
	if !cl.Found || !cl.Authenticated {
		return Caller{}, Introspection{}, false, ErrInvalidClient
	}
	caller := Caller{Tenant: cl.Tenant, OriginAllowed: cl.OriginAllowed}
	if !cl.Introspect {
		return caller, Introspection{}, false, ErrUnauthorizedClient
	}
	if !r.Active {
		return caller, Introspection{}, false, nil
	}
	return caller, introspection(r.Token, cl.Tenant), true, nil
}

// introspection is the RFC 7662 §2.2 description of a live token of tenant.
func introspection(t db.Introspection, tenant string) Introspection {
	in := Introspection{Active: true, Scope: t.Scope, ClientID: t.ClientID, Sub: t.ClientID,
		TokenType: "Bearer", Exp: t.ExpiresAt.Unix(), Iat: t.IssuedAt.Unix(), Jti: t.ID.String(),
		Tenant: tenant}
	if t.UserID != uuid.Nil {
		in.Sub, in.Username = t.UserID.String(), t.Username
	}
	if t.SessionID != uuid.Nil {
		in.Sid = t.SessionID.String()
		in.AMR, in.ACR, in.AuthTime = t.AMR, ACROf(t.AMR), t.AuthTime.Unix()
	}
	return in
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
	var changed bool
	var err error
	if t.Kind == db.KindRefresh {
		ev.Kind, ev.SubjectType, ev.SubjectID = "session_revoked", "session", t.SessionID.String()
		ev.Detail = map[string]any{"token_hash": tokens.Hash(t.Hash).Hex()}
		changed, err = s.store.RevokeSession(ctx, tenant.ID, *t.SessionID, ev)
	} else {
		ev.Detail = map[string]any{"jti": t.ID.String()}
		changed, err = s.store.RevokeToken(ctx, tenant.ID, t.Hash, ev)
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if changed {
		s.obs.Revoked(ev.SubjectType)
	}
	return nil
}

// ACROf is the authentication context class of a login that authenticated by amr: "mfa"
// when a second factor was passed, else "pwd".
func ACROf(amr []string) string {
	if len(amr) > 1 {
		return "mfa"
	}
	return "pwd"
}
