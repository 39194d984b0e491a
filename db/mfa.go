package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MFAState is a user's second factors: whether a TOTP factor is active (or pending
// enrolment), and how many unused recovery codes she has.
type MFAState struct {
	TOTP          bool
	TOTPPending   bool
	RecoveryCodes int
}

// Active reports whether the user has an active factor.
func (m MFAState) Active() bool { return m.TOTP }

const mfaState = `SELECT
	EXISTS (SELECT 1 FROM mfa_totp WHERE tenant_id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL),
	EXISTS (SELECT 1 FROM mfa_totp WHERE tenant_id = $1 AND user_id = $2 AND confirmed_at IS NULL),
	(SELECT count(*) FROM mfa_recovery_codes WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL)`

// UserMFA returns the tenant's user's factors (all false and zero for an unknown user).
func (s *Store) UserMFA(ctx context.Context, tenant, user uuid.UUID) (MFAState, error) {
	var m MFAState
	err := s.pool.QueryRow(ctx, mfaState, tenant, user).Scan(&m.TOTP, &m.TOTPPending, &m.RecoveryCodes)
	return m, translate("user mfa", err)
}

const mfaStates = `SELECT u.id,
	EXISTS (SELECT 1 FROM mfa_totp f WHERE f.tenant_id = $1 AND f.user_id = u.id AND f.confirmed_at IS NOT NULL),
	EXISTS (SELECT 1 FROM mfa_totp f WHERE f.tenant_id = $1 AND f.user_id = u.id AND f.confirmed_at IS NULL),
	(SELECT count(*) FROM mfa_recovery_codes r WHERE r.tenant_id = $1 AND r.user_id = u.id AND r.used_at IS NULL)
FROM unnest($2::uuid[]) AS u (id)`

// UsersMFA returns the factors of each of the tenant's users named.
func (s *Store) UsersMFA(ctx context.Context, tenant uuid.UUID, users []uuid.UUID) (map[uuid.UUID]MFAState, error) {
	rows, err := s.pool.Query(ctx, mfaStates, tenant, uuidTexts(users))
	if err != nil {
		return nil, translate("users mfa", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]MFAState, len(users))
	for rows.Next() {
		var id uuid.UUID
		var m MFAState
		if err := rows.Scan(&id, &m.TOTP, &m.TOTPPending, &m.RecoveryCodes); err != nil {
			return nil, translate("users mfa", err)
		}
		out[id] = m
	}
	return out, translate("users mfa", rows.Err())
}

// MFAToken is the stored state of an mfa_token: the login it continues.
type MFAToken struct {
	Hash       []byte
	TenantID   uuid.UUID
	ClientID   string
	UserID     uuid.UUID
	UserEpoch  int64
	Scope      string
	IP         string // the address as the login throttles count it
	Enrollment bool
	Failures   int
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// MFATokenLimit is how many codes one mfa_token allows.
const MFATokenLimit = 5

const insertMFAToken = `INSERT INTO mfa_tokens (hash, tenant_id, client_id, user_id, user_epoch, scope, ip,
	enrollment, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// CreateMFAToken records t and its mfa_challenged event ev, and gives back the unit the
// password step reserved on c (an attempt without a failure), in one transaction.
func (s *Store) CreateMFAToken(ctx context.Context, t MFAToken, c LoginCounters, ev Event) error {
	b, err := mfaTokenBatch(t, &c, ev)
	if err != nil {
		return err
	}
	return s.sendBatch(ctx, "create mfa token", b)
}

// mfaTokenBatch queues the statements of CreateMFAToken; nil c reserved nothing (a
// step-up). A batch runs in one implicit transaction (all or nothing) and one round trip.
func mfaTokenBatch(t MFAToken, c *LoginCounters, ev Event) (*pgx.Batch, error) {
	evArgs, err := eventArgs(ev)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(insertMFAToken, t.Hash, t.TenantID, t.ClientID, t.UserID, t.UserEpoch,
		t.Scope, t.IP, t.Enrollment, t.CreatedAt, t.ExpiresAt)
	b.Queue(insertEvent, evArgs...)
	if c != nil {
		b.Queue(returnLogin, counterArgs(*c))
	}
	return b, nil
}

// sendBatch runs b, whose statements return nothing the caller reads.
func (s *Store) sendBatch(ctx context.Context, what string, b *pgx.Batch) error {
	return translate(what, s.pool.SendBatch(ctx, b).Close())
}

// MFAChallenge is a live mfa_token with its user.
type MFAChallenge struct {
	Token MFAToken
	User  User
}

// usableMFAToken is the condition on m (mfa_tokens) and u (its user) for a token that may
// still be used at $2: unused, unexpired, the user enabled and at the epoch the token was
// issued under.
const usableMFAToken = `m.used_at IS NULL AND m.expires_at > $2
	AND u.tenant_id = m.tenant_id AND u.id = m.user_id AND u.epoch = m.user_epoch AND NOT u.disabled`

// liveMFAToken is usableMFAToken under the limit of attempts: another may be counted.
const liveMFAToken = `m.failures < 5 AND ` + usableMFAToken

const mfaTokenColumns = `m.hash, m.tenant_id, m.client_id, m.user_id, m.user_epoch, m.scope, m.ip, m.enrollment,
	m.failures, m.created_at, m.expires_at`

const mfaChallenge = `SELECT ` + mfaTokenColumns + `, ` + userColumns + `
FROM mfa_tokens m, users u
WHERE m.hash = $1 AND ` + liveMFAToken

// MFAChallengeByHash returns the live mfa_token with that hash whatever its tenant
// (Token.TenantID says which: the hash is globally unique, and callers check the tenant
// or client they expect), or ErrNotFound.
func (s *Store) MFAChallengeByHash(ctx context.Context, hash []byte, now time.Time) (MFAChallenge, error) {
	var c MFAChallenge
	m := &c.Token
	u := &c.User
	err := s.pool.QueryRow(ctx, mfaChallenge, hash, now).Scan(&m.Hash, &m.TenantID, &m.ClientID, &m.UserID,
		&m.UserEpoch, &m.Scope, &m.IP, &m.Enrollment, &m.Failures, &m.CreatedAt, &m.ExpiresAt,
		&u.TenantID, &u.ID, &u.Username, &u.PasswordHash, &u.Disabled, &u.Scopes, &u.Epoch, &u.CreatedAt,
		&u.UpdatedAt, &u.PasswordChangedAt, &u.PasswordChangeReason)
	return c, translate("mfa token", err)
}

// ErrMFALimit refuses a second-factor attempt of a user who reached her wrong-code limit.
var ErrMFALimit = errors.New("mfa failure limit reached")

// MFAAttempt is one code about to be checked for a user: counted, before the check, on
// the mfa_token with TokenHash (none when nil) and on the user's counter, whose window
// lasts Window and allows Limit codes. A success clears the user's counter and consumes
// the token; a wrong code leaves both counted.
type MFAAttempt struct {
	TenantID, UserID uuid.UUID
	TokenHash        []byte
	Limit            int
	Window           time.Duration
	Now              time.Time
}

// The row lock of these conditional writes decides the limits: concurrent attempts
// cannot all pass a read made before any of them was counted.
const countMFATokenAttempt = `UPDATE mfa_tokens SET failures = failures + 1
WHERE hash = $1 AND tenant_id = $2 AND failures < 5 AND used_at IS NULL AND expires_at > $3`

// The window starts at the first attempt and lasts $4 seconds; one after it starts a new
// one. A user at $5 attempts in the open window is not counted (no row returned).
const countUserMFAAttempt = `INSERT INTO mfa_failures AS f (tenant_id, user_id, failures, expires_at)
VALUES ($1, $2, 1, $3::timestamptz + make_interval(secs => $4))
ON CONFLICT (tenant_id, user_id) DO UPDATE SET
	failures = CASE WHEN f.expires_at > $3 THEN f.failures + 1 ELSE 1 END,
	expires_at = CASE WHEN f.expires_at > $3 THEN f.expires_at ELSE EXCLUDED.expires_at END
WHERE f.expires_at <= $3 OR f.failures < $5
RETURNING f.expires_at`

// CountMFAAttempt counts a in one transaction. It returns ErrMFALimit and when the
// user's window ends when she reached her limit, ErrStale when the mfa_token is no longer
// live, counting nothing in either case.
func (s *Store) CountMFAAttempt(ctx context.Context, a MFAAttempt) (time.Time, error) {
	var until time.Time
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		until, err = countMFAAttempt(ctx, tx, a)
		return err
	})
	return until, err
}

// countMFAAttempt is CountMFAAttempt in tx, in one round trip: whatever it finds, the
// caller's rollback on its error undoes what the batch counted.
func countMFAAttempt(ctx context.Context, tx pgx.Tx, a MFAAttempt) (time.Time, error) {
	var b pgx.Batch
	// The token's row first, then the user's: the order the completing statements lock them in.
	if a.TokenHash != nil {
		b.Queue(countMFATokenAttempt, a.TokenHash, a.TenantID, a.Now)
	}
	b.Queue(countUserMFAAttempt, a.TenantID, a.UserID, a.Now, a.Window.Seconds(), a.Limit)
	b.Queue(`SELECT expires_at FROM mfa_failures WHERE tenant_id = $1 AND user_id = $2`, a.TenantID, a.UserID)
	br := tx.SendBatch(ctx, &b)
	until, err := countedAttempt(br, a.TokenHash != nil)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return until, translate("count mfa attempt", err)
}

// countedAttempt reads countMFAAttempt's batch: ErrStale when the token was not counted,
// ErrMFALimit (and when the window ends) when the user was not.
func countedAttempt(br pgx.BatchResults, token bool) (time.Time, error) {
	if token {
		tag, err := br.Exec()
		if err != nil {
			return time.Time{}, err
		}
		if tag.RowsAffected() == 0 {
			return time.Time{}, fmt.Errorf("count mfa attempt: %w", ErrStale)
		}
	}
	var until time.Time
	counted := true
	if err := br.QueryRow().Scan(&until); errors.Is(err, pgx.ErrNoRows) {
		counted = false
	} else if err != nil {
		return time.Time{}, err
	}
	if err := br.QueryRow().Scan(&until); err != nil {
		return time.Time{}, err
	}
	if !counted {
		return until, ErrMFALimit
	}
	return until, nil
}

// MFALoginAttempt is a second-factor code sent for a login's mfa_token: Attempt counts
// it; Completion is the login it completes when the caller found the code right, Failure
// the event of a wrong one. Neither: the code is only counted (a right code whose login
// goes on elsewhere).
type MFALoginAttempt struct {
	Attempt    MFAAttempt
	Completion *MFACompletion
	Failure    *Event
}

// AttemptMFALogin counts a's code and, in the same transaction, completes its login or
// records its failure: one commit for the whole second step. A code that Completion
// finds used already (a replay, or a concurrent request's) is recorded as a failure.
// Errors: ErrMFALimit and when the user's window ends, ErrStale when the token is no
// longer live or the login's tenant, client or user changed (both writing nothing), and
// ErrCodeUsed when the failure was recorded (counted, nothing else written).
func (s *Store) AttemptMFALogin(ctx context.Context, a MFALoginAttempt) (time.Time, error) {
	var until time.Time
	failed := false
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		if until, err = countMFAAttempt(ctx, tx, a.Attempt); err != nil {
			return err
		}
		if a.Completion != nil {
			if err = completeMFALogin(ctx, tx, *a.Completion); !errors.Is(err, ErrCodeUsed) {
				return err
			}
		}
		if a.Failure == nil {
			return nil
		}
		failed = true
		return writeEvent(ctx, tx, *a.Failure)
	})
	if err == nil && failed {
		err = fmt.Errorf("mfa login: %w", ErrCodeUsed)
	}
	return until, err
}
