package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// CodeGrant redeems an authorization code of the challenge endpoint (RFC 6749 §4.1.3,
// with RFC 7636 §4.6's code_verifier and, as the draft says, no redirect_uri) for the
// client it was issued to: the usual login, or for a step-up new tokens in the code's
// session, with a fresh auth_session. An unknown, expired or another client's code, or a
// wrong verifier, is ErrInvalidGrant; a code presented again is too, and revokes the
// session its first redemption issued (RFC 6749 §4.1.2).
func (s *Service) CodeGrant(ctx context.Context, ca db.ClientAuth, code, verifier string, actor db.Actor) (TokenResponse, error) {
	if err := ChallengeAllowed(ca); err != nil {
		return TokenResponse{}, err
	}
	if tokens.Check(tokens.AuthCode, code) != nil {
		return TokenResponse{}, ErrInvalidGrant
	}
	now := s.Now()
	h := tokens.HashOf(code)
	ac, u, err := s.store.AuthCodeByHash(ctx, h[:])
	if errors.Is(err, db.ErrNotFound) || (err == nil && (ac.TenantID != ca.Tenant.ID || ac.ClientID != ca.Client.ID)) {
		return TokenResponse{}, ErrInvalidGrant
	}
	if err != nil {
		return TokenResponse{}, fmt.Errorf("code grant: %w", err)
	}
	if ac.UsedAt != nil {
		return TokenResponse{}, s.codeReused(ctx, ca, ac, actor)
	}
	if !now.Before(ac.ExpiresAt) || !pkceMatches(ac.CodeChallenge, verifier) {
		return TokenResponse{}, ErrInvalidGrant
	}
	u.Epoch = ac.UserEpoch // the login is issued only while the user is still at it
	resp, login, err := s.newLogin(ca, u, grantedScope(ac.Scope, u, ca.Client), actor, now)
	if err != nil {
		return TokenResponse{}, err
	}
	if ac.SessionID != nil {
		if err := s.intoSession(ctx, ca, *ac.SessionID, &resp, &login, now); err != nil {
			return TokenResponse{}, err
		}
	}
	login.Event.Detail["amr"] = ac.AMR
	login.Event.Detail["grant_type"] = GrantAuthorizationCode
	ast, err := tokens.New(tokens.AuthSession, s.rand)
	if err != nil {
		return TokenResponse{}, err
	}
	ash := tokens.HashOf(ast)
	err = s.store.RedeemCode(ctx, db.Redemption{CodeHash: h[:], Login: login, AMR: ac.AMR,
		StepUp: ac.SessionID != nil, AuthSessionHash: ash[:]})
	if errors.Is(err, db.ErrStale) {
		// A concurrent redemption may have won: then this one is a reuse.
		if again, _, rerr := s.store.AuthCodeByHash(ctx, h[:]); rerr == nil && again.UsedAt != nil {
			return TokenResponse{}, s.codeReused(ctx, ca, again, actor)
		}
		return TokenResponse{}, ErrInvalidGrant
	}
	if err != nil {
		return TokenResponse{}, fmt.Errorf("code grant: %w", err)
	}
	resp.AuthSession = ast
	s.obs.TokenIssued(GrantAuthorizationCode)
	return resp, nil
}

// intoSession turns login (and resp) into new tokens of the live session sid, a step-up:
// no token outlives the session.
func (s *Service) intoSession(ctx context.Context, ca db.ClientAuth, sid uuid.UUID, resp *TokenResponse, login *db.Login, now time.Time) error {
	sess, err := s.store.Session(ctx, ca.Tenant.ID, sid)
	if errors.Is(err, db.ErrNotFound) {
		return ErrInvalidGrant
	}
	if err != nil {
		return fmt.Errorf("code grant: %w", err)
	}
	login.SessionID, login.SessionExpiresAt = sess.ID, sess.ExpiresAt
	login.Access.ExpiresAt = minTime(login.Access.ExpiresAt, sess.ExpiresAt)
	if login.Refresh != nil {
		login.Refresh.ExpiresAt = minTime(login.Refresh.ExpiresAt, sess.ExpiresAt)
	}
	resp.ExpiresIn = int64(login.Access.ExpiresAt.Sub(now) / time.Second)
	login.Event.Kind = "session_stepped_up"
	login.Event.SubjectID = sess.ID.String()
	return nil
}

// pkceMatches checks verifier against the code's S256 challenge (RFC 7636 §4.6); a code
// issued without one takes no verifier.
func pkceMatches(challenge *string, verifier string) bool {
	if challenge == nil {
		return verifier == ""
	}
	if !validPKCE(verifier, 43, 128) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(*challenge)) == 1
}

// codeReused revokes the session the first redemption of ac issued and returns
// ErrInvalidGrant.
func (s *Service) codeReused(ctx context.Context, ca db.ClientAuth, ac db.AuthCode, actor db.Actor) error {
	if ac.RedeemedSession == nil {
		return ErrInvalidGrant
	}
	ev := s.event("session_revoked", actor, &ca.Tenant)
	ev.ClientID, ev.UserID = ca.Client.ID, ac.UserID.String()
	ev.SubjectType, ev.SubjectID = "session", ac.RedeemedSession.String()
	ev.Detail = map[string]any{"reason": "authorization_code_reused", "code_hash": tokens.Hash(ac.Hash).Hex()}
	changed, err := s.store.RevokeSession(ctx, ca.Tenant.ID, *ac.RedeemedSession, ev)
	if err != nil {
		return fmt.Errorf("code reuse: %w", err)
	}
	if changed {
		s.obs.Revoked("session")
	}
	return ErrInvalidGrant
}
