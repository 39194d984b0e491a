package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// OAuth 2.0 for First-Party Applications (draft-ietf-oauth-first-party-apps): an auth
// session of an unfinished challenge lives 10 minutes, an authorization code 60 seconds.
const (
	AuthSessionTTL = 10 * time.Minute
	AuthCodeTTL    = 60 * time.Second
	// AuthCodeReuseWindow is how long a code is kept after it expired, so that presenting
	// it again still revokes what it issued.
	AuthCodeReuseWindow = 24 * time.Hour
)

// ErrInvalidSession is the draft's invalid_session: the auth_session is unknown, expired,
// completed, another client's, or sent with a username and password.
var ErrInvalidSession = errors.New("invalid_session")

// errNoFactor refuses a step-up for a user without a second factor.
var errNoFactor = &ValidationError{Field: "acr_values", Reason: "the user has no second factor to step up with",
	OAuth: ErrInvalidRequest}

// Challenge is one request to the authorization challenge endpoint: the initial one
// (Login's username and password), or a follow-up with an AuthSession and a code, or a
// step-up (a redeemed code's AuthSession with ACRValues or a scope).
type Challenge struct {
	Login                              PasswordLogin
	CodeChallenge, CodeChallengeMethod string
	AuthSession, OTP, RecoveryCode     string
	ACRValues                          string
}

// ChallengeResponse is the endpoint's success (draft §5.2.1).
type ChallengeResponse struct {
	AuthorizationCode string `json:"authorization_code"`
}

// AuthorizeChallenge answers one request to the authorization challenge endpoint for ca,
// a first-party client allowed the authorization_code grant (ErrUnauthorizedClient
// otherwise): an authorization code, or an *MFARequiredError whose Token is the
// auth_session to continue with. The password is verified as PasswordGrant verifies it,
// with its errors; a code as MFAGrant checks it, with its errors.
func (s *Service) AuthorizeChallenge(ctx context.Context, ca db.ClientAuth, r Challenge) (ChallengeResponse, error) {
	if err := ChallengeAllowed(ca); err != nil {
		return ChallengeResponse{}, err
	}
	if r.AuthSession != "" {
		if r.Login.Username != "" || r.Login.Password != "" {
			return ChallengeResponse{}, ErrInvalidSession
		}
		return s.continueChallenge(ctx, ca, r)
	}
	pkce, err := codeChallenge(ca.Client, r)
	if err != nil {
		return ChallengeResponse{}, err
	}
	v, err := s.verifyPassword(ctx, ca, r.Login)
	if err != nil {
		return ChallengeResponse{}, err
	}
	cs := db.ChallengeSession{CodeChallenge: pkce}
	if err := s.challengeAs(ctx, ca, v.user, v.scopes, v.origin, v.actor, v.now, &cs); err != nil {
		s.settleChallenge(ctx, ca, v, err)
		return ChallengeResponse{}, err
	}
	if v.changeReason != "" {
		// A forced password change holds here as at /token.
		s.giveBack(ctx, v.origin.counters)
		return ChallengeResponse{}, s.passwordChangeAnswer(ctx, ca.Tenant, v.user, v.changeReason, false, v.actor)
	}
	tok, code, err := s.newCode(ca, v.user, strings.Join(v.scopes, " "), []string{"pwd"}, cs, v.origin.counters.IP, v.now)
	if err != nil {
		s.giveBack(ctx, v.origin.counters)
		return ChallengeResponse{}, err
	}
	if err := s.store.IssueCode(ctx, code, v.origin.counters); err != nil {
		s.giveBack(ctx, v.origin.counters)
		if errors.Is(err, db.ErrStale) {
			return ChallengeResponse{}, ErrInvalidGrant
		}
		return ChallengeResponse{}, fmt.Errorf("authorization challenge: %w", err)
	}
	s.rehash(ctx, ca, v)
	return ChallengeResponse{AuthorizationCode: tok}, nil
}

// ChallengeAllowed returns ErrUnauthorizedClient unless ca is a first-party client allowed
// the authorization_code grant: the draft's server verifies first-partyness, and jeton
// takes the operator's word for it.
func ChallengeAllowed(ca db.ClientAuth) error {
	if !ca.Client.FirstParty || !allows(ca.Client, GrantAuthorizationCode) {
		return ErrUnauthorizedClient
	}
	return nil
}

// codeChallenge checks the request's PKCE parameters (RFC 7636 §4.3): S256 only, required
// of a public client. It returns the challenge, nil for none.
func codeChallenge(c db.Client, r Challenge) (*string, error) {
	switch {
	case r.CodeChallenge == "" && r.CodeChallengeMethod != "":
		return nil, invalid("code_challenge", "is required with code_challenge_method")
	case r.CodeChallenge == "" && c.Public:
		return nil, invalid("code_challenge", "is required of a public client (PKCE, S256)")
	case r.CodeChallenge == "":
		return nil, nil
	case r.CodeChallengeMethod != "S256":
		return nil, invalid("code_challenge_method", "must be S256")
	case !validPKCE(r.CodeChallenge, 43, 43):
		return nil, invalid("code_challenge", "must be the base64url SHA-256 of the code_verifier (43 characters)")
	}
	return &r.CodeChallenge, nil
}

// validPKCE reports whether v is min to max characters of RFC 7636's unreserved set.
func validPKCE(v string, min, max int) bool {
	if len(v) < min || len(v) > max {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			return false
		}
	}
	return true
}

// newCode mints an authorization code of u for ca.
func (s *Service) newCode(ca db.ClientAuth, u db.User, scope string, amr []string, cs db.ChallengeSession, ip string, now time.Time) (string, db.AuthCode, error) {
	tok, err := tokens.New(tokens.AuthCode, s.rand)
	if err != nil {
		return "", db.AuthCode{}, err
	}
	h := tokens.HashOf(tok)
	return tok, db.AuthCode{Hash: h[:], TenantID: ca.Tenant.ID, ClientID: ca.Client.ID, UserID: u.ID,
		UserEpoch: u.Epoch, Scope: scope, AMR: amr, CodeChallenge: cs.CodeChallenge, SessionID: cs.SessionID,
		IP: ip, CreatedAt: now, ExpiresAt: now.Add(AuthCodeTTL)}, nil
}

// continueChallenge is a request with an auth_session: the second factor of an unfinished
// challenge, or a step-up of a redeemed code's session.
func (s *Service) continueChallenge(ctx context.Context, ca db.ClientAuth, r Challenge) (ChallengeResponse, error) {
	if tokens.Check(tokens.AuthSession, r.AuthSession) != nil {
		return ChallengeResponse{}, ErrInvalidSession
	}
	now := s.Now()
	h := tokens.HashOf(r.AuthSession)
	ch, err := s.store.MFAChallengeByHash(ctx, h[:], now)
	if errors.Is(err, db.ErrNotFound) {
		return s.stepUp(ctx, ca, r, h[:], now)
	}
	if err != nil {
		return ChallengeResponse{}, fmt.Errorf("authorization challenge: %w", err)
	}
	if ch.Token.TenantID != ca.Tenant.ID || ch.Token.ClientID != ca.Client.ID {
		return ChallengeResponse{}, ErrInvalidSession
	}
	cs, err := s.store.ChallengeSessionByHash(ctx, h[:])
	if errors.Is(err, db.ErrNotFound) {
		return ChallengeResponse{}, ErrInvalidSession
	}
	if err != nil {
		return ChallengeResponse{}, fmt.Errorf("authorization challenge: %w", err)
	}
	if r.OTP == "" && r.RecoveryCode == "" {
		// Asked again: the same auth_session goes on.
		return ChallengeResponse{}, &MFARequiredError{Token: r.AuthSession, Enrollment: ch.Token.Enrollment}
	}
	g := MFAGrant{OTP: r.OTP, RecoveryCode: r.RecoveryCode, Actor: r.Login.Actor}
	comp, factor, err := s.secondFactor(ctx, ch, h[:], g, now)
	if err != nil {
		return ChallengeResponse{}, err
	}
	var tok string
	if comp != nil {
		var code db.AuthCode
		if tok, code, err = s.newCode(ca, ch.User, ch.Token.Scope, comp.AMR, cs, ch.Token.IP, now); err != nil {
			return ChallengeResponse{}, err
		}
		comp.Login = db.Login{TenantID: ca.Tenant.ID, ClientID: ca.Client.ID, UserID: ch.User.ID, Now: now}
		comp.Code = &code
	}
	if err := s.attemptSecondFactor(ctx, ca, ch, factor, g.Actor, comp, true, now); err != nil {
		return ChallengeResponse{}, err
	}
	return ChallengeResponse{AuthorizationCode: tok}, nil
}

// withChallengeSession marks l, the login of an enrolment bearer, as an auth_session's
// when bearer is one: its enrolment then ends in an authorization code.
func (s *Service) withChallengeSession(ctx context.Context, bearer string, l *enrolmentLogin) error {
	if tokens.Check(tokens.AuthSession, bearer) != nil {
		return nil
	}
	cs, err := s.store.ChallengeSessionByHash(ctx, l.challenge.Token.Hash)
	if errors.Is(err, db.ErrNotFound) {
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("auth session: %w", err)
	}
	l.cs = &cs
	return nil
}

// enrolledCode is the completion of an auth_session's login by the enrolment of c's
// first factor: an authorization code, as the endpoint's second step would issue.
func (s *Service) enrolledCode(c AccountCaller, now time.Time) (*db.MFACompletion, string, error) {
	l := c.login
	tok, code, err := s.newCode(l.ca, c.User, l.challenge.Token.Scope, []string{"pwd", "otp"}, *l.cs, l.challenge.Token.IP, now)
	if err != nil {
		return nil, "", err
	}
	return &db.MFACompletion{TokenHash: l.challenge.Token.Hash, AMR: code.AMR, Username: c.User.Username,
		IP: l.challenge.Token.IP, Code: &code,
		Login: db.Login{TenantID: l.ca.Tenant.ID, ClientID: l.ca.Client.ID, UserID: c.User.ID, Now: now}}, tok, nil
}
