// Package db is jeton's PostgreSQL storage: one method per query, the SQL beside it.
//
// Every method that reads or writes tenant data takes the tenant's id and filters on it.
// The few lookups by a globally unique key the caller presents (a client by client_id, a
// token or admin key by hash, a tenant by slug) are in global.go and return the tenant they
// found. No query calls now(): the caller's clock is a parameter.
package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrNotFound means no row matched (in the given tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
	// ErrStale means a conditional write found the state it depended on changed: an epoch
	// moved, a user or client was disabled, a refresh token was already used.
	ErrStale = errors.New("stale")
)

// Store runs jeton's queries on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
	// batch and callers coalesce the lookups of concurrent /introspect requests, with and
	// without a well-formed token (see Introspect).
	batch, callers *introspectBatcher
	// beforeAppend, when set by tests, runs in each revoking transaction before its append
	// to the revocation log (WithRevocationHook).
	beforeAppend func(context.Context, Revocation)
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{pool: pool, batch: newIntrospectBatcher(pool, introspectBatch),
		callers: newIntrospectBatcher(pool, introspectCallerBatch)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// translate maps pgx's errors onto the package's: no rows is ErrNotFound, a unique or
// exclusion violation is ErrConflict. Other errors are wrapped with what was being done.
func translate(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return fmt.Errorf("%s: %w (%s)", what, ErrConflict, pg.ConstraintName)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// tx runs fn in a transaction.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// seconds converts a nullable seconds column to a duration pointer, and back.
func seconds(v *int64) *time.Duration {
	if v == nil {
		return nil
	}
	d := time.Duration(*v) * time.Second
	return &d
}

func toSeconds(d *time.Duration) *int64 {
	if d == nil {
		return nil
	}
	v := int64(*d / time.Second)
	return &v
}
