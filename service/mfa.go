package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/keyring"
	"github.com/jeton-auth/jeton/tokens"
)

// The second-factor grants: jeton's, and Auth0's names for the same requests, accepted as
// aliases.
const (
	GrantMFAOTP               = "urn:jeton:params:oauth:grant-type:mfa-otp"
	GrantMFARecoveryCode      = "urn:jeton:params:oauth:grant-type:mfa-recovery-code"
	GrantAuth0MFAOTP          = "http://auth0.com/oauth/grant-type/mfa-otp"
	GrantAuth0MFARecoveryCode = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
)

// The tenant's mfa_policy values.
const (
	MFAOff      = "off"
	MFAOptional = "optional"
	MFARequired = "required"
)

// Second-factor limits: an mfa_token lives 5 minutes; a user may send
// DefaultMFAFailureLimit wrong codes per MFAFailureWindow (tenant mfa_failure_limit).
const (
	MFATokenTTL            = 5 * time.Minute
	MFAFailureWindow       = 15 * time.Minute
	DefaultMFAFailureLimit = 10
	MaxMFAFailureLimit     = 1000
)

// WithKeyRing gives the service the key ring that seals factor secrets. Without one (or
// with an empty one) no tenant may have an mfa_policy other than off.
func WithKeyRing(r *keyring.Ring) Option { return func(s *Service) { s.keys = r } }

// MFARequiredError answers a correct password when the user must pass a second factor:
// no tokens, an mfa_token to continue with (RFC 6749 §5.2 extended as Auth0 does, 403).
type MFARequiredError struct {
	Token string
	// Enrollment: the user has no factor yet and enrols with the token (policy required).
	Enrollment bool
}

func (e *MFARequiredError) Error() string { return "mfa_required" }

// ConflictError refuses a change that a setting or the resource's state forbids; Kind
// names it (the problem type), Field the setting when there is one.
type ConflictError struct {
	Kind, Field, Reason string
}

func (e *ConflictError) Error() string { return e.Kind + ": " + e.Reason }

// errNoKeyRing refuses a second-factor policy, or an enrolment, without a key ring.
var errNoKeyRing = &ConflictError{Kind: "key-ring-missing", Field: "mfa_policy",
	Reason: "mfa_policy other than off needs a key ring: set JETON_SECRET_KEYS or --secret-keys-file"}

// validMFASettings checks a tenant's second-factor settings.
func (s *Service) validMFASettings(t db.Tenant) error {
	if !slices.Contains([]string{MFAOff, MFAOptional, MFARequired}, t.MFAPolicy) {
		return invalid("mfa_policy", "must be off, optional or required")
	}
	if l := t.MFAFailureLimit; l != nil && (*l < 1 || *l > MaxMFAFailureLimit) {
		return invalid("mfa_failure_limit", fmt.Sprintf("must be from 1 to %d", MaxMFAFailureLimit))
	}
	return nil
}

// keyRingFor refuses, without a key ring, a change of before's mfa_policy to one other
// than off; other changes of a tenant with such a policy (a rename, a disable) need none.
func (s *Service) keyRingFor(before, t db.Tenant) error {
	if t.MFAPolicy != MFAOff && t.MFAPolicy != before.MFAPolicy && !s.keys.Usable() {
		return errNoKeyRing
	}
	return nil
}

// MFAPolicyTenants returns the slugs of the tenants whose mfa_policy is not off: serve
// refuses to start without a key ring while there is one.
func (s *Service) MFAPolicyTenants(ctx context.Context) ([]string, error) {
	return s.store.MFAPolicyTenants(ctx)
}

// challenge decides, after a correct password, whether u must pass a second factor: nil
// when not (the login goes on), else the *MFARequiredError to answer, its mfa_token
// recorded and the password attempt's throttle unit given back.
func (s *Service) challenge(ctx context.Context, ca db.ClientAuth, u db.User, scopes []string, o loginOrigin, actor db.Actor, now time.Time) error {
	return s.challengeAs(ctx, ca, u, scopes, o, actor, now, nil)
}

// challengeAs is challenge; with cs the token is an auth_session of the authorization
// challenge endpoint (AuthSessionTTL) recorded with cs, else an mfa_token.
func (s *Service) challengeAs(ctx context.Context, ca db.ClientAuth, u db.User, scopes []string, o loginOrigin, actor db.Actor, now time.Time, cs *db.ChallengeSession) error {
	need, enrol, err := s.needsFactor(ctx, ca, u)
	if !need || err != nil {
		return err
	}
	p := pendingLogin{user: u, scope: strings.Join(scopes, " "), ip: o.counters.IP, enrol: enrol, via: o.via,
		counters: &o.counters, cs: cs}
	tok, err := s.pending(ctx, ca, p, actor, now)
	if err != nil {
		return fmt.Errorf("password grant: %w", err)
	}
	return &MFARequiredError{Token: tok, Enrollment: enrol}
}

// pendingLogin is a login waiting for its second factor: ip is the address as the
// throttles count it, via the connection's address when that is a forwarded one,
// counters those the password step reserved a unit on (nil for a step-up), cs what an
// auth_session keeps (nil for an mfa_token).
type pendingLogin struct {
	user      db.User
	scope, ip string
	enrol     bool
	via       string
	counters  *db.LoginCounters
	cs        *db.ChallengeSession
}

// pending records p and its mfa_challenged event and returns its token.
func (s *Service) pending(ctx context.Context, ca db.ClientAuth, p pendingLogin, actor db.Actor, now time.Time) (string, error) {
	kind, ttl := tokens.MFA, MFATokenTTL
	if p.cs != nil {
		kind, ttl = tokens.AuthSession, AuthSessionTTL
	}
	tok, err := tokens.New(kind, s.rand)
	if err != nil {
		return "", err
	}
	h := tokens.HashOf(tok)
	u := p.user
	mt := db.MFAToken{Hash: h[:], TenantID: ca.Tenant.ID, ClientID: ca.Client.ID, UserID: u.ID, UserEpoch: u.Epoch,
		Scope: p.scope, IP: p.ip, Enrollment: p.enrol, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	ev := s.userEvent("mfa_challenged", actor, ca.Tenant, u)
	ev.ClientID = ca.Client.ID
	ev.Detail = map[string]any{"enrollment_required": mt.Enrollment}
	if p.via != "" {
		ev.Detail["forwarded_by"] = p.via
	}
	if p.cs != nil && p.cs.SessionID != nil {
		ev.Detail["step_up_session"] = p.cs.SessionID.String()
	}
	if p.cs == nil {
		err = s.store.CreateMFAToken(ctx, mt, *p.counters, ev)
	} else {
		err = s.store.CreateChallengeSession(ctx, mt, *p.cs, p.counters, ev)
	}
	return tok, err
}

// needsFactor reports whether u must pass a second factor under her tenant's policy, and
// whether she must enrol one first.
func (s *Service) needsFactor(ctx context.Context, ca db.ClientAuth, u db.User) (need, enrol bool, err error) {
	policy := ca.Tenant.MFAPolicy
	if policy == "" || policy == MFAOff {
		return false, false, nil
	}
	st, err := s.store.UserMFA(ctx, ca.Tenant.ID, u.ID)
	if err != nil {
		return false, false, fmt.Errorf("password grant: %w", err)
	}
	if !st.Active() && policy != MFARequired {
		return false, false, nil
	}
	return true, !st.Active(), nil
}

// MFAGrant is one request of the mfa-otp or mfa-recovery-code grant: the mfa_token and
// exactly one of the codes.
type MFAGrant struct {
	MFAToken, OTP, RecoveryCode string
	Actor                       db.Actor
}

// MFAGrant completes a login whose password was right with a second factor, for the
// client the mfa_token was issued to. Wrong or replayed codes and unknown, expired, used,
// dead or foreign tokens are ErrInvalidGrant; a user past her wrong-code limit gets a
// *ThrottledError, whatever her code. Other errors: ErrUnauthorizedClient and the
// database's.
func (s *Service) MFAGrant(ctx context.Context, ca db.ClientAuth, g MFAGrant) (TokenResponse, error) {
	if !allows(ca.Client, GrantPassword) {
		return TokenResponse{}, ErrUnauthorizedClient
	}
	if tokens.Check(tokens.MFA, g.MFAToken) != nil {
		return TokenResponse{}, ErrInvalidGrant
	}
	now := s.Now()
	h := tokens.HashOf(g.MFAToken)
	ch, err := s.store.MFAChallengeByHash(ctx, h[:], now)
	if errors.Is(err, db.ErrNotFound) || (err == nil && (ch.Token.TenantID != ca.Tenant.ID || ch.Token.ClientID != ca.Client.ID)) {
		return TokenResponse{}, ErrInvalidGrant
	}
	if err != nil {
		return TokenResponse{}, fmt.Errorf("mfa grant: %w", err)
	}
	comp, factor, err := s.secondFactor(ctx, ch, h[:], g, now)
	if err != nil {
		return TokenResponse{}, err
	}
	if r := ch.User.PasswordChangeReason; r != "" && comp != nil {
		// After the second factor, even a breached password's holder may set the next one;
		// the code is only counted, the login goes on with the new password.
		if err := s.attemptSecondFactor(ctx, ca, ch, factor, g.Actor, nil, false, now); err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{}, s.passwordChangeAnswer(ctx, ca.Tenant, ch.User, r, true, g.Actor)
	}
	var resp TokenResponse
	if comp != nil {
		var login db.Login
		resp, login, err = s.newLogin(ca, ch.User, grantedScope(ch.Token.Scope, ch.User, ca.Client), g.Actor, now)
		if err != nil {
			return TokenResponse{}, err
		}
		login.Event.Detail["amr"] = comp.AMR
		comp.Login = login
	}
	if err := s.attemptSecondFactor(ctx, ca, ch, factor, g.Actor, comp, true, now); err != nil {
		return TokenResponse{}, err
	}
	if comp.RecoveryHash != nil {
		s.obs.TokenIssued(GrantMFARecoveryCode)
	} else {
		s.obs.TokenIssued(GrantMFAOTP)
	}
	return resp, nil
}

// secondFactor checks g's code for the live challenge ch (its token's hash h) and
// returns the completion to record when it is right (its Login still to fill), nil when
// it is wrong, and the factor's name. Whether it counts is attemptSecondFactor's to say.
func (s *Service) secondFactor(ctx context.Context, ch db.MFAChallenge, h []byte, g MFAGrant, now time.Time) (*db.MFACompletion, string, error) {
	comp := db.MFACompletion{TokenHash: h, Username: ch.User.Username, IP: ch.Token.IP}
	factor := "otp"
	var err error
	if g.OTP != "" {
		comp.AMR = []string{"pwd", "otp"}
		comp.TOTPStep, err = s.checkTOTP(ctx, ch.User, g.OTP, now)
	} else {
		factor, comp.AMR = "recovery_code", []string{"pwd", "mfa"}
		comp.RecoveryHash, err = s.recoveryCodeHash(ctx, ch.User, g.RecoveryCode)
	}
	if errors.Is(err, errWrongCode) {
		return nil, factor, nil
	}
	if err != nil {
		return nil, factor, err
	}
	return &comp, factor, nil
}

// attemptSecondFactor counts a code of ch's login and, in the same transaction, records
// comp (the login it completes) or, when comp is nil or its code was used meanwhile (a
// replay), the code's failure when failure is set: then ErrInvalidGrant. A user past her
// wrong-code limit gets a *ThrottledError before anything else, and a token that allows
// no more codes, or died meanwhile, is ErrInvalidGrant; both write nothing.
func (s *Service) attemptSecondFactor(ctx context.Context, ca db.ClientAuth, ch db.MFAChallenge, factor string, actor db.Actor,
	comp *db.MFACompletion, failure bool, now time.Time) error {
	a := db.MFALoginAttempt{Attempt: s.mfaAttempt(ca.Tenant, ch.User, ch.Token.Hash, now), Completion: comp}
	if failure {
		ev := s.mfaUserEvent("mfa_failure", ca, ch, actor)
		ev.Detail = map[string]any{"factor": factor}
		a.Failure = &ev
	}
	if comp != nil && comp.RecoveryHash != nil {
		comp.Events = append(comp.Events, s.mfaUserEvent("recovery_code_used", ca, ch, actor))
	}
	until, err := s.store.AttemptMFALogin(ctx, a)
	if errors.Is(err, db.ErrCodeUsed) {
		return ErrInvalidGrant
	}
	return attemptError(err, until, now)
}

// mfaUserEvent is an event of kind about ch's user, by ca's client.
func (s *Service) mfaUserEvent(kind string, ca db.ClientAuth, ch db.MFAChallenge, actor db.Actor) db.Event {
	ev := s.userEvent(kind, actor, ca.Tenant, ch.User)
	ev.ClientID = ca.Client.ID
	return ev
}

// errWrongCode is a code that does not match, or was used already.
var errWrongCode = errors.New("wrong code")

// mfaAttempt is a code about to be checked for u of tenant t, on the mfa_token with
// tokenHash (none when nil), under t's wrong-code limit.
func (s *Service) mfaAttempt(t db.Tenant, u db.User, tokenHash []byte, now time.Time) db.MFAAttempt {
	limit := DefaultMFAFailureLimit
	if t.MFAFailureLimit != nil {
		limit = *t.MFAFailureLimit
	}
	return db.MFAAttempt{TenantID: t.ID, UserID: u.ID, TokenHash: tokenHash, Limit: limit, Window: MFAFailureWindow, Now: now}
}

// countAttempt counts a code about to be checked for u on the mfa_token with tokenHash
// (none when nil) and on u's counter, before the check, so that concurrent codes cannot
// pass the limits together. It returns a *ThrottledError when u reached the tenant's
// limit, ErrInvalidGrant when the token allows no more codes.
func (s *Service) countAttempt(ctx context.Context, t db.Tenant, u db.User, tokenHash []byte, now time.Time) error {
	until, err := s.store.CountMFAAttempt(ctx, s.mfaAttempt(t, u, tokenHash, now))
	return attemptError(err, until, now)
}

// attemptError is what counting a code answered: a *ThrottledError until the user's
// window ends when she reached her limit, ErrInvalidGrant when the token allows no more
// codes.
func attemptError(err error, until, now time.Time) error {
	switch {
	case errors.Is(err, db.ErrMFALimit):
		secs := int64(until.Sub(now)+time.Second-1) / int64(time.Second)
		return &ThrottledError{RetryAfter: time.Duration(max(secs, 1)) * time.Second}
	case errors.Is(err, db.ErrStale):
		return ErrInvalidGrant
	case err != nil:
		return fmt.Errorf("mfa attempt: %w", err)
	}
	return nil
}

// checkTOTP returns the step of code for u's active factor, errWrongCode when it does not
// match or was used (or u has no active factor).
func (s *Service) checkTOTP(ctx context.Context, u db.User, code string, now time.Time) (int64, error) {
	f, err := s.store.TOTP(ctx, u.TenantID, u.ID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !f.Confirmed) {
		return 0, errWrongCode
	}
	if err != nil {
		return 0, fmt.Errorf("totp: %w", err)
	}
	return s.matchTOTP(f, code, now)
}

// matchTOTP opens f's secret and returns the step of code, or errWrongCode.
func (s *Service) matchTOTP(f db.TOTPFactor, code string, now time.Time) (int64, error) {
	secret, err := s.keys.Open(f.KeyID, f.Secret, factorAD(f.TenantID, f.UserID))
	if err != nil {
		return 0, fmt.Errorf("totp secret of user %s: %w", f.UserID, err)
	}
	if step := totpStep(secret, code, now, f.LastStep); step != 0 {
		return step, nil
	}
	return 0, errWrongCode
}

// recoveryCodeHash returns what u's recovery code code is stored as, errWrongCode when u
// has none; whether it is unused the completing statement decides.
func (s *Service) recoveryCodeHash(ctx context.Context, u db.User, code string) ([]byte, error) {
	code = normalizeRecoveryCode(code)
	if len(code) != recoveryCodeLen {
		return nil, errWrongCode
	}
	salt, err := s.store.RecoverySalt(ctx, u.TenantID, u.ID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, errWrongCode
	}
	if err != nil {
		return nil, fmt.Errorf("recovery code: %w", err)
	}
	return recoveryHash(salt, code), nil
}

// grantedScope is the scope a login asked for (an mfa_token's, an authorization code's),
// narrowed to what the user and the client may have now, as a refresh narrows it.
func grantedScope(scope string, u db.User, c db.Client) []string {
	out, _ := userScope(scopeList(scope), u, false)
	return slices.DeleteFunc(out, func(sc string) bool { return !slices.Contains(c.Scopes, sc) })
}

// scopeList splits a stored space-separated scope.
func scopeList(scope string) []string {
	if scope == "" {
		return []string{}
	}
	return strings.Split(scope, " ")
}
