package service

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jeton-auth/jeton/db"
	"github.com/pquerna/otp/totp"
)

// TOTPEnrolment is a pending TOTP factor as shown once to its user: the base32 secret
// and the otpauth URI an authenticator app reads (as a QR code, usually).
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"otpauth_uri"`
}

// StartTOTP makes a new pending TOTP factor for the caller (replacing a pending one). It
// returns a *ConflictError when the caller has an active factor or no key ring is
// configured.
func (s *Service) StartTOTP(ctx context.Context, c AccountCaller) (TOTPEnrolment, error) {
	if !s.keys.Usable() {
		return TOTPEnrolment{}, errNoKeyRing
	}
	raw := make([]byte, totpSecretSize)
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return TOTPEnrolment{}, fmt.Errorf("totp secret: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: c.Tenant.Name, AccountName: c.User.Username,
		Period: totpPeriod, Secret: raw, Digits: totpOpts.Digits, Algorithm: totpOpts.Algorithm})
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("totp key: %w", err)
	}
	keyID, sealed, err := s.keys.Seal(raw, factorAD(c.Tenant.ID, c.User.ID), s.rand)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	err = s.store.PutPendingTOTP(ctx, db.TOTPFactor{TenantID: c.Tenant.ID, UserID: c.User.ID, KeyID: keyID, Secret: sealed}, s.Now())
	if errors.Is(err, db.ErrConflict) {
		return TOTPEnrolment{}, errFactorActive
	}
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: key.Secret(), URI: key.URL()}, nil
}

var (
	errFactorActive = &ConflictError{Kind: "mfa-active", Reason: "a TOTP factor is active: remove it first"}
	errNoPending    = &ConflictError{Kind: "mfa-not-pending", Reason: "no TOTP enrolment is pending: start one with POST /account/v1/mfa/totp"}
	errMFARequired  = &ConflictError{Kind: "mfa-required", Field: "mfa_policy",
		Reason: "the tenant's mfa_policy is required: a factor cannot be removed"}
)

// Confirmation is the answer to a confirmed enrolment: the recovery codes, shown once,
// and, when it completed a login (an enrolment mfa_token), that login's tokens.
type Confirmation struct {
	RecoveryCodes []string
	Login         *TokenResponse
	// AuthorizationCode completes an auth_session's login instead of Login.
	AuthorizationCode string
}

// ConfirmTOTP activates the caller's pending factor with a current code of it and makes
// her recovery codes; with an enrolment mfa_token it also completes that login and
// consumes the token. Errors: ErrInvalidOTP, a *ConflictError when nothing is pending or
// a factor is active, a *ThrottledError past the wrong-code limit, ErrInvalidToken when
// the mfa_token died meanwhile, and the database's.
func (s *Service) ConfirmTOTP(ctx context.Context, c AccountCaller, code string) (Confirmation, error) {
	now := s.Now()
	f, err := s.store.TOTP(ctx, c.Tenant.ID, c.User.ID)
	if errors.Is(err, db.ErrNotFound) {
		return Confirmation{}, errNoPending
	}
	if err != nil {
		return Confirmation{}, err
	}
	if f.Confirmed {
		return Confirmation{}, errFactorActive
	}
	step, err := s.accountCode(ctx, c, f, code)
	if err != nil {
		return Confirmation{}, err
	}
	codes, rc, err := newRecoveryCodes(s.rand)
	if err != nil {
		return Confirmation{}, err
	}
	out := Confirmation{RecoveryCodes: codes}
	ev := s.callerEvent("mfa_enrolled", c)
	ev.Detail = map[string]any{"factor": "totp"}
	var comp *db.MFACompletion
	if c.login != nil && c.login.cs != nil {
		if comp, out.AuthorizationCode, err = s.enrolledCode(c, now); err != nil {
			return Confirmation{}, err
		}
	} else if c.login != nil {
		l := c.login
		resp, login, err := s.newLogin(l.ca, c.User, grantedScope(l.challenge.Token.Scope, c.User, l.ca.Client), c.Actor, now)
		if err != nil {
			return Confirmation{}, err
		}
		comp = &db.MFACompletion{TokenHash: l.challenge.Token.Hash, Login: login, AMR: []string{"pwd", "otp"},
			Username: c.User.Username, IP: l.challenge.Token.IP}
		login.Event.Detail["amr"] = comp.AMR
		out.Login = &resp
	}
	err = s.store.UseTOTPAndReplaceCodes(ctx, db.TOTPUse{TenantID: c.Tenant.ID, UserID: c.User.ID, Step: step, Confirm: true}, rc, ev, comp)
	switch {
	case errors.Is(err, db.ErrCodeUsed):
		return Confirmation{}, ErrInvalidOTP
	case errors.Is(err, db.ErrStale):
		return Confirmation{}, ErrInvalidToken
	case err != nil:
		return Confirmation{}, err
	}
	if comp != nil {
		s.obs.TokenIssued(GrantMFAOTP)
	}
	return out, nil
}

// accountCode checks code against f for an account request of c: the code is counted
// first (on the mfa_token too, when c came with one: ErrInvalidToken when it allows no
// more), a *ThrottledError past the wrong-code limit; a wrong one is answered
// ErrInvalidOTP.
func (s *Service) accountCode(ctx context.Context, c AccountCaller, f db.TOTPFactor, code string) (int64, error) {
	now := s.Now()
	var tokenHash []byte
	if c.login != nil {
		tokenHash = c.login.challenge.Token.Hash
	}
	if err := s.countAttempt(ctx, c.Tenant, c.User, tokenHash, now); err != nil {
		if errors.Is(err, ErrInvalidGrant) {
			return 0, ErrInvalidToken // the mfa_token allows no more codes
		}
		return 0, err
	}
	step, err := s.matchTOTP(f, code, now)
	if !errors.Is(err, errWrongCode) {
		return step, err
	}
	ev := s.callerEvent("mfa_failure", c)
	ev.Detail = map[string]any{"factor": "otp"}
	if err := s.store.RecordEvent(ctx, ev); err != nil {
		return 0, err
	}
	return 0, ErrInvalidOTP
}

// activeTOTP returns c's active factor, ErrNotFound without one.
func (s *Service) activeTOTP(ctx context.Context, c AccountCaller) (db.TOTPFactor, error) {
	f, err := s.store.TOTP(ctx, c.Tenant.ID, c.User.ID)
	if err == nil && !f.Confirmed {
		return f, fmt.Errorf("totp: %w", ErrNotFound)
	}
	return f, err
}

// RemoveTOTP removes the caller's active factor and recovery codes, given a current code.
// Errors: a *ConflictError under policy required, ErrNotFound without an active factor,
// ErrInvalidOTP, a *ThrottledError, and the database's.
func (s *Service) RemoveTOTP(ctx context.Context, c AccountCaller, code string) error {
	if c.Tenant.MFAPolicy == MFARequired {
		return errMFARequired
	}
	f, err := s.activeTOTP(ctx, c)
	if err != nil {
		return err
	}
	step, err := s.accountCode(ctx, c, f, code)
	if err != nil {
		return err
	}
	ev := s.callerEvent("mfa_removed", c)
	ev.Detail = map[string]any{"factor": "totp"}
	err = s.store.RemoveTOTP(ctx, db.TOTPUse{TenantID: c.Tenant.ID, UserID: c.User.ID, Step: step}, ev)
	if errors.Is(err, db.ErrCodeUsed) {
		return ErrInvalidOTP
	}
	return err
}

// RegenerateRecoveryCodes replaces the caller's recovery codes, given a current code of
// her active factor, and returns the new ones (shown once). Errors as RemoveTOTP's,
// without the policy's.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, c AccountCaller, code string) ([]string, error) {
	f, err := s.activeTOTP(ctx, c)
	if err != nil {
		return nil, err
	}
	step, err := s.accountCode(ctx, c, f, code)
	if err != nil {
		return nil, err
	}
	codes, rc, err := newRecoveryCodes(s.rand)
	if err != nil {
		return nil, err
	}
	ev := s.callerEvent("recovery_codes_regenerated", c)
	err = s.store.UseTOTPAndReplaceCodes(ctx, db.TOTPUse{TenantID: c.Tenant.ID, UserID: c.User.ID, Step: step}, rc, ev, nil)
	if errors.Is(err, db.ErrCodeUsed) {
		return nil, ErrInvalidOTP
	}
	return codes, err
}
