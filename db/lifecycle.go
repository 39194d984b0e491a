package db

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

const previousPasswords = `SELECT h.hash FROM password_history h
WHERE h.tenant_id = $1 AND h.user_id = $2 ORDER BY h.id DESC LIMIT $3`

// PreviousPasswords returns up to n of the user's previous password hashes, newest first
// (the current one, in users, is not among them).
func (s *Store) PreviousPasswords(ctx context.Context, tenant, user uuid.UUID, n int) ([]string, error) {
	rows, err := s.pool.Query(ctx, previousPasswords, tenant, user, n)
	if err != nil {
		return nil, translate("previous passwords", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// The replaced hash joins the history, which then keeps only its newest keep entries.
const (
	rememberPassword = `INSERT INTO password_history (tenant_id, user_id, hash, created_at)
SELECT u.tenant_id, u.id, u.password_hash, $3 FROM users u WHERE u.tenant_id = $1 AND u.id = $2 AND $4 > 0`
	trimHistory = `DELETE FROM password_history h WHERE h.tenant_id = $1 AND h.user_id = $2
AND h.id NOT IN (SELECT k.id FROM password_history k WHERE k.tenant_id = $1 AND k.user_id = $2
	ORDER BY k.id DESC LIMIT $3)`
	dropResets = `DELETE FROM password_resets r WHERE r.tenant_id = $1 AND r.user_id = $2`
)

// ChangePassword is SetPassword that also keeps the replaced hash among the user's
// previous keep (0: none) and kills the user's reset tokens, in one transaction.
func (s *Store) ChangePassword(ctx context.Context, tenant, id uuid.UUID, hash string, keep int, ev Event) (User, error) {
	var out User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.changePassword(ctx, tx, tenant, id, hash, keep, ev)
		return err
	})
	return out, err
}

func (s *Store) changePassword(ctx context.Context, tx pgx.Tx, tenant, id uuid.UUID, hash string, keep int, ev Event) (User, error) {
	if _, err := tx.Exec(ctx, rememberPassword, tenant, id, ev.At, keep); err != nil {
		return User{}, translate("remember password", err)
	}
	if _, err := tx.Exec(ctx, trimHistory, tenant, id, keep); err != nil {
		return User{}, translate("trim password history", err)
	}
	if _, err := tx.Exec(ctx, dropResets, tenant, id); err != nil {
		return User{}, translate("drop reset tokens", err)
	}
	return s.writeUser(ctx, tx, ev, true, "set password", setPassword, tenant, id, hash, ev.At)
}

const requirePasswordChange = `UPDATE users AS u SET password_change_reason = NULLIF($3, ''), updated_at = $4
WHERE u.tenant_id = $1 AND u.id = $2 RETURNING ` + userColumns

// RequirePasswordChange sets (reason admin, breached or expired) or clears ("") the
// user's forced password change, with ev. It returns ErrNotFound.
func (s *Store) RequirePasswordChange(ctx context.Context, tenant, id uuid.UUID, reason string, ev Event) (User, error) {
	return s.userWrite(ctx, ev, false, "require password change", requirePasswordChange, tenant, id, reason, ev.At)
}

// ResetRequest asks for a reset token of the user named Username (or with id UserID) of
// Tenant. Hash is the SHA-256 of the token minted for the answer, whether or not the user
// exists.
type ResetRequest struct {
	Tenant    uuid.UUID
	UserID    *uuid.UUID
	Username  string
	Hash      []byte
	At        time.Time
	ExpiresAt time.Time
}

// One statement whatever the user: for an unknown or disabled user it inserts and deletes
// nothing, so the request costs the same and the token it answers never works. A new
// token replaces the user's older ones.
const createReset = `WITH u AS (
	SELECT u.tenant_id, u.id, u.epoch FROM users u
	WHERE u.tenant_id = $1 AND (u.id = $2::uuid OR ($2::uuid IS NULL AND u.username = $3)) AND NOT u.disabled
), d AS (
	DELETE FROM password_resets r USING u WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id
)
INSERT INTO password_resets (hash, tenant_id, user_id, user_epoch, created_at, expires_at)
SELECT $4, u.tenant_id, u.id, u.epoch, $5, $6 FROM u RETURNING user_id`

// CreateReset stores the reset token of r when its user exists and is enabled, and writes
// ev (completed with the user when found) either way, in one transaction of two
// statements. It reports the user's id, nil when no token was stored.
func (s *Store) CreateReset(ctx context.Context, r ResetRequest, ev Event) (*uuid.UUID, error) {
	var found *uuid.UUID
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var id uuid.UUID
		err := tx.QueryRow(ctx, createReset, r.Tenant, r.UserID, r.Username, r.Hash, r.At, r.ExpiresAt).Scan(&id)
		switch {
		case err == nil:
			found = &id
			ev.UserID, ev.SubjectID = id.String(), id.String()
		case err != pgx.ErrNoRows:
			return translate("create reset token", err)
		}
		ev.SubjectType, ev.SubjectName = "user", r.Username
		ev.Detail = map[string]any{"issued": found != nil}
		return writeEvent(ctx, tx, ev)
	})
	return found, err
}

const liveReset = `SELECT ` + userColumns + ` FROM password_resets r JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.user_id
WHERE r.hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 AND u.epoch = r.user_epoch AND NOT u.disabled`

// ResetUser returns the user of a live reset token (by hash): unused, unexpired, its user
// enabled and its epoch unmoved. It returns ErrNotFound otherwise. A global lookup: the
// token names its tenant.
func (s *Store) ResetUser(ctx context.Context, hash []byte, now time.Time) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, liveReset, hash, now))
	return u, translate("reset token", err)
}

const useReset = `UPDATE password_resets r SET used_at = $3 FROM users u
WHERE r.hash = $1 AND r.tenant_id = $4 AND r.user_id = $2 AND r.used_at IS NULL AND r.expires_at > $3
  AND u.tenant_id = r.tenant_id AND u.id = r.user_id AND u.epoch = r.user_epoch AND NOT u.disabled`

const clearThrottles = `WITH p AS (
	DELETE FROM login_throttles t WHERE t.tenant_id = $1 AND t.kind IN ('p', 'u') AND t.username = $2
)
DELETE FROM known_ips k WHERE k.tenant_id = $1 AND k.user_id = $3`

// RedeemReset consumes the reset token (by hash) of user u and sets the password hash
// (ChangePassword with keep), revoking every token of the user and clearing the user's
// login throttles and known addresses, in one transaction. It returns ErrNotFound when the
// token was used, expired or died meanwhile (nothing changes then).
func (s *Store) RedeemReset(ctx context.Context, hash []byte, u User, newHash string, keep int, ev Event) (User, error) {
	var out User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, useReset, hash, u.ID, ev.At, u.TenantID)
		if err != nil {
			return translate("use reset token", err)
		}
		if tag.RowsAffected() != 1 {
			return translate("use reset token", pgx.ErrNoRows)
		}
		if _, err := tx.Exec(ctx, clearThrottles, u.TenantID, u.Username, u.ID); err != nil {
			return translate("clear throttles", err)
		}
		out, err = s.changePassword(ctx, tx, u.TenantID, u.ID, newHash, keep, ev)
		return err
	})
	return out, err
}

// ResetCounter names one counter of failed reset redemptions, kept in login_throttles so
// the sweeper expires it: an address's (Tenant nil, kind 'i') or a token's (its tenant,
// kind 'u', Name with a space, which no username holds).
type ResetCounter struct {
	Tenant *uuid.UUID
	Name   string
}

func (c ResetCounter) args() (any, string, string, string) {
	if c.Tenant == nil {
		return nil, "i", "", c.Name
	}
	return *c.Tenant, "u", c.Name, ""
}

const resetFailures = `SELECT t.failures, t.expires_at FROM login_throttles t
WHERE t.tenant_id IS NOT DISTINCT FROM $1::uuid AND t.kind = $2 AND t.username = $3 AND t.ip = $4 AND t.expires_at > $5`

// ResetFailures returns the counter's failures within its window and when it ends (zero
// failures when there is none).
func (s *Store) ResetFailures(ctx context.Context, c ResetCounter, now time.Time) (int, time.Time, error) {
	tn, kind, user, ip := c.args()
	var n int
	var until time.Time
	err := s.pool.QueryRow(ctx, resetFailures, tn, kind, user, ip, now).Scan(&n, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return n, until, translate("reset failures", err)
}

// A counter past its window starts over.
const countResetFailure = `INSERT INTO login_throttles AS t (tenant_id, kind, username, ip, failures, refused, expires_at)
VALUES ($1::uuid, $2, $3, $4, 1, 0, $6)
ON CONFLICT (kind, ip, username, tenant_id) DO UPDATE SET
	failures = CASE WHEN t.expires_at <= $5 THEN 1 ELSE t.failures + 1 END,
	expires_at = CASE WHEN t.expires_at <= $5 THEN EXCLUDED.expires_at ELSE t.expires_at END`

// CountResetFailure adds a failure to the counter, whose window, when it starts, ends at
// until.
func (s *Store) CountResetFailure(ctx context.Context, c ResetCounter, now, until time.Time) error {
	tn, kind, user, ip := c.args()
	_, err := s.pool.Exec(ctx, countResetFailure, tn, kind, user, ip, now, until)
	return translate("count reset failure", err)
}
