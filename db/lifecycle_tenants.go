package db

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

const updateLifecycle = `UPDATE tenants SET password_history = $2, password_max_age_seconds = $3,
	password_reset_ttl_seconds = $4 WHERE id = $1`

// updateTenantLifecycle writes t's password lifecycle settings within UpdateTenant's
// transaction and copies them to out, the row as updated.
func updateTenantLifecycle(ctx context.Context, tx pgx.Tx, t Tenant, out *Tenant) error {
	if _, err := tx.Exec(ctx, updateLifecycle, out.ID, t.PasswordHistory, toSeconds(t.PasswordMaxAge),
		toSeconds(t.PasswordResetTTL)); err != nil {
		return translate("update tenant", err)
	}
	out.PasswordHistory, out.PasswordMaxAge, out.PasswordResetTTL = t.PasswordHistory, t.PasswordMaxAge, t.PasswordResetTTL
	return nil
}

const tenantByID = `SELECT ` + tenantColumns + ` FROM tenants t WHERE t.id = $1 AND t.deleted_at IS NULL`

// TenantByID returns the live tenant with that id, or ErrNotFound. A global lookup: the
// caller holds a secret (a reset token) that named the tenant.
func (s *Store) TenantByID(ctx context.Context, id uuid.UUID) (Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, tenantByID, id))
	return t, translate("tenant", err)
}

const forbiddenIn = `SELECT f.word FROM forbidden_passwords f WHERE f.tenant_id = $1 AND strpos($2, f.word) > 0
ORDER BY length(f.word) DESC LIMIT 1`

// ForbiddenIn returns the longest of the tenant's forbidden words that pw (case-folded)
// contains, or "" when none.
func (s *Store) ForbiddenIn(ctx context.Context, tenant uuid.UUID, pw string) (string, error) {
	var w string
	err := s.pool.QueryRow(ctx, forbiddenIn, tenant, pw).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return w, translate("forbidden words", err)
}

const (
	clearForbidden = `DELETE FROM forbidden_passwords WHERE tenant_id = $1`
	addForbidden   = `INSERT INTO forbidden_passwords (tenant_id, word) SELECT $1, w FROM unnest($2::text[]) w
ON CONFLICT DO NOTHING`
	listForbidden = `SELECT f.word FROM forbidden_passwords f WHERE f.tenant_id = $1 ORDER BY f.word`
)

// SetForbiddenWords replaces the tenant's forbidden words (already case-folded) and
// writes ev, in one transaction.
func (s *Store) SetForbiddenWords(ctx context.Context, tenant uuid.UUID, words []string, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, clearForbidden, tenant); err != nil {
			return translate("forbidden words", err)
		}
		if _, err := tx.Exec(ctx, addForbidden, tenant, words); err != nil {
			return translate("forbidden words", err)
		}
		return writeEvent(ctx, tx, ev)
	})
}

// ForbiddenWords returns the tenant's forbidden words in order.
func (s *Store) ForbiddenWords(ctx context.Context, tenant uuid.UUID) ([]string, error) {
	rows, err := s.pool.Query(ctx, listForbidden, tenant)
	if err != nil {
		return nil, translate("forbidden words", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

const updatePasswordReset = `UPDATE clients SET password_reset = $3 WHERE tenant_id = $1 AND id = $2`

// setPasswordReset writes c's password_reset permission within CreateClient's or
// UpdateClient's transaction and copies it to out, the row as written.
func setPasswordReset(ctx context.Context, tx pgx.Tx, c Client, out *Client) error {
	if c.PasswordReset == out.PasswordReset {
		return nil
	}
	if _, err := tx.Exec(ctx, updatePasswordReset, out.TenantID, out.ID, c.PasswordReset); err != nil {
		return translate("client password_reset", err)
	}
	out.PasswordReset = c.PasswordReset
	return nil
}
