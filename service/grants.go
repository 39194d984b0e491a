package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
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
	GrantAuthorizationCode = "authorization_code"
)

// GrantTypes lists the supported grants, in the order discovery publishes them.
var GrantTypes = []string{GrantPassword, GrantRefreshToken, GrantClientCredentials,
	GrantMFAOTP, GrantMFARecoveryCode, GrantAuth0MFAOTP, GrantAuth0MFARecoveryCode, GrantAuthorizationCode}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	// AuthSession, after an authorization code, continues the session at the authorization
	// challenge endpoint (a step-up).
	AuthSession string `json:"auth_session,omitempty"`
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

// PasswordLogin is one resource owner password credentials request (RFC 6749 §4.3.2).
type PasswordLogin struct {
	Username, Password, Scope string
	// Actor is the authenticated client; its IP is the request's address (the connection's,
	// or a trusted proxy's X-Forwarded-For).
	Actor db.Actor
	// UserIP is the end user's address, from the Jeton-Forwarded-For header of a
	// confidential client flagged forwards_user_ip; the zero Addr when there is none. It is
	// ignored for any other client.
	UserIP netip.Addr
	// UserAgent is the request's User-Agent, kept in the login's event for the user's
	// session list.
	UserAgent string
}

// LoginCapacity returns ErrBusy when the hashing pool would refuse a password login right
// now (no place left, or a queue too long to be hashed within HashMaxWait), as
// PasswordGrant would find it, without taking a place: the HTTP layer asks
// before authenticating the client, so that a flood refused for capacity costs no
// database work at all, while a login takes its place only once its client is known.
func (s *Service) LoginCapacity() error {
	if s.hasher.Full() {
		s.obs.HashRejected()
		return ErrBusy
	}
	return nil
}

// PasswordGrant runs the resource owner password credentials grant (RFC 6749 §4.3) for an
// authenticated client. Unknown user, wrong password and disabled user are the same
// ErrInvalidGrant after the same work, padded to the same time. Before any verification
// the attempt is admitted to the hashing pool (ErrBusy when it is full; see also
// LoginCapacity) and counted on the brute-force throttles (a *ThrottledError when they
// refuse it). Other errors: ErrUnauthorizedClient, ErrInvalidScope (as a
// ValidationError), the context's error when the client went away while waiting for a
// hashing worker, a *password.WorkerError when the worker failed, ErrLegacyUnavailable
// when the tenant's legacy-login hook gave no verdict, and the database's.
func (s *Service) PasswordGrant(ctx context.Context, ca db.ClientAuth, l PasswordLogin) (TokenResponse, error) {
	if !allows(ca.Client, GrantPassword) {
		return TokenResponse{}, ErrUnauthorizedClient
	}
	v, err := s.verifyPassword(ctx, ca, l)
	if err != nil {
		return TokenResponse{}, err
	}
	u, o := v.user, v.origin
	if err := s.challenge(ctx, ca, u, v.scopes, o, v.actor, v.now); err != nil {
		s.settleChallenge(ctx, ca, v, err)
		return TokenResponse{}, err
	}
	if v.changeReason != "" {
		// The password was right: its unit goes back.
		s.giveBack(ctx, o.counters)
		return TokenResponse{}, s.passwordChangeAnswer(ctx, ca.Tenant, u, v.changeReason, false, v.actor)
	}

	resp, login, err := s.newLogin(ca, u, v.scopes, v.actor, v.now)
	if err != nil {
		s.giveBack(ctx, o.counters)
		return TokenResponse{}, err
	}
	if o.via != "" {
		login.Event.Detail["forwarded_by"] = o.via
	}
	if l.UserAgent != "" {
		login.Event.Detail["user_agent"] = truncate(l.UserAgent, 256)
	}
	login.Counters = o.counters
	if err := s.store.IssueLogin(ctx, login); err != nil {
		s.giveBack(ctx, o.counters)
		if errors.Is(err, db.ErrStale) {
			return TokenResponse{}, ErrInvalidGrant
		}
		return TokenResponse{}, fmt.Errorf("password grant: %w", err)
	}
	// The tokens are issued: what follows may fail without failing the login.
	s.rehash(ctx, ca, v)
	s.obs.TokenIssued(GrantPassword)
	return resp, nil
}

// verifiedPassword is a login whose password was right: its user, the scopes she may be
// granted, where it comes from, and the password's new hash when it needs one.
type verifiedPassword struct {
	user    db.User
	scopes  []string
	origin  loginOrigin
	actor   db.Actor
	verdict verdict
	now     time.Time
	// changeReason, when set, is why the user must change the password before tokens:
	// decided here, with the password at hand, answered after any second factor.
	changeReason string
}

// verifyPassword is the password step every way of logging in shares (the password grant,
// the authorization challenge endpoint): the same throttles, hashing pool, events and
// failures. A failure is ErrInvalidGrant, the same for unknown user, wrong password and
// disabled user; see PasswordGrant for the others. On success the attempt's unit is still
// reserved on the throttles: the caller settles it.
func (s *Service) verifyPassword(ctx context.Context, ca db.ClientAuth, l PasswordLogin) (verifiedPassword, error) {
	var v verifiedPassword
	scopes, err := clientScope(ca.Client, l.Scope)
	if err != nil {
		return v, err
	}
	name, err := NormalizeUsername(l.Username)
	if err != nil || len(l.Password) > MaxPasswordBytes {
		// No user has such a name or password: refused before any hashing or counting,
		// whoever is asked about, so the speed says nothing about users.
		return v, ErrInvalidGrant
	}
	ticket, err := s.hasher.Admit()
	if err != nil {
		s.obs.HashRejected()
		return v, err
	}
	defer ticket.Release()

	now := s.Now()
	o := originOf(ca, name, l)
	actor := l.Actor
	actor.IP = o.actorIP
	res, err := s.store.ReserveLogin(ctx, o.counters, s.cfg.Throttle.limits(ca.Tenant, o.server), now)
	if err != nil {
		return v, fmt.Errorf("password grant: %w", err)
	}
	if res.Refused {
		s.obs.LoginThrottled()
		return v, s.refuse(ctx, ca, o, actor, res, now)
	}
	u, verdict, err := s.verifyOrMigrate(ctx, ticket, ca, actor, res.User, name, l.Password)
	if err != nil {
		s.giveBack(ctx, o.counters)
		return v, err
	}
	if verdict.reason != "" {
		// A wrong password keeps its unit on the counters.
		ev := s.event("login_failure", actor, &ca.Tenant)
		ev.ClientID, ev.SubjectType, ev.SubjectName = ca.Client.ID, "username", name
		if u.ID != uuid.Nil {
			ev.UserID, ev.SubjectID = u.ID.String(), u.ID.String()
		}
		ev.Detail = map[string]any{"reason": verdict.reason}
		if o.via != "" {
			ev.Detail["forwarded_by"] = o.via
		}
		if err := s.store.RecordEvent(ctx, ev); err != nil {
			return v, err
		}
		return v, ErrInvalidGrant
	}
	if scopes, err = userScope(scopes, u, l.Scope != ""); err != nil {
		s.giveBack(ctx, o.counters)
		return v, err
	}
	reason, err := s.markPasswordChange(ctx, ca.Tenant, u, l.Password, actor, now)
	if err != nil {
		s.giveBack(ctx, o.counters)
		return v, err
	}
	return verifiedPassword{user: u, scopes: scopes, origin: o, actor: actor, verdict: verdict, now: now, changeReason: reason}, nil
}

// settleChallenge ends a verified password step that challenge refused with err: an
// *MFARequiredError already gave the unit back and stores the password's new hash; any
// other error gives the unit back.
func (s *Service) settleChallenge(ctx context.Context, ca db.ClientAuth, v verifiedPassword, err error) {
	var mfa *MFARequiredError
	if !errors.As(err, &mfa) {
		s.giveBack(ctx, v.origin.counters)
		return
	}
	// The password was right: its new hash need not wait for the factor.
	s.rehash(ctx, ca, v)
}

// rehash stores the password's new hash, if it has one; a failure only logs.
func (s *Service) rehash(ctx context.Context, ca db.ClientAuth, v verifiedPassword) {
	if v.verdict.rehash == "" {
		return
	}
	u := v.user
	if _, err := s.store.RehashPassword(ctx, ca.Tenant.ID, u.ID, u.PasswordHash, u.Epoch, v.verdict.rehash); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "password not rehashed", slog.String("err", err.Error()))
	}
}

// newLogin mints the tokens of a successful login of u and the row that records them.
func (s *Service) newLogin(ca db.ClientAuth, u db.User, scopes []string, actor db.Actor, now time.Time) (TokenResponse, db.Login, error) {
	accessTTL, idleTTL, maxTTL := s.lifetimes(ca)
	sessionExp := now.Add(maxTTL)
	// No token outlives its session.
	accessExp := minTime(now.Add(accessTTL), sessionExp)
	at, access, err := s.newToken(tokens.Access, accessExp)
	if err != nil {
		return TokenResponse{}, db.Login{}, err
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
			return TokenResponse{}, db.Login{}, err
		}
		resp.RefreshToken, login.Refresh = rt, &refresh
	}
	login.Event = s.event("login_success", actor, &ca.Tenant)
	login.Event.ClientID, login.Event.UserID = ca.Client.ID, u.ID.String()
	login.Event.SubjectType, login.Event.SubjectID, login.Event.SubjectName = "session", login.SessionID.String(), u.Username
	// A second factor replaces the amr (RFC 8176) before the login is written.
	login.Event.Detail = map[string]any{"jti": access.ID.String(), "scope": resp.Scope, "amr": []string{"pwd"}}
	return resp, login, nil
}

// verdict is what verifying a login decided: reason is empty on success, else why it
// failed (kept internal); rehash, after a success, is the password hashed anew under the
// current parameters when the stored hash used others.
type verdict struct {
	reason string
	rehash string
}

// verifyUser verifies the password of found (nil: no such user) on a hashing worker,
// doing one argon2id verification on every path (against the dummy hash for an unknown
// user) and padding every failure to the time of the slowest parameters stored. No
// database connection is held while it waits for the worker or hashes. It returns the
// context's error when the client went away while waiting.
func (s *Service) verifyUser(ctx context.Context, ticket *password.Ticket, found *db.User, pw string) (db.User, verdict, error) {
	var v verdict
	var u db.User
	hash := s.dummy
	if found == nil {
		v.reason = "unknown_user"
	} else {
		u, hash = *found, found.PasswordHash
	}
	// What the worker found; read only once Run returned nil (until then it may still be
	// writing, see password.Ticket.Run).
	var r struct {
		ok     bool
		err    error
		took   time.Duration
		rehash string
	}
	queued := time.Now()
	err := ticket.Run(ctx, func(h password.Hasher) {
		s.obs.HashWaited(time.Since(queued))
		start := time.Now()
		r.ok, r.err = h.Verify(pw, hash)
		r.took = time.Since(start)
		if r.ok && v.reason == "" && !u.Disabled && password.NeedsRehash(hash, s.cfg.Hash) {
			r.rehash, _ = h.Hash(pw, s.cfg.Hash) // on failure the old hash stays
		}
	})
	ticket.Release()
	if err != nil {
		return u, v, err
	}
	ok, verr, took := r.ok, r.err, r.took
	v.rehash = r.rehash
	var werr *password.WorkerError
	if errors.As(verr, &werr) {
		return u, v, fmt.Errorf("password grant: %w", verr)
	}
	if c := password.CostClass(hash); c != "" {
		s.pad.observe(c, took)
	}
	switch {
	case verr != nil && v.reason == "":
		v.reason = "unverifiable_hash"
	case v.reason != "":
	case !ok:
		v.reason = "wrong_password"
	case u.Disabled:
		v.reason = "user_disabled"
	}
	if v.reason != "" {
		v.rehash = ""
		s.pad.wait(ctx, took)
	}
	return u, v, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// clientCredentials issues an access token with no user (RFC 6749 §4.4) to ca, as read at
// its versions, a confidential client allowed to use the grant: ErrUnauthorizedClient or
// ErrInvalidScope otherwise. The issuing statement authenticates the request again, with
// secretHash, the presented secret's SHA-256 (ErrInvalidClient when that fails there).
func (s *Service) clientCredentials(ctx context.Context, ca db.ClientAuth, secretHash []byte, scope string, actor db.Actor) (TokenResponse, error) {
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
		Versions: db.Versions{Tenant: ca.Tenant.Version, Client: ca.Client.Version}, SecretHash: secretHash,
	})
	if errors.Is(err, db.ErrStale) {
		return TokenResponse{}, ErrInvalidClient
	}
	if err != nil {
		return TokenResponse{}, fmt.Errorf("client credentials: %w", err)
	}
	s.obs.TokenIssued(GrantClientCredentials)
	return resp, nil
}
