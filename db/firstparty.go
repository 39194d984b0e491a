package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ChallengeSession is what an unfinished authorization challenge (an mfa_token row whose
// hash is that of its auth_session) keeps for the code it ends in.
type ChallengeSession struct {
	CodeChallenge *string    // PKCE S256; nil for none
	SessionID     *uuid.UUID // the session a step-up raises; nil for a new login
}

const insertChallengeSession = `INSERT INTO challenge_sessions (hash, code_challenge, session_id) VALUES ($1, $2, $3)`

// CreateChallengeSession is CreateMFAToken for an auth_session, recording cs with it; c is
// nil for a step-up, which reserved no throttle unit.
func (s *Store) CreateChallengeSession(ctx context.Context, t MFAToken, cs ChallengeSession, c *LoginCounters, ev Event) error {
	b, err := mfaTokenBatch(t, c, ev)
	if err != nil {
		return err
	}
	b.Queue(insertChallengeSession, t.Hash, cs.CodeChallenge, cs.SessionID)
	return s.sendBatch(ctx, "create challenge session", b)
}

const challengeSession = `SELECT code_challenge, session_id FROM challenge_sessions WHERE hash = $1`

// ChallengeSessionByHash returns what the auth_session with that hash keeps, or
// ErrNotFound (an mfa_token has none).
func (s *Store) ChallengeSessionByHash(ctx context.Context, hash []byte) (ChallengeSession, error) {
	var cs ChallengeSession
	err := s.pool.QueryRow(ctx, challengeSession, hash).Scan(&cs.CodeChallenge, &cs.SessionID)
	return cs, translate("challenge session", err)
}

// AuthCode is an authorization code of the challenge endpoint: SHA-256 of the jac_
// string, bound to its client, user epoch, scope and PKCE challenge.
type AuthCode struct {
	Hash            []byte
	TenantID        uuid.UUID
	ClientID        string
	UserID          uuid.UUID
	UserEpoch       int64
	Scope           string
	AMR             []string
	CodeChallenge   *string
	SessionID       *uuid.UUID // the session a step-up code raises
	IP              string     // the address as the login throttles count it
	CreatedAt       time.Time
	ExpiresAt       time.Time
	UsedAt          *time.Time
	RedeemedSession *uuid.UUID
}

// The code is written only while its tenant, client and user are enabled and the user at
// the epoch the password was verified under.
const insertAuthCode = `INSERT INTO authorization_codes (hash, tenant_id, client_id, user_id, user_epoch, scope,
	amr, code_challenge, session_id, ip, created_at, expires_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM tenants tn, clients c, users u
WHERE tn.id = $2 AND NOT tn.disabled AND tn.deleted_at IS NULL
  AND c.tenant_id = $2 AND c.id = $3 AND NOT c.disabled
  AND u.tenant_id = $2 AND u.id = $4 AND u.epoch = $5 AND NOT u.disabled`

func insertCode(ctx context.Context, q querier, c AuthCode) error {
	return execOne(ctx, q, "issue code", insertAuthCode, c.Hash, c.TenantID, c.ClientID, c.UserID, c.UserEpoch,
		c.Scope, c.AMR, c.CodeChallenge, c.SessionID, c.IP, c.CreatedAt, c.ExpiresAt)
}

// IssueCode records the code of a login that needed no second factor and settles the
// password attempt's unit on counters c as a success (the address becomes known), in one
// transaction. It returns ErrStale, writing nothing, when the tenant, client or user was
// disabled or the user's epoch moved.
func (s *Store) IssueCode(ctx context.Context, code AuthCode, c LoginCounters) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := insertCode(ctx, tx, code); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, returnLogin, counterArgs(c)); err != nil {
			return translate("return login", err)
		}
		_, err := tx.Exec(ctx, mfaLoginSucceeded, code.TenantID, code.UserID, c.Username, c.IP, code.CreatedAt,
			code.AMR, uuid.Nil)
		return translate("settle code login", err)
	})
}

// IssueStepUpCode records the code of a step-up that needed no new factor; ErrStale when
// the tenant, client or user changed.
func (s *Store) IssueStepUpCode(ctx context.Context, code AuthCode) error {
	return insertCode(ctx, s.pool, code)
}

const authCodeByHash = `SELECT a.hash, a.tenant_id, a.client_id, a.user_id, a.user_epoch, a.scope, a.amr,
	a.code_challenge, a.session_id, a.ip, a.created_at, a.expires_at, a.used_at, a.redeemed_session, ` + userColumns + `
FROM authorization_codes a JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.user_id
WHERE a.hash = $1`

// AuthCodeByHash returns the code with that hash, used or not, and its user, whatever its
// tenant (callers check the client they expect), or ErrNotFound.
func (s *Store) AuthCodeByHash(ctx context.Context, hash []byte) (AuthCode, User, error) {
	var a AuthCode
	var u User
	err := s.pool.QueryRow(ctx, authCodeByHash, hash).Scan(&a.Hash, &a.TenantID, &a.ClientID, &a.UserID,
		&a.UserEpoch, &a.Scope, &a.AMR, &a.CodeChallenge, &a.SessionID, &a.IP, &a.CreatedAt, &a.ExpiresAt,
		&a.UsedAt, &a.RedeemedSession, &u.TenantID, &u.ID, &u.Username, &u.PasswordHash, &u.Disabled,
		&u.Scopes, &u.Epoch, &u.CreatedAt, &u.UpdatedAt, &u.PasswordChangedAt, &u.PasswordChangeReason)
	return a, u, translate("authorization code", err)
}

// Redemption is the redemption of a code: the login it issues (for a step-up, tokens in
// the code's session), the session's new amr and the auth_session handed back.
type Redemption struct {
	CodeHash        []byte
	Login           Login
	AMR             []string
	StepUp          bool
	AuthSessionHash []byte
}

const consumeAuthCode = `UPDATE authorization_codes SET used_at = $2, redeemed_session = $5
WHERE hash = $1 AND tenant_id = $3 AND client_id = $4 AND used_at IS NULL AND expires_at > $2`

const setSessionAMR = `UPDATE sessions SET amr = $3 WHERE tenant_id = $1 AND id = $2`

const insertAuthSession = `INSERT INTO auth_sessions (hash, tenant_id, session_id, user_epoch, created_at)
VALUES ($1, $2, $3, $4, $5)`

// RedeemCode consumes the code, issues r.Login (a new session, or for a step-up tokens in
// the code's session, whose amr and auth_time it moves) and records the auth_session, in
// one transaction. It returns ErrStale, writing nothing, when the code was used or expired
// meanwhile or the login's tenant, client, user or session changed.
func (s *Store) RedeemCode(ctx context.Context, r Redemption) error {
	l := r.Login
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := execOne(ctx, tx, "consume code", consumeAuthCode, r.CodeHash, l.Now, l.TenantID, l.ClientID, l.SessionID); err != nil {
			return err
		}
		if r.StepUp {
			args, err := stepUpArgs(l, r.AMR)
			if err != nil {
				return err
			}
			if err := expectOne(tx.QueryRow(ctx, stepUpSession, args), "step up"); err != nil {
				return err
			}
		} else {
			if err := issueLoginIn(ctx, tx, l); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, setSessionAMR, l.TenantID, l.SessionID, r.AMR); err != nil {
				return translate("session amr", err)
			}
		}
		_, err := tx.Exec(ctx, insertAuthSession, r.AuthSessionHash, l.TenantID, l.SessionID, *l.Epochs.User, l.Now)
		return translate("auth session", err)
	})
}

// The step-up's tokens are written only while the session is live for its client and
// user, and the tenant, client and user carry the epochs the code was issued under.
const stepUpSession = `WITH ok AS (
	SELECT 1 FROM tenants tn, clients c, users u, sessions ss
	WHERE ` + loginEpochs + `
	  AND ss.tenant_id = @tenant AND ss.id = @session AND ss.client_id = @client AND ss.user_id = @user
	  AND ss.revoked_at IS NULL AND ss.expires_at > @now
), s AS (
	UPDATE sessions SET amr = @amr, auth_time = @now
	WHERE tenant_id = @tenant AND id = @session AND EXISTS (SELECT 1 FROM ok) RETURNING id
), ` + loginTokens

func stepUpArgs(l Login, amr []string) (pgx.StrictNamedArgs, error) {
	args := loginTokenArgs(l)
	args["amr"] = amr
	return addEventArgs(args, l.Event)
}

// LiveAuthSession is a redeemed code's auth_session whose session is live: the session,
// how its user authenticated (amr) and the user.
type LiveAuthSession struct {
	Session Session
	AMR     []string
	User    User
}

const liveAuthSession = `SELECT ` + sessionColumns + `, s.amr, ` + userColumns + `
FROM auth_sessions a
JOIN sessions s ON s.tenant_id = a.tenant_id AND s.id = a.session_id
JOIN users u ON u.tenant_id = a.tenant_id AND u.id = s.user_id
WHERE a.hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.epoch = a.user_epoch AND NOT u.disabled`

// AuthSessionByHash returns the session and user of the auth_session with that hash,
// whatever its tenant (callers check the client they expect), while the session is live:
// ErrNotFound otherwise.
func (s *Store) AuthSessionByHash(ctx context.Context, hash []byte, now time.Time) (LiveAuthSession, error) {
	var a LiveAuthSession
	ss, u := &a.Session, &a.User
	err := s.pool.QueryRow(ctx, liveAuthSession, hash, now).Scan(&ss.TenantID, &ss.ID, &ss.ClientID, &ss.UserID,
		&ss.Scope, &ss.CreatedAt, &ss.LastRefreshedAt, &ss.ExpiresAt, &ss.RevokedAt, &a.AMR,
		&u.TenantID, &u.ID, &u.Username, &u.PasswordHash, &u.Disabled, &u.Scopes, &u.Epoch, &u.CreatedAt, &u.UpdatedAt,
		&u.PasswordChangedAt, &u.PasswordChangeReason)
	return a, translate("auth session", err)
}

const sweepAuthCodes = `DELETE FROM authorization_codes d
WHERE d.ctid = ANY (ARRAY(SELECT a.ctid FROM authorization_codes a WHERE a.expires_at < $1 ORDER BY a.expires_at LIMIT $2))
  AND d.expires_at < $1`

// SweepAuthCodes deletes up to n authorization codes that expired before before (used or
// not) and returns how many it deleted, or the database's error.
func (s *Store) SweepAuthCodes(ctx context.Context, before time.Time, n int) (int64, error) {
	return s.sweep(ctx, "sweep authorization codes", sweepAuthCodes, before, n)
}
