package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/tokens"
)

// DefaultResetTTL is how long a reset token lives unless the tenant sets
// password_reset_ttl; MaxPasswordHistory bounds the tenant's password_history.
const (
	DefaultResetTTL    = 30 * time.Minute
	MaxPasswordHistory = 24
)

// The reasons a user must change the password before getting tokens.
const (
	ReasonAdmin    = "admin"
	ReasonBreached = "breached"
	ReasonExpired  = "expired"
)

// ResetAddressLimit bounds the failed redemptions (unknown tokens) from one address, and
// ResetTokenLimit those of one token (refused passwords), per ResetWindow.
const (
	ResetAddressLimit = 20
	ResetTokenLimit   = 10
	ResetWindow       = time.Hour
)

// resetAllowed refuses a redemption with a *ThrottledError once the counter is at limit.
func (s *Service) resetAllowed(ctx context.Context, c db.ResetCounter, limit int, now time.Time) error {
	n, until, err := s.store.ResetFailures(ctx, c, now)
	if err != nil {
		return err
	}
	if n >= limit {
		return &ThrottledError{RetryAfter: until.Sub(now)}
	}
	return nil
}

// resetFailed counts a failed redemption on c and returns why it failed.
func (s *Service) resetFailed(ctx context.Context, c db.ResetCounter, why error, now time.Time) error {
	if err := s.store.CountResetFailure(ctx, c, now, now.Add(ResetWindow)); err != nil {
		return err
	}
	return why
}

// ErrInvalidResetToken is the one answer for a reset token that is malformed, unknown,
// used, expired or dead.
var ErrInvalidResetToken = errors.New("invalid reset token")

// PasswordChangeRequiredError answers a correct password of a user who must change it
// first. ResetToken, when not empty, lets the client set the new password at once; it is
// withheld for reason breached, since whoever holds a leaked password must not choose the
// next one.
type PasswordChangeRequiredError struct {
	Reason     string
	ResetToken string
	ExpiresAt  time.Time
}

func (e *PasswordChangeRequiredError) Error() string { return "password change required: " + e.Reason }

// ResetTTL is the tenant's reset token lifetime.
func ResetTTL(t db.Tenant) time.Duration {
	if t.PasswordResetTTL != nil {
		return *t.PasswordResetTTL
	}
	return DefaultResetTTL
}

// validLifecycle checks a tenant's password lifecycle settings.
func validLifecycle(t db.Tenant) error {
	if t.PasswordHistory < 0 || t.PasswordHistory > MaxPasswordHistory {
		return invalid("password_history", fmt.Sprintf("must be from 0 to %d", MaxPasswordHistory))
	}
	if d := t.PasswordMaxAge; d != nil && (*d < 24*time.Hour || *d%time.Second != 0) {
		return invalid("password_max_age", "must be at least a day, in whole seconds, or null (never)")
	}
	if d := t.PasswordResetTTL; d != nil && (*d < time.Minute || *d > 24*time.Hour || *d%time.Second != 0) {
		return invalid("password_reset_ttl", "must be from 1m to 24h in whole seconds, or null (30m)")
	}
	return nil
}

// newPassword applies the policy to u's new password pw, then, on the hashing pool,
// refuses it when it equals one of the tenant's last password_history passwords (the
// current one included) and hashes it. keep is how many previous hashes the history must
// hold once pw is set.
func (s *Service) newPassword(ctx context.Context, t db.Tenant, u db.User, pw string) (hash string, keep int, err error) {
	if err := s.validPassword(t, u.Username, pw); err != nil {
		return "", 0, err
	}
	if err := s.notForbidden(ctx, t, pw); err != nil {
		return "", 0, err
	}
	var previous []string
	if n := t.PasswordHistory; n > 0 {
		keep = n - 1
		if previous, err = s.store.PreviousPasswords(ctx, t.ID, u.ID, keep); err != nil {
			return "", 0, err
		}
		previous = append([]string{u.PasswordHash}, previous...)
	}
	reused := false
	var herr error
	if err := s.hasher.Do(ctx, func(h password.Hasher) {
		for _, p := range previous {
			if ok, _ := h.Verify(pw, p); ok {
				reused = true
				return
			}
		}
		hash, herr = h.Hash(pw, s.cfg.Hash)
	}); err != nil {
		return "", 0, err
	}
	if reused {
		return "", 0, invalid("password", fmt.Sprintf("is one of the last %d passwords of this user", t.PasswordHistory))
	}
	return hash, keep, herr
}

// setPassword replaces u's password after newPassword's checks, keeping the history and
// revoking every token of the user.
func (s *Service) setPassword(ctx context.Context, t db.Tenant, u db.User, pw string, ev db.Event) error {
	hash, keep, err := s.newPassword(ctx, t, u, pw)
	if err != nil {
		return err
	}
	_, err = s.store.ChangePassword(ctx, t.ID, u.ID, hash, keep, ev)
	return err
}

// RequirePasswordChange makes the user change the password before the next tokens
// (reason admin, breached or expired), or, with reason "", lifts that. It returns
// ErrNotFound or a ValidationError.
func (s *Service) RequirePasswordChange(ctx context.Context, actor db.Actor, slug, ref, reason string) (db.User, error) {
	switch reason {
	case "", ReasonAdmin, ReasonBreached, ReasonExpired:
	default:
		return db.User{}, invalid("password_change_reason", "must be admin, breached or expired")
	}
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return u, err
	}
	kind := "user_password_change_required"
	if reason == "" {
		kind = "user_password_change_cleared"
	}
	ev := s.event(kind, actor, &t)
	ev.Detail = map[string]any{"reason": reason}
	return s.store.RequirePasswordChange(ctx, t.ID, u.ID, reason, ev)
}

// ResetToken is a password reset token and when it stops working.
type ResetToken struct {
	Token     string
	ExpiresAt time.Time
}

// PasswordReset issues a reset token for the tenant's user id (by id, when not nil) or
// username. Any older token of the user dies. An unknown username, or a disabled user,
// gets a token of the same form that never works, after the same work: one transaction
// of the same two statements. It returns ErrNotFound for an unknown tenant or user id.
func (s *Service) PasswordReset(ctx context.Context, actor db.Actor, slug string, id *uuid.UUID, username string) (ResetToken, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return ResetToken{}, err
	}
	if id != nil {
		u, err := s.store.UserByID(ctx, t.ID, *id)
		if err != nil {
			return ResetToken{}, err
		}
		username = u.Username
	} else if username, err = NormalizeUsername(username); err != nil {
		// No user has such a name: the same answer as for a free one.
		username = ""
	}
	return s.issueReset(ctx, actor, t, id, username)
}

// issueReset is the one path every reset request takes, whether the user exists or not.
func (s *Service) issueReset(ctx context.Context, actor db.Actor, t db.Tenant, id *uuid.UUID, username string) (ResetToken, error) {
	now := s.Now()
	tok, err := tokens.New(tokens.PasswordReset, s.rand)
	if err != nil {
		return ResetToken{}, err
	}
	h := tokens.HashOf(tok)
	exp := now.Add(ResetTTL(t))
	ev := s.event("password_reset_requested", actor, &t)
	_, err = s.store.CreateReset(ctx, db.ResetRequest{Tenant: t.ID, UserID: id, Username: username, Hash: h[:],
		At: now, ExpiresAt: exp}, ev)
	if err != nil {
		return ResetToken{}, err
	}
	return ResetToken{Token: tok, ExpiresAt: exp}, nil
}

// RedeemPasswordReset sets the password of the reset token's user to pw (the tenant's
// policy, history and breached list apply), revokes every session of the user and clears
// the user's login throttles. It returns ErrInvalidResetToken for any token that does not
// work, or a ValidationError for a refused password (the token then still works).
func (s *Service) RedeemPasswordReset(ctx context.Context, actor db.Actor, token, pw string) error {
	now := s.Now()
	addr := db.ResetCounter{Name: "reset " + countedAddr(actor.IP)}
	if err := s.resetAllowed(ctx, addr, ResetAddressLimit, now); err != nil {
		return err
	}
	h := tokens.HashOf(token)
	u, err := s.store.ResetUser(ctx, h[:], now)
	if errors.Is(err, db.ErrNotFound) || tokens.Check(tokens.PasswordReset, token) != nil {
		return s.resetFailed(ctx, addr, ErrInvalidResetToken, now)
	}
	if err != nil {
		return err
	}
	t, err := s.store.TenantByID(ctx, u.TenantID)
	if err != nil || t.Disabled {
		return s.resetFailed(ctx, addr, ErrInvalidResetToken, now)
	}
	// Each refused password costs a history check on the hashing pool: bounded per token.
	tok := db.ResetCounter{Tenant: &t.ID, Name: "reset token " + h.Hex()}
	if err := s.resetAllowed(ctx, tok, ResetTokenLimit, now); err != nil {
		return err
	}
	hash, keep, err := s.newPassword(ctx, t, u, pw)
	var ve *ValidationError
	if errors.As(err, &ve) {
		return s.resetFailed(ctx, tok, err, now)
	}
	if err != nil {
		return err
	}
	ev := s.event("user_password_reset", actor, &t)
	if _, err := s.store.RedeemReset(ctx, h[:], u, hash, keep, ev); errors.Is(err, db.ErrNotFound) {
		return ErrInvalidResetToken
	} else if err != nil {
		return err
	}
	return nil
}

// markPasswordChange decides, after a correct password, whether u must change it before
// getting tokens: an admin's mark, the breached list (with BreachCheckLogin) or the
// tenant's password_max_age, the last two marked on the user as found. It returns the
// reason, "" for none.
func (s *Service) markPasswordChange(ctx context.Context, t db.Tenant, u db.User, pw string, actor db.Actor, now time.Time) (string, error) {
	if r := u.PasswordChangeReason; r != "" {
		return r, nil
	}
	var reason string
	switch {
	case s.cfg.BreachCheckLogin && s.isBreached(pw):
		reason = ReasonBreached
	case t.PasswordMaxAge != nil && now.Sub(u.PasswordChangedAt) > *t.PasswordMaxAge:
		reason = ReasonExpired
	default:
		return "", nil
	}
	ev := s.event("user_password_change_required", actor, &t)
	ev.Detail = map[string]any{"reason": reason}
	_, err := s.store.RequirePasswordChange(ctx, t.ID, u.ID, reason, ev)
	return reason, err
}

// passwordChangeAnswer is the *PasswordChangeRequiredError for u, with a reset token
// unless the reason is breached and no second factor was passed: whoever presents a
// leaked password alone must not choose the next one.
func (s *Service) passwordChangeAnswer(ctx context.Context, t db.Tenant, u db.User, reason string, factorPassed bool, actor db.Actor) error {
	e := &PasswordChangeRequiredError{Reason: reason}
	if reason != ReasonBreached || factorPassed {
		r, err := s.issueReset(ctx, actor, t, &u.ID, u.Username)
		if err != nil {
			return err
		}
		e.ResetToken, e.ExpiresAt = r.Token, r.ExpiresAt
	}
	return e
}

// MaxForbiddenWords bounds a tenant's own forbidden words; each is 4 to 64 characters.
const MaxForbiddenWords = 10000

// notForbidden refuses a password containing one of the tenant's forbidden words, compared
// after NFKC without case.
func (s *Service) notForbidden(ctx context.Context, t db.Tenant, pw string) error {
	w, err := s.store.ForbiddenIn(ctx, t.ID, foldWord(pw))
	if err != nil {
		return err
	}
	if w != "" {
		return invalid("password", "contains a word this tenant forbids in passwords")
	}
	return nil
}

func foldWord(s string) string { return strings.ToLower(password.Normalize(s)) }

// SetForbiddenWords replaces the tenant's forbidden password words. It returns ErrNotFound
// or a ValidationError.
func (s *Service) SetForbiddenWords(ctx context.Context, actor db.Actor, slug string, words []string) ([]string, error) {
	if len(words) > MaxForbiddenWords {
		return nil, invalid("words", fmt.Sprintf("holds more than %d words", MaxForbiddenWords))
	}
	folded := make([]string, 0, len(words))
	for _, w := range words {
		f := foldWord(strings.TrimSpace(w))
		if n := utf8.RuneCountInString(f); n < 4 || n > 64 || !utf8.ValidString(w) || strings.ContainsFunc(f, isControl) {
			return nil, invalid("words", fmt.Sprintf("%q: each word must be 4 to 64 printable characters", w))
		}
		folded = append(folded, f)
	}
	slices.Sort(folded)
	folded = slices.Compact(folded)
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return nil, err
	}
	ev := s.event("tenant_forbidden_words_set", actor, &t)
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "tenant", t.ID.String(), t.Slug
	ev.Detail = map[string]any{"count": len(folded)}
	return folded, s.store.SetForbiddenWords(ctx, t.ID, folded, ev)
}

// ForbiddenWords returns the tenant's forbidden password words. It returns ErrNotFound.
func (s *Service) ForbiddenWords(ctx context.Context, slug string) ([]string, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return nil, err
	}
	return s.store.ForbiddenWords(ctx, t.ID)
}
