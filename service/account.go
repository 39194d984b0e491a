package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// AccountScope is the scope an access token needs for the account API (/account/v1).
const AccountScope = "account"

// The account API's authentication errors (RFC 6750 §3.1).
var (
	ErrInvalidToken      = errors.New("invalid_token")
	ErrInsufficientScope = errors.New("insufficient_scope")
)

// ErrInvalidOTP refuses an account request whose code is wrong or was used already.
var ErrInvalidOTP = errors.New("invalid otp")

// AccountCaller is the user an account API request acts for: authenticated by an access
// token carrying the account scope, or (for enrolment only) by the mfa_token of a login
// that answered enrollment_required.
type AccountCaller struct {
	Tenant db.Tenant
	User   db.User
	Actor  db.Actor
	// For an access token: its session, client, scope and the client's CORS origins.
	SessionID uuid.UUID
	ClientID  string
	Scope     string
	Origins   []string
	// login is the ClientAuth and challenge of an enrolment mfa_token; nil for an access
	// token.
	login *enrolmentLogin
}

type enrolmentLogin struct {
	ca        db.ClientAuth
	challenge db.MFAChallenge
	// cs is set for an auth_session of the challenge endpoint: the enrolment ends in a code.
	cs *db.ChallengeSession
}

// ViaMFAToken reports whether the caller presented an mfa_token.
func (c AccountCaller) ViaMFAToken() bool { return c.login != nil }

// AccountCaller authenticates bearer for the account API. enrolment says the endpoint is
// one of the two an enrolment mfa_token opens. It returns ErrInvalidToken for anything but
// a live access token of a user (or, where enrolment, a live enrolment mfa_token of a user
// still without a factor) and ErrInsufficientScope for an access token without the
// account scope. ip and requestID go into the events the caller's requests write.
func (s *Service) AccountCaller(ctx context.Context, bearer string, enrolment bool, ip, requestID string) (AccountCaller, error) {
	now := s.Now()
	var c AccountCaller
	switch tokens.KindOf(bearer) {
	case tokens.Access:
		h := tokens.HashOf(bearer)
		at, err := s.store.AccountTokenByHash(ctx, h[:], now)
		if errors.Is(err, db.ErrNotFound) {
			return c, ErrInvalidToken
		}
		if err != nil {
			return c, fmt.Errorf("account token: %w", err)
		}
		if !slices.Contains(strings.Fields(at.Scope), AccountScope) {
			return c, ErrInsufficientScope
		}
		c.Tenant, c.User = at.Tenant, at.User
		c.SessionID, c.ClientID, c.Scope, c.Origins = at.SessionID, at.ClientID, at.Scope, at.Origins
	case tokens.MFA, tokens.AuthSession:
		if !enrolment {
			return c, ErrInvalidToken
		}
		var err error
		if c, err = s.enrolmentCaller(ctx, bearer); err != nil {
			return c, err
		}
	default:
		return c, ErrInvalidToken
	}
	c.Actor = db.Actor{Type: "user", ID: c.User.ID.String(), Name: c.User.Username, IP: ip, RequestID: requestID}
	return c, nil
}

// enrolmentCaller is AccountCaller for an mfa_token.
func (s *Service) enrolmentCaller(ctx context.Context, bearer string) (AccountCaller, error) {
	var c AccountCaller
	now := s.Now()
	h := tokens.HashOf(bearer)
	ch, err := s.store.MFAChallengeByHash(ctx, h[:], now)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !ch.Token.Enrollment) {
		return c, ErrInvalidToken
	}
	if err != nil {
		return c, fmt.Errorf("mfa token: %w", err)
	}
	ca, err := s.store.ClientForAuth(ctx, ch.Token.ClientID, now)
	if errors.Is(err, db.ErrNotFound) {
		return c, ErrInvalidToken
	}
	if err != nil {
		return c, fmt.Errorf("mfa token: %w", err)
	}
	st, err := s.store.UserMFA(ctx, ch.Token.TenantID, ch.User.ID)
	if err != nil {
		return c, fmt.Errorf("mfa token: %w", err)
	}
	if st.Active() || ca.Tenant.ID != ch.Token.TenantID {
		return c, ErrInvalidToken
	}
	c.Tenant, c.User = ca.Tenant, ch.User
	c.login = &enrolmentLogin{ca: ca, challenge: ch}
	return c, s.withChallengeSession(ctx, bearer, c.login)
}

// AccountMe returns the caller's user and factors.
func (s *Service) AccountMe(ctx context.Context, c AccountCaller) (db.User, db.MFAState, error) {
	st, err := s.store.UserMFA(ctx, c.Tenant.ID, c.User.ID)
	return c.User, st, err
}

// callerEvent starts an event of kind about the caller's user.
func (s *Service) callerEvent(kind string, c AccountCaller) db.Event {
	ev := s.userEvent(kind, c.Actor, c.Tenant, c.User)
	if c.login != nil {
		ev.ClientID = c.login.ca.Client.ID
	}
	return ev
}
