package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
)

// stepUp answers a redeemed code's auth_session (h its hash) sent with acr_values or a
// scope (RFC 9470 through the challenge endpoint): when a second factor is asked for and
// the session has none, a new auth_session waiting for it; else a code for the session at
// once. The auth_session dies with its session.
func (s *Service) stepUp(ctx context.Context, ca db.ClientAuth, r Challenge, h []byte, now time.Time) (ChallengeResponse, error) {
	as, err := s.store.AuthSessionByHash(ctx, h, now)
	if errors.Is(err, db.ErrNotFound) || (err == nil && (as.Session.TenantID != ca.Tenant.ID || as.Session.ClientID != ca.Client.ID)) {
		return ChallengeResponse{}, ErrInvalidSession
	}
	if err != nil {
		return ChallengeResponse{}, fmt.Errorf("step-up: %w", err)
	}
	if r.OTP != "" || r.RecoveryCode != "" {
		return ChallengeResponse{}, invalid("otp", "goes with the auth_session of an insufficient_authorization answer")
	}
	pkce, err := codeChallenge(ca.Client, r)
	if err != nil {
		return ChallengeResponse{}, err
	}
	scope, err := stepUpScope(ca.Client, as, r.Login.Scope)
	if err != nil {
		return ChallengeResponse{}, err
	}
	cs := db.ChallengeSession{CodeChallenge: pkce, SessionID: &as.Session.ID}
	if acrs := strings.Fields(r.ACRValues); ACROf(as.AMR) == "mfa" || len(acrs) == 0 || slices.Contains(acrs, ACROf(as.AMR)) {
		// Nothing more to ask: a code for the session as it authenticated.
		tok, code, err := s.newCode(ca, as.User, scope, as.AMR, cs, "", now)
		if err != nil {
			return ChallengeResponse{}, err
		}
		if err := s.store.IssueStepUpCode(ctx, code); errors.Is(err, db.ErrStale) {
			return ChallengeResponse{}, ErrInvalidSession
		} else if err != nil {
			return ChallengeResponse{}, fmt.Errorf("step-up: %w", err)
		}
		return ChallengeResponse{AuthorizationCode: tok}, nil
	}
	st, err := s.store.UserMFA(ctx, ca.Tenant.ID, as.User.ID)
	if err != nil {
		return ChallengeResponse{}, fmt.Errorf("step-up: %w", err)
	}
	if !st.Active() {
		return ChallengeResponse{}, errNoFactor
	}
	// Only the missing factor is asked for; no password was sent, so no throttle unit was
	// reserved.
	p := pendingLogin{user: as.User, scope: scope, ip: countedAddr(r.Login.Actor.IP), cs: &cs}
	tok, err := s.pending(ctx, ca, p, r.Login.Actor, now)
	if err != nil {
		return ChallengeResponse{}, fmt.Errorf("step-up: %w", err)
	}
	return ChallengeResponse{}, &MFARequiredError{Token: tok}
}

// stepUpScope is the scope a step-up asks for: the session's when none is requested,
// else what the client and user may be granted (invalid_scope otherwise).
func stepUpScope(c db.Client, as db.LiveAuthSession, requested string) (string, error) {
	if requested == "" {
		return as.Session.Scope, nil
	}
	scopes, err := clientScope(c, requested)
	if err != nil {
		return "", err
	}
	if scopes, err = userScope(scopes, as.User, true); err != nil {
		return "", err
	}
	return strings.Join(scopes, " "), nil
}
