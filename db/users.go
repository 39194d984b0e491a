package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// User is a resource owner of one tenant. Scopes nil means no restriction beyond the
// client's.
type User struct {
	TenantID     uuid.UUID
	ID           uuid.UUID
	Username     string
	PasswordHash string
	Disabled     bool
	Scopes       []string
	Epoch        int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// PasswordChangedAt is when the password was last set; PasswordChangeReason, when not
	// empty, is why the user must change it before getting tokens (admin, breached, expired).
	PasswordChangedAt    time.Time
	PasswordChangeReason string
}

const userColumns = `u.tenant_id, u.id, u.username, u.password_hash, u.disabled, u.scopes, u.epoch,
	u.created_at, u.updated_at, coalesce(u.password_changed_at, u.created_at), coalesce(u.password_change_reason, '')`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.TenantID, &u.ID, &u.Username, &u.PasswordHash, &u.Disabled, &u.Scopes,
		&u.Epoch, &u.CreatedAt, &u.UpdatedAt, &u.PasswordChangedAt, &u.PasswordChangeReason)
	return u, err
}

const createUser = `INSERT INTO users AS u (tenant_id, id, username, password_hash, scopes, created_at, updated_at, password_changed_at)
VALUES ($1, $2, $3, $4, $5, $6, $6, $6) RETURNING ` + userColumns

// CreateUser inserts u (its username already normalised) and its event. It returns
// ErrConflict when the username is taken in the tenant.
func (s *Store) CreateUser(ctx context.Context, u User, ev Event) (User, error) {
	var out User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanUser(tx.QueryRow(ctx, createUser, u.TenantID, uuid.New(), u.Username,
			u.PasswordHash, u.Scopes, ev.At))
		if err != nil {
			return translate("create user", err)
		}
		ev.SubjectType, ev.SubjectID, ev.SubjectName = "user", out.ID.String(), out.Username
		ev.UserID = out.ID.String()
		return writeEvent(ctx, tx, ev)
	})
	return out, err
}

const userByUsername = `SELECT ` + userColumns + ` FROM users u WHERE u.tenant_id = $1 AND u.username = $2`

// UserByUsername returns the tenant's user with that (normalised) username, or ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, tenant uuid.UUID, username string) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, userByUsername, tenant, username))
	return u, translate("user by username", err)
}

const userByID = `SELECT ` + userColumns + ` FROM users u WHERE u.tenant_id = $1 AND u.id = $2`

// UserByID returns the tenant's user with that id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, tenant, id uuid.UUID) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, userByID, tenant, id))
	return u, translate("user", err)
}

const listUsers = `SELECT ` + userColumns + ` FROM users u
WHERE u.tenant_id = $1 AND u.username >= $2 AND starts_with(u.username, $3) AND u.username > $4
ORDER BY u.username LIMIT $5`

// ListUsers returns up to limit users of the tenant whose username starts with prefix and
// sorts after the username after, in username order.
func (s *Store) ListUsers(ctx context.Context, tenant uuid.UUID, prefix, after string, limit int) ([]User, error) {
	rows, err := s.pool.Query(ctx, listUsers, tenant, prefix, prefix, after, limit)
	if err != nil {
		return nil, translate("list users", err)
	}
	return collect(rows, scanUser, "list users")
}

// A disable, or a password change, bumps the epoch in the same statement: every token live
// at that moment stays dead.
const updateUser = `UPDATE users AS u SET disabled = $3, scopes = $4,
	epoch = u.epoch + CASE WHEN $3 AND NOT u.disabled THEN 1 ELSE 0 END, updated_at = $5
WHERE u.tenant_id = $1 AND u.id = $2 RETURNING ` + userColumns

// lockUser reads the row an update starts from, locking it until commit, so a concurrent
// update cannot write back a stale copy.
const lockUser = `SELECT ` + userColumns + ` FROM users u WHERE u.tenant_id = $1 AND u.id = $2 FOR UPDATE`

// UpdateUser locks the user, lets edit turn the current row into the new one (disabled
// flag, scopes) and its event, and writes both; a disable also appends a user revocation
// to the log. It returns ErrNotFound when the tenant has no such user, or edit's error.
func (s *Store) UpdateUser(ctx context.Context, tenant, id uuid.UUID, edit func(User) (User, Event, error)) (User, error) {
	var out User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		cur, err := scanUser(tx.QueryRow(ctx, lockUser, tenant, id))
		if err != nil {
			return translate("update user", err)
		}
		u, ev, err := edit(cur)
		if err != nil {
			return err
		}
		out, err = s.writeUser(ctx, tx, ev, u.Disabled && !cur.Disabled, "update user", updateUser,
			tenant, id, u.Disabled, u.Scopes, ev.At)
		return err
	})
	return out, err
}

const setPassword = `UPDATE users AS u SET password_hash = $3, epoch = u.epoch + 1, updated_at = $4,
	password_changed_at = $4, password_change_reason = NULL
WHERE u.tenant_id = $1 AND u.id = $2 RETURNING ` + userColumns

// SetPassword stores a new password hash and revokes every token of the user by bumping its
// epoch, with ev and a user revocation in the log, in one transaction. It returns
// ErrNotFound for an unknown user.
func (s *Store) SetPassword(ctx context.Context, tenant, id uuid.UUID, hash string, ev Event) (User, error) {
	return s.userWrite(ctx, ev, true, "set password", setPassword, tenant, id, hash, ev.At)
}

// The hash is replaced only if it is still the one verified and the epoch has not moved:
// a password set meanwhile stays. The epoch is left alone, so no token dies.
const rehashPassword = `UPDATE users SET password_hash = $5
WHERE tenant_id = $1 AND id = $2 AND password_hash = $3 AND epoch = $4`

// RehashPassword replaces the user's password hash verified, under epoch, with hash (the
// same password under the current parameters) in one conditional UPDATE, revoking
// nothing. It reports whether it replaced it: false when the password or the epoch changed
// meanwhile, or the user is gone. It returns the database's error.
func (s *Store) RehashPassword(ctx context.Context, tenant, id uuid.UUID, verified string, epoch int64, hash string) (bool, error) {
	tag, err := s.pool.Exec(ctx, rehashPassword, tenant, id, verified, epoch, hash)
	if err != nil {
		return false, translate("rehash password", err)
	}
	return tag.RowsAffected() == 1, nil
}

// BumpUserEpoch revokes every token of the user and writes ev and a user revocation to the
// log. It returns the epoch before the bump, or ErrNotFound.
func (s *Store) BumpUserEpoch(ctx context.Context, tenant, id uuid.UUID, ev Event) (int64, error) {
	rev := Revocation{TenantID: tenant, Kind: RevokedUser, Subject: id.String(), At: ev.At}
	return s.bumpEpoch(ctx, `UPDATE users SET epoch = epoch + 1, updated_at = $3
		WHERE tenant_id = $1 AND id = $2 RETURNING epoch - 1`, ev, rev, tenant, id, ev.At)
}

// userWrite runs writeUser in a transaction of its own.
func (s *Store) userWrite(ctx context.Context, ev Event, revokes bool, what, sql string, args ...any) (User, error) {
	var out User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.writeUser(ctx, tx, ev, revokes, what, sql, args...)
		return err
	})
	return out, err
}

// writeUser runs sql, which returns the user's row, then writes ev about it and, when
// revokes, appends a user revocation to the log.
func (s *Store) writeUser(ctx context.Context, tx pgx.Tx, ev Event, revokes bool, what, sql string, args ...any) (User, error) {
	out, err := scanUser(tx.QueryRow(ctx, sql, args...))
	if err != nil {
		return out, translate(what, err)
	}
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "user", out.ID.String(), out.Username
	ev.UserID = out.ID.String()
	if err := writeEvent(ctx, tx, ev); err != nil || !revokes {
		return out, err
	}
	return out, s.appendRevocation(ctx, tx, Revocation{TenantID: out.TenantID, Kind: RevokedUser,
		Subject: out.ID.String(), At: ev.At})
}

const deleteUser = `DELETE FROM users u WHERE u.tenant_id = $1 AND u.id = $2 RETURNING ` + userColumns

// DeleteUser removes the user and, through the foreign keys, its sessions and tokens; ev
// (which keeps the user's id and name) and a user revocation, which outlive the user, are
// written in the same transaction. It returns ErrNotFound for an unknown user.
func (s *Store) DeleteUser(ctx context.Context, tenant, id uuid.UUID, ev Event) error {
	_, err := s.userWrite(ctx, ev, true, "delete user", deleteUser, tenant, id)
	return err
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error), what string) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, translate(what, err)
		}
		out = append(out, v)
	}
	return out, translate(what, rows.Err())
}
