package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
)

// AccountSessionInfo is one live session as its user sees it.
type AccountSessionInfo struct {
	db.Session
	ClientName string
	Login      db.SessionLogin
	Current    bool
}

// AccountSessions lists the caller's live sessions, newest first.
func (s *Service) AccountSessions(ctx context.Context, a AccountCaller) ([]AccountSessionInfo, error) {
	ss, err := s.store.UserSessions(ctx, a.Tenant.ID, a.User.ID, s.Now())
	if err != nil {
		return nil, err
	}
	clients, err := s.store.ListClients(ctx, a.Tenant.ID)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, c := range clients {
		names[c.ID] = c.Name
	}
	ids := make([]string, len(ss))
	for i, x := range ss {
		ids[i] = x.ID.String()
	}
	logins, err := s.store.SessionLogins(ctx, a.Tenant.ID, a.User.ID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]AccountSessionInfo, len(ss))
	for i, x := range ss {
		out[i] = AccountSessionInfo{Session: x, ClientName: names[x.ClientID], Login: logins[ids[i]], Current: x.ID == a.SessionID}
	}
	return out, nil
}

// AccountRevokeSession revokes one of the caller's sessions. Another user's session is
// ErrNotFound.
func (s *Service) AccountRevokeSession(ctx context.Context, a AccountCaller, sid uuid.UUID) error {
	return s.RevokeUserSession(ctx, a.Actor, a.Tenant.Slug, a.User.ID.String(), sid)
}

// AccountLogoutAll revokes every session of the caller, its own too.
func (s *Service) AccountLogoutAll(ctx context.Context, a AccountCaller) error {
	_, err := s.RevokeUserTokens(ctx, a.Actor, a.Tenant.Slug, a.User.ID.String())
	return err
}

// PasswordChanged is the answer to a password change: how many sessions died, and the
// caller's new tokens on a new session of the same client.
type PasswordChanged struct {
	RevokedSessions int
	Tokens          TokenResponse
}

// ChangeOwnPassword verifies the caller's current password on the hashing pool as a login
// does (a wrong one counts on the login throttles, which may refuse it with a
// *ThrottledError), sets the new one (policy, history, breached list), revokes every
// session of the user, the caller's too, and signs the caller in again on its client.
// A wrong current password is a ValidationError on current_password.
func (s *Service) ChangeOwnPassword(ctx context.Context, a AccountCaller, current, next string) (PasswordChanged, error) {
	var out PasswordChanged
	if len(current) > MaxPasswordBytes {
		return out, invalid("current_password", "is wrong")
	}
	ticket, err := s.hasher.Admit()
	if err != nil {
		return out, err
	}
	defer ticket.Release()
	now := s.Now()
	counters := db.LoginCounters{TenantID: a.Tenant.ID, Username: a.User.Username, IP: countedAddr(a.Actor.IP), IPTenant: &a.Tenant.ID}
	res, err := s.store.ReserveLogin(ctx, counters, s.cfg.Throttle.limits(a.Tenant, false), now)
	if err != nil {
		return out, err
	}
	if res.Refused {
		return out, &ThrottledError{RetryAfter: res.RetryAt.Sub(now)}
	}
	var ok bool
	var verr error
	if err := ticket.Run(ctx, func(h password.Hasher) { ok, verr = h.Verify(current, a.User.PasswordHash) }); err != nil {
		s.giveBack(ctx, counters)
		return out, err
	}
	ticket.Release()
	if verr != nil || !ok {
		// The unit stays on the counters: a wrong password, as at /token.
		ev := s.event("login_failure", a.Actor, &a.Tenant)
		ev.SubjectType, ev.SubjectID, ev.SubjectName, ev.UserID = "username", a.User.ID.String(), a.User.Username, a.User.ID.String()
		ev.Detail = map[string]any{"reason": "wrong_password", "during": "password_change"}
		if err := s.store.RecordEvent(ctx, ev); err != nil {
			return out, err
		}
		return out, invalid("current_password", "is wrong")
	}
	live, err := s.store.UserSessions(ctx, a.Tenant.ID, a.User.ID, now)
	if err != nil {
		s.giveBack(ctx, counters)
		return out, err
	}
	hash, keep, err := s.newPassword(ctx, a.Tenant, a.User, next)
	if err != nil {
		s.giveBack(ctx, counters)
		var ve *ValidationError
		if errors.As(err, &ve) && ve.Field == "password" {
			ve.Field = "new_password"
		}
		return out, err
	}
	u, err := s.store.ChangePassword(ctx, a.Tenant.ID, a.User.ID, hash, keep, s.event("user_password_changed", a.Actor, &a.Tenant))
	if err != nil {
		s.giveBack(ctx, counters)
		return out, err
	}
	out.RevokedSessions = len(live)
	out.Tokens, err = s.signInAgain(ctx, a, u, counters)
	return out, err
}

// signInAgain issues the caller's client a new session of u under its new epoch, with the
// scope of the session it had, settling counters as a successful login.
func (s *Service) signInAgain(ctx context.Context, a AccountCaller, u db.User, counters db.LoginCounters) (TokenResponse, error) {
	ca, err := s.store.ClientForAuth(ctx, a.ClientID, s.Now())
	if err != nil {
		return TokenResponse{}, fmt.Errorf("sign in again: %w", err)
	}
	resp, login, err := s.newLogin(ca, u, strings.Fields(a.Scope), a.Actor, s.Now())
	if err != nil {
		return TokenResponse{}, err
	}
	login.Event.Detail["after"] = "password_change"
	login.Counters = counters
	if err := s.store.IssueLogin(ctx, login); err != nil {
		return TokenResponse{}, fmt.Errorf("sign in again: %w", err)
	}
	return resp, nil
}

// truncate cuts s to at most n bytes, on a rune boundary, as valid UTF-8.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
