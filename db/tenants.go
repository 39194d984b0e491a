package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Tenant is one customer of a jeton deployment. The TTL fields are overrides: nil means
// the configured default.
type Tenant struct {
	ID                uuid.UUID
	Slug              string
	Name              string
	Disabled          bool
	Epoch             int64
	Version           int64 // moves with every update: a copy whose Version is the database's is current
	AccessTTL         *time.Duration
	RefreshIdleTTL    *time.Duration
	RefreshMaxTTL     *time.Duration
	RefreshReuseGrace time.Duration
	EventRetention    *time.Duration
	// Overrides of the deployment's password policy and login throttles; nil means the
	// deployment's setting.
	MinPasswordLength *int
	LoginBackoffAfter *int // failures of a (username, address) pair before back-off
	LoginUserLimit    *int // failures of a username per window before unknown addresses are refused
	LoginIPLimit      *int // failures from one address per window
	CreatedAt         time.Time
	UpdatedAt         time.Time
	DeletedAt         *time.Time
	// MFAPolicy is "off", "optional" or "required"; MFAFailureLimit overrides the wrong
	// second-factor codes a user may send per window (nil: the default).
	MFAPolicy       string
	MFAFailureLimit *int
	// The password lifecycle (written with the rest by UpdateTenant): how many previous passwords a new one
	// may not repeat, the age past which a login must change it (nil: never), and the
	// lifetime of reset tokens (nil: DefaultResetTTL).
	PasswordHistory  int
	PasswordMaxAge   *time.Duration
	PasswordResetTTL *time.Duration
}

const tenantColumns = `t.id, t.slug, t.name, t.disabled, t.epoch, t.version, t.access_ttl_seconds,
	t.refresh_idle_ttl_seconds, t.refresh_max_ttl_seconds, t.refresh_reuse_grace_seconds,
	t.event_retention_seconds, t.min_password_length, t.login_backoff_after, t.login_user_limit,
	t.login_ip_limit, t.created_at, t.updated_at, t.deleted_at, t.mfa_policy, t.mfa_failure_limit,
	t.password_history, t.password_max_age_seconds, t.password_reset_ttl_seconds`

// tenantDest returns scan destinations for tenantColumns into t; finish converts the
// seconds columns once the row is scanned.
func tenantDest(t *Tenant) (dest []any, finish func()) {
	var access, idle, max, retention, pwAge, resetTTL *int64
	var grace int64
	dest = []any{&t.ID, &t.Slug, &t.Name, &t.Disabled, &t.Epoch, &t.Version, &access, &idle, &max, &grace,
		&retention, &t.MinPasswordLength, &t.LoginBackoffAfter, &t.LoginUserLimit, &t.LoginIPLimit,
		&t.CreatedAt, &t.UpdatedAt, &t.DeletedAt, &t.MFAPolicy, &t.MFAFailureLimit, &t.PasswordHistory, &pwAge, &resetTTL}
	return dest, func() {
		t.AccessTTL, t.RefreshIdleTTL, t.RefreshMaxTTL = seconds(access), seconds(idle), seconds(max)
		t.RefreshReuseGrace = time.Duration(grace) * time.Second
		t.EventRetention = seconds(retention)
		t.PasswordMaxAge, t.PasswordResetTTL = seconds(pwAge), seconds(resetTTL)
	}
}

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	dest, finish := tenantDest(&t)
	if err := row.Scan(dest...); err != nil {
		return t, err
	}
	finish()
	return t, nil
}

const createTenant = `INSERT INTO tenants AS t (id, slug, name, created_at, updated_at)
VALUES ($1, $2, $3, $4, $4) RETURNING ` + tenantColumns

// CreateTenant inserts a tenant and its event. It returns ErrConflict when the slug is
// taken, also by a deleted tenant's tombstone.
func (s *Store) CreateTenant(ctx context.Context, slug, name string, ev Event) (Tenant, error) {
	var t Tenant
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = scanTenant(tx.QueryRow(ctx, createTenant, uuid.New(), slug, name, ev.At))
		if err != nil {
			return translate("create tenant", err)
		}
		ev.TenantID = &t.ID
		ev.SubjectID, ev.SubjectName = t.ID.String(), t.Slug
		return writeEvent(ctx, tx, ev)
	})
	return t, err
}

const tenantBySlug = `SELECT ` + tenantColumns + ` FROM tenants t WHERE t.slug = $1 AND t.deleted_at IS NULL`

// TenantBySlug returns the live tenant with that slug, or ErrNotFound (also for a tombstone).
func (s *Store) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, tenantBySlug, slug))
	return t, translate("tenant "+slug, err)
}

// Disabling bumps the epoch in the same statement, so every token live at that moment stays
// dead after re-enabling.
const updateTenant = `UPDATE tenants AS t SET name = $2, disabled = $3,
	epoch = t.epoch + CASE WHEN $3 AND NOT t.disabled THEN 1 ELSE 0 END, version = t.version + 1,
	access_ttl_seconds = $4, refresh_idle_ttl_seconds = $5, refresh_max_ttl_seconds = $6,
	refresh_reuse_grace_seconds = $7, event_retention_seconds = $8, updated_at = $9,
	min_password_length = $10, login_backoff_after = $11, login_user_limit = $12, login_ip_limit = $13
WHERE t.id = $1 AND t.deleted_at IS NULL RETURNING ` + tenantColumns

// lockTenant reads the row an update starts from, locking it until commit, so a concurrent
// update cannot write back a stale copy (a PATCH racing a disable would re-enable).
const lockTenant = `SELECT ` + tenantColumns + ` FROM tenants t WHERE t.id = $1 AND t.deleted_at IS NULL FOR UPDATE`

// UpdateTenant locks the tenant, lets edit turn the current row into the new one and its
// event, and writes both; disabling also appends a tenant revocation to the log. It
// returns ErrNotFound for a deleted or unknown tenant, or edit's error (writing nothing).
func (s *Store) UpdateTenant(ctx context.Context, id uuid.UUID, edit func(Tenant) (Tenant, Event, error)) (Tenant, error) {
	var out Tenant
	err := s.tx(ctx, func(tx pgx.Tx) error {
		cur, err := scanTenant(tx.QueryRow(ctx, lockTenant, id))
		if err != nil {
			return translate("update tenant", err)
		}
		was := cur.Disabled
		t, ev, err := edit(cur)
		if err != nil {
			return err
		}
		t.ID = id
		out, err = scanTenant(tx.QueryRow(ctx, updateTenant, t.ID, t.Name, t.Disabled,
			toSeconds(t.AccessTTL), toSeconds(t.RefreshIdleTTL), toSeconds(t.RefreshMaxTTL),
			int64(t.RefreshReuseGrace/time.Second), toSeconds(t.EventRetention), ev.At,
			t.MinPasswordLength, t.LoginBackoffAfter, t.LoginUserLimit, t.LoginIPLimit))
		if err != nil {
			return translate("update tenant", err)
		}
		if out, err = updateTenantMFA(ctx, tx, out, t); err != nil {
			return err
		}
		if err := updateTenantLifecycle(ctx, tx, t, &out); err != nil {
			return err
		}
		ev.TenantID = &out.ID
		ev.SubjectType, ev.SubjectID, ev.SubjectName = "tenant", out.ID.String(), out.Slug
		if err := writeEvent(ctx, tx, ev); err != nil || !out.Disabled || was {
			return err
		}
		return s.appendRevocation(ctx, tx, Revocation{TenantID: out.ID, Kind: RevokedTenant, At: ev.At})
	})
	return out, err
}

const deleteTenant = `UPDATE tenants SET disabled = true, epoch = epoch + 1, deleted_at = $2, updated_at = $2
WHERE id = $1 AND deleted_at IS NULL`

// DeleteTenant makes the tenant a tombstone in one short transaction: disabled, epoch
// bumped, slug kept reserved. Its event goes to the global stream, its revocation to the
// tenant's log. The sweeper purges its rows later. It returns ErrNotFound when the tenant
// is already gone.
func (s *Store) DeleteTenant(ctx context.Context, id uuid.UUID, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteTenant, id, ev.At)
		if err != nil {
			return translate("delete tenant", err)
		}
		if tag.RowsAffected() == 0 {
			return translate("delete tenant", pgx.ErrNoRows)
		}
		ev.TenantID = nil
		if err := writeEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.appendRevocation(ctx, tx, Revocation{TenantID: id, Kind: RevokedTenant, At: ev.At})
	})
}

// BumpTenantEpoch revokes every token of the tenant by moving its epoch, and writes ev and
// a tenant revocation to the log in the same short transaction. It returns the epoch
// before the bump.
func (s *Store) BumpTenantEpoch(ctx context.Context, id uuid.UUID, ev Event) (int64, error) {
	rev := Revocation{TenantID: id, Kind: RevokedTenant, At: ev.At}
	return s.bumpEpoch(ctx, `UPDATE tenants SET epoch = epoch + 1, updated_at = $2
		WHERE id = $1 AND deleted_at IS NULL RETURNING epoch - 1`, ev, rev, id, ev.At)
}

// bumpEpoch runs one epoch-bumping UPDATE ... RETURNING the previous epoch, ev, and the
// append of rev to the revocation log, in a transaction.
func (s *Store) bumpEpoch(ctx context.Context, sql string, ev Event, rev Revocation, args ...any) (int64, error) {
	var prev int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, sql, args...).Scan(&prev); err != nil {
			return translate("bump epoch", err)
		}
		if err := writeEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.appendRevocation(ctx, tx, rev)
	})
	return prev, err
}

const updateTenantMFAPolicy = `UPDATE tenants AS t SET mfa_policy = $2, mfa_failure_limit = $3
WHERE t.id = $1 RETURNING ` + tenantColumns

// updateTenantMFA writes want's second-factor settings over out, the row just updated,
// when they differ.
func updateTenantMFA(ctx context.Context, tx pgx.Tx, out, want Tenant) (Tenant, error) {
	if want.MFAPolicy == "" {
		want.MFAPolicy = out.MFAPolicy
	}
	same := want.MFAPolicy == out.MFAPolicy && (want.MFAFailureLimit == nil) == (out.MFAFailureLimit == nil) &&
		(want.MFAFailureLimit == nil || *want.MFAFailureLimit == *out.MFAFailureLimit)
	if same {
		return out, nil
	}
	t, err := scanTenant(tx.QueryRow(ctx, updateTenantMFAPolicy, out.ID, want.MFAPolicy, want.MFAFailureLimit))
	return t, translate("update tenant", err)
}
