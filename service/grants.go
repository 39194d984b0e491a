package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/tokens"
)

// Grant types jeton supports.
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// GrantTypes lists the supported grants, in the order discovery publishes them.
var GrantTypes = []string{GrantPassword, GrantRefreshToken, GrantClientCredentials}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// lifetimes resolves the client's, else the tenant's, else the configured TTLs.
func (s *Service) lifetimes(ca db.ClientAuth) (access, idle, max time.Duration) {
	pick := func(client, tenant *time.Duration, def time.Duration) time.Duration {
		if client != nil {
			return *client
		}
		if tenant != nil {
			return *tenant
		}
		return def
	}
	c, t := ca.Client, ca.Tenant
	return pick(c.AccessTTL, t.AccessTTL, s.cfg.AccessTTL),
		pick(c.RefreshIdleTTL, t.RefreshIdleTTL, s.cfg.RefreshIdleTTL),
		pick(c.RefreshMaxTTL, t.RefreshMaxTTL, s.cfg.RefreshMaxTTL)
}

// clientScope returns what the client may be granted for the scope parameter requested:
// the requested scopes, or the client's defaults when none were requested. Asking for a
// scope the client is not allowed is invalid_scope.
func clientScope(c db.Client, requested string) ([]string, error) {
	req, err := ParseScope(requested)
	if err != nil {
		return nil, err
	}
	if req == nil {
		if c.DefaultScopes != nil {
			return c.DefaultScopes, nil
		}
		return c.Scopes, nil
	}
	for _, sc := range req {
		if !slices.Contains(c.Scopes, sc) {
			return nil, invalidScope("requested scope is not allowed for this client")
		}
	}
	return req, nil
}

// userScope narrows scopes to what the user may have. When the caller asked explicitly
// (strict), a scope the user may not have is invalid_scope; defaults are just narrowed.
func userScope(scopes []string, u db.User, strict bool) ([]string, error) {
	if u.Scopes == nil {
		return scopes, nil
	}
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if slices.Contains(u.Scopes, sc) {
			out = append(out, sc)
		} else if strict {
			return nil, invalidScope("requested scope is not allowed for this user")
		}
	}
	return out, nil
}

func (s *Service) newToken(k tokens.Kind, expires time.Time) (string, db.NewToken, error) {
	tok, err := tokens.New(k, s.rand)
	if err != nil {
		return "", db.NewToken{}, err
	}
	h := tokens.HashOf(tok)
	return tok, db.NewToken{Hash: h[:], ID: uuid.New(), ExpiresAt: expires}, nil
}

func allows(c db.Client, grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// PasswordGrant runs the resource owner password credentials grant (RFC 6749 §4.3) for an
// authenticated client. Unknown user, wrong password and disabled user are the same
// ErrInvalidGrant after the same work. Other errors: ErrUnauthorizedClient,
// ErrInvalidScope (as a ValidationError), ErrInvalidRequest.
func (s *Service) PasswordGrant(ctx context.Context, ca db.ClientAuth, username, pw, scope string, actor db.Actor) (TokenResponse, error) {
	if !allows(ca.Client, GrantPassword) {
		return TokenResponse{}, ErrUnauthorizedClient
	}
	scopes, err := clientScope(ca.Client, scope)
	if err != nil {
		return TokenResponse{}, err
	}
	u, reason, err := s.verifyUser(ctx, ca.Tenant.ID, username, pw)
	if err != nil {
		return TokenResponse{}, err
	}
	if reason != "" {
		ev := s.event("login_failure", actor, &ca.Tenant)
		ev.ClientID, ev.SubjectType, ev.SubjectName = ca.Client.ID, "username", username
		if u.ID != uuid.Nil {
			ev.UserID, ev.SubjectID = u.ID.String(), u.ID.String()
		}
		ev.Detail = map[string]any{"reason": reason}
		if err := s.store.RecordEvent(ctx, ev); err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{}, ErrInvalidGrant
	}
	if scopes, err = userScope(scopes, u, scope != ""); err != nil {
		return TokenResponse{}, err
	}
	if s.afterVerify != nil {
		s.afterVerify()
	}

	now := s.Now()
	accessTTL, idleTTL, maxTTL := s.lifetimes(ca)
	sessionExp := now.Add(maxTTL)
	// No token outlives its session.
	accessExp := minTime(now.Add(accessTTL), sessionExp)
	at, access, err := s.newToken(tokens.Access, accessExp)
	if err != nil {
		return TokenResponse{}, err
	}
	resp := TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(accessExp.Sub(now) / time.Second),
		Scope: strings.Join(scopes, " ")}
	login := db.Login{
		TenantID: ca.Tenant.ID, ClientID: ca.Client.ID, UserID: u.ID, SessionID: uuid.New(),
		Scope: resp.Scope, Now: now, SessionExpiresAt: sessionExp,
		Epochs: db.Epochs{Tenant: ca.Tenant.Epoch, Client: ca.Client.Epoch, User: &u.Epoch},
		Access: access,
	}
	if allows(ca.Client, GrantRefreshToken) {
		rt, refresh, err := s.newToken(tokens.Refresh, minTime(now.Add(idleTTL), sessionExp))
		if err != nil {
			return TokenResponse{}, err
		}
		resp.RefreshToken, login.Refresh = rt, &refresh
	}
	login.Event = s.event("login_success", actor, &ca.Tenant)
	login.Event.ClientID, login.Event.UserID = ca.Client.ID, u.ID.String()
	login.Event.SubjectType, login.Event.SubjectID, login.Event.SubjectName = "session", login.SessionID.String(), u.Username
	login.Event.Detail = map[string]any{"jti": access.ID.String(), "scope": resp.Scope}
	if err := s.store.IssueLogin(ctx, login); err != nil {
		if errors.Is(err, db.ErrStale) {
			return TokenResponse{}, ErrInvalidGrant
		}
		return TokenResponse{}, fmt.Errorf("password grant: %w", err)
	}
	return resp, nil
}

// verifyUser finds the user and verifies the password, doing one argon2id verification on
// every path. reason is empty on success, else why it failed (kept internal).
func (s *Service) verifyUser(ctx context.Context, tenant uuid.UUID, username, pw string) (db.User, string, error) {
	hash, reason := s.dummy, ""
	var u db.User
	name, err := NormalizeUsername(username)
	if err != nil {
		reason = "invalid_username"
	} else if u, err = s.store.UserByUsername(ctx, tenant, name); errors.Is(err, db.ErrNotFound) {
		reason = "unknown_user"
	} else if err != nil {
		return u, "", fmt.Errorf("password grant: %w", err)
	} else {
		hash = u.PasswordHash
	}
	if len(pw) > 1024 {
		// Never hash attacker-sized input; hash the dummy input instead to keep the timing.
		pw, reason = "", "password_too_long"
	}
	ok, err := password.Verify(pw, hash)
	switch {
	case err != nil && reason == "":
		reason = "unverifiable_hash"
	case reason != "":
	case !ok:
		reason = "wrong_password"
	case u.Disabled:
		reason = "user_disabled"
	}
	return u, reason, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ClientCredentialsGrant issues an access token with no user (RFC 6749 §4.4) to an
// authenticated confidential client allowed to use the grant. Errors:
// ErrUnauthorizedClient, ErrInvalidScope.
func (s *Service) ClientCredentialsGrant(ctx context.Context, ca db.ClientAuth, scope string, actor db.Actor) (TokenResponse, error) {
	if ca.Client.Public || !allows(ca.Client, GrantClientCredentials) {
		return TokenResponse{}, ErrUnauthorizedClient
	}
	scopes, err := clientScope(ca.Client, scope)
	if err != nil {
		return TokenResponse{}, err
	}
	now := s.Now()
	accessTTL, _, _ := s.lifetimes(ca)
	at, access, err := s.newToken(tokens.Access, now.Add(accessTTL))
	if err != nil {
		return TokenResponse{}, err
	}
	resp := TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(accessTTL / time.Second),
		Scope: strings.Join(scopes, " ")}
	ev := s.event("token_issued", actor, &ca.Tenant)
	ev.ClientID, ev.SubjectType, ev.SubjectID = ca.Client.ID, "token", access.ID.String()
	ev.Detail = map[string]any{"grant_type": GrantClientCredentials, "scope": resp.Scope}
	err = s.store.IssueClientToken(ctx, db.ClientToken{
		TenantID: ca.Tenant.ID, ClientID: ca.Client.ID, Scope: resp.Scope, Now: now,
		Epochs: db.Epochs{Tenant: ca.Tenant.Epoch, Client: ca.Client.Epoch}, Access: access, Event: ev,
	})
	if errors.Is(err, db.ErrStale) {
		return TokenResponse{}, ErrInvalidClient
	}
	if err != nil {
		return TokenResponse{}, fmt.Errorf("client credentials: %w", err)
	}
	return resp, nil
}
