package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TOTPFactor is a user's stored TOTP secret, sealed under the key ring's key KeyID.
type TOTPFactor struct {
	TenantID  uuid.UUID
	UserID    uuid.UUID
	KeyID     string
	Secret    []byte
	Confirmed bool
	LastStep  int64
}

const putPendingTOTP = `INSERT INTO mfa_totp AS f (tenant_id, user_id, key_id, secret, created_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, user_id) DO UPDATE SET key_id = EXCLUDED.key_id, secret = EXCLUDED.secret,
	created_at = EXCLUDED.created_at, last_step = 0
WHERE f.confirmed_at IS NULL`

// PutPendingTOTP stores a pending TOTP secret for the user, replacing a pending one. It
// returns ErrConflict when the user has an active TOTP factor.
func (s *Store) PutPendingTOTP(ctx context.Context, f TOTPFactor, now time.Time) error {
	tag, err := s.pool.Exec(ctx, putPendingTOTP, f.TenantID, f.UserID, f.KeyID, f.Secret, now)
	if err != nil {
		return translate("put totp", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("put totp: %w", ErrConflict)
	}
	return nil
}

const totpFactor = `SELECT tenant_id, user_id, key_id, secret, confirmed_at IS NOT NULL, last_step
FROM mfa_totp WHERE tenant_id = $1 AND user_id = $2`

// TOTP returns the user's TOTP factor, active or pending, or ErrNotFound.
func (s *Store) TOTP(ctx context.Context, tenant, user uuid.UUID) (TOTPFactor, error) {
	var f TOTPFactor
	err := s.pool.QueryRow(ctx, totpFactor, tenant, user).Scan(&f.TenantID, &f.UserID, &f.KeyID, &f.Secret,
		&f.Confirmed, &f.LastStep)
	return f, translate("totp", err)
}

// ErrCodeUsed means a second-factor code was not accepted by its conditional write: a TOTP
// step not later than the last accepted (a replay), a recovery code used already or
// unknown, or a factor not in the state expected.
var ErrCodeUsed = errors.New("code already used")

// TOTPUse is a code of time step Step accepted for the user; the step must be later than
// any accepted before (RFC 6238 §5.2). Confirm: the code confirms a pending factor.
type TOTPUse struct {
	TenantID, UserID uuid.UUID
	Step             int64
	Confirm          bool
}

const useTOTPStep = `UPDATE mfa_totp SET last_step = $3,
	confirmed_at = CASE WHEN $4 THEN $5 ELSE confirmed_at END
WHERE tenant_id = $1 AND user_id = $2 AND last_step < $3 AND (confirmed_at IS NULL) = $4`

const clearMFAFailures = `DELETE FROM mfa_failures WHERE tenant_id = $1 AND user_id = $2`

// useTOTP accepts u and, a success, clears the user's counted attempts.
func useTOTP(ctx context.Context, tx pgx.Tx, u TOTPUse, now time.Time) error {
	tag, err := tx.Exec(ctx, useTOTPStep, u.TenantID, u.UserID, u.Step, u.Confirm, now)
	if err != nil {
		return translate("use totp", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("use totp: %w", ErrCodeUsed)
	}
	_, err = tx.Exec(ctx, clearMFAFailures, u.TenantID, u.UserID)
	return translate("use totp", err)
}

// RecoveryCodes are a user's new recovery codes, as SHA-256 of Salt and each code.
type RecoveryCodes struct {
	Salt   []byte
	Hashes [][]byte
}

const deleteRecoveryCodes = `DELETE FROM mfa_recovery_codes WHERE tenant_id = $1 AND user_id = $2`

const insertRecoveryCodes = `INSERT INTO mfa_recovery_codes (tenant_id, user_id, salt, hash)
SELECT $1, $2, $3, h FROM unnest($4::bytea[]) AS h`

func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, tenant, user uuid.UUID, rc RecoveryCodes) error {
	if _, err := tx.Exec(ctx, deleteRecoveryCodes, tenant, user); err != nil {
		return translate("replace recovery codes", err)
	}
	_, err := tx.Exec(ctx, insertRecoveryCodes, tenant, user, rc.Salt, rc.Hashes)
	return translate("replace recovery codes", err)
}

// UseTOTPAndReplaceCodes accepts the code u (ErrStale when its step is not later than the
// last accepted, or the factor is not in the state u expects) and replaces the user's
// recovery codes with rc, writing ev, in one transaction; login, when not nil, completes
// that login in the same transaction (completeMFALogin, its factor already used: neither
// a step nor a recovery code).
func (s *Store) UseTOTPAndReplaceCodes(ctx context.Context, u TOTPUse, rc RecoveryCodes, ev Event, login *MFACompletion) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		// The mfa_token's row first, the order CountMFAAttempt locks in.
		if login != nil {
			if err := completeMFALogin(ctx, tx, *login); err != nil {
				return err
			}
		}
		if err := useTOTP(ctx, tx, u, ev.At); err != nil {
			return err
		}
		if err := replaceRecoveryCodes(ctx, tx, u.TenantID, u.UserID, rc); err != nil {
			return err
		}
		return writeEvent(ctx, tx, ev)
	})
}

const deleteTOTP = `DELETE FROM mfa_totp WHERE tenant_id = $1 AND user_id = $2`

// RemoveTOTP accepts the code u of the active factor (ErrStale otherwise), then removes
// the factor and the recovery codes and writes ev, in one transaction.
func (s *Store) RemoveTOTP(ctx context.Context, u TOTPUse, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := useTOTP(ctx, tx, u, ev.At); err != nil {
			return err
		}
		return removeFactors(ctx, tx, u.TenantID, u.UserID, ev)
	})
}

func removeFactors(ctx context.Context, tx pgx.Tx, tenant, user uuid.UUID, ev Event) error {
	if _, err := tx.Exec(ctx, deleteTOTP, tenant, user); err != nil {
		return translate("remove factors", err)
	}
	if _, err := tx.Exec(ctx, deleteRecoveryCodes, tenant, user); err != nil {
		return translate("remove factors", err)
	}
	if _, err := tx.Exec(ctx, clearMFAFailures, tenant, user); err != nil {
		return translate("remove factors", err)
	}
	return writeEvent(ctx, tx, ev)
}

// ResetMFA removes every factor of the user (an admin's reset) and writes ev, in one
// transaction. It returns ErrNotFound for an unknown user.
func (s *Store) ResetMFA(ctx context.Context, tenant, user uuid.UUID, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenant, user).Scan(&one); err != nil {
			return translate("reset mfa", err)
		}
		return removeFactors(ctx, tx, tenant, user, ev)
	})
}

const recoverySalt = `SELECT salt FROM mfa_recovery_codes WHERE tenant_id = $1 AND user_id = $2 LIMIT 1`

// RecoverySalt returns the salt of the user's recovery codes, or ErrNotFound when she has
// none.
func (s *Store) RecoverySalt(ctx context.Context, tenant, user uuid.UUID) ([]byte, error) {
	var salt []byte
	err := s.pool.QueryRow(ctx, recoverySalt, tenant, user).Scan(&salt)
	return salt, translate("recovery salt", err)
}

// MFACompletion is a login completed by a second factor: the mfa_token it consumes, the
// login to issue (its user epoch the token's), the factor used (a TOTP step or a
// recovery code's hash; neither when the caller used the factor itself), the amr of the
// session and the throttles' username and counted address, which becomes known.
type MFACompletion struct {
	TokenHash    []byte
	Login        Login
	AMR          []string
	TOTPStep     int64
	RecoveryHash []byte
	Username, IP string
	Events       []Event
	// Code, when set, is issued instead of Login (the authorization challenge endpoint);
	// Login then only names the tenant, client, user and time.
	Code *AuthCode
}

// The attempt that consumes the token was counted already (CountMFAAttempt): the 5th
// may still succeed.
const consumeMFAToken = `UPDATE mfa_tokens m SET used_at = $2 FROM users u
WHERE m.hash = $1 AND m.tenant_id = $3 AND m.client_id = $4 AND m.failures <= 5 AND ` + usableMFAToken

const useRecoveryCode = `UPDATE mfa_recovery_codes SET used_at = $4
WHERE tenant_id = $1 AND user_id = $2 AND hash = $3 AND used_at IS NULL`

const mfaLoginSucceeded = `WITH p AS (
	DELETE FROM login_throttles WHERE kind = 'p' AND tenant_id = $1 AND username = $3 AND ip = $4
), f AS (
	DELETE FROM mfa_failures WHERE tenant_id = $1 AND user_id = $2
), a AS (
	UPDATE sessions SET amr = $6 WHERE tenant_id = $1 AND id = $7
)
INSERT INTO known_ips AS k (tenant_id, user_id, ip, last_success_at) VALUES ($1, $2, $4, $5)
ON CONFLICT (tenant_id, user_id, ip) DO UPDATE SET last_success_at = EXCLUDED.last_success_at`

// completeMFALogin uses the TOTP step or recovery code (ErrCodeUsed, having written
// nothing, when it was used already), consumes the mfa_token, clears the user's failure
// counter, issues the login with its amr and makes the address known, in tx. It returns
// ErrStale when the token is no longer live for the login's client or the login's
// tenant, client or user changed.
func completeMFALogin(ctx context.Context, tx pgx.Tx, c MFACompletion) error {
	l := c.Login
	switch {
	case c.TOTPStep != 0:
		if err := useTOTP(ctx, tx, TOTPUse{TenantID: l.TenantID, UserID: l.UserID, Step: c.TOTPStep}, l.Now); err != nil {
			return err
		}
	case c.RecoveryHash != nil:
		if err := execOne(ctx, tx, "use recovery code", useRecoveryCode, l.TenantID, l.UserID, c.RecoveryHash, l.Now); err != nil {
			if errors.Is(err, ErrStale) {
				return fmt.Errorf("use recovery code: %w", ErrCodeUsed)
			}
			return err
		}
	}
	if err := execOne(ctx, tx, "consume mfa token", consumeMFAToken, c.TokenHash, l.Now, l.TenantID, l.ClientID); err != nil {
		return err
	}
	if c.Code != nil {
		if err := insertCode(ctx, tx, *c.Code); err != nil {
			return err
		}
	} else if err := issueLoginIn(ctx, tx, l); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, mfaLoginSucceeded, l.TenantID, l.UserID, c.Username, c.IP, l.Now, c.AMR, l.SessionID); err != nil {
		return translate("settle mfa login", err)
	}
	for _, ev := range c.Events {
		if err := writeEvent(ctx, tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// execOne runs sql and maps no row changed to ErrStale.
func execOne(ctx context.Context, q querier, what, sql string, args ...any) error {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return translate(what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, ErrStale)
	}
	return nil
}

// TOTPSecrets returns every stored TOTP secret not sealed under keyID, across tenants:
// what jeton keys rotate re-seals.
func (s *Store) TOTPSecrets(ctx context.Context, keyID string) ([]TOTPFactor, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, user_id, key_id, secret, confirmed_at IS NOT NULL, last_step
		FROM mfa_totp WHERE key_id <> $1`, keyID)
	if err != nil {
		return nil, translate("totp secrets", err)
	}
	return collect(rows, func(r pgx.Row) (TOTPFactor, error) {
		var f TOTPFactor
		err := r.Scan(&f.TenantID, &f.UserID, &f.KeyID, &f.Secret, &f.Confirmed, &f.LastStep)
		return f, err
	}, "totp secrets")
}

// ResealTOTP replaces the secret of f, if it is still sealed as read (f.KeyID and the old
// bytes), with secret sealed under keyID. It reports whether it replaced it.
func (s *Store) ResealTOTP(ctx context.Context, f TOTPFactor, keyID string, secret []byte) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE mfa_totp SET key_id = $5, secret = $6
		WHERE tenant_id = $1 AND user_id = $2 AND key_id = $3 AND secret = $4`,
		f.TenantID, f.UserID, f.KeyID, f.Secret, keyID, secret)
	if err != nil {
		return false, translate("reseal totp", err)
	}
	return tag.RowsAffected() == 1, nil
}

// MFAPolicyTenants returns the slugs of the live tenants whose mfa_policy is not off.
func (s *Store) MFAPolicyTenants(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT slug FROM tenants WHERE mfa_policy <> 'off' AND deleted_at IS NULL ORDER BY slug`)
	if err != nil {
		return nil, translate("mfa tenants", err)
	}
	return collect(rows, func(r pgx.Row) (string, error) {
		var s string
		err := r.Scan(&s)
		return s, err
	}, "mfa tenants")
}
