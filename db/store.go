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
	"io"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
)

var (
	// ErrNotFound means no row matched (in the given tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
	// ErrStale means a conditional write found the state it depended on changed: an epoch
	// moved, a user or client was disabled, a refresh token was already used.
	ErrStale = errors.New("stale")
	// ErrUnavailable means the database could not answer for now: it is away, over
	// capacity or out of time, or it rolled the transaction back for a retry (see
	// unavailable). Nothing was half done, so the caller may simply try again.
	ErrUnavailable = errors.New("database unavailable")
)

// Store runs jeton's queries on two pools, and decides which query runs on which: the
// main pool (New's) serves introspection, the revocation feed (its reads of the log and
// its LISTEN connection), readiness (Ping) and the sweeper; every other query (the grants
// of /token, client and admin-key authentication, revocation, the admin API) runs on the
// token pool (WithTokenPool), so that a flood of logins or admin work waits for
// connections of its own, never for introspection's. Without WithTokenPool both are the
// main pool.
type Store struct {
	main *pgxpool.Pool // introspection, the feed, readiness and the sweeper
	pool *pgxpool.Pool // everything else: the token pool, else main
	// sweepTx, in the Store WithXactLock hands its fn, is the transaction its sweeps run in.
	sweepTx pgx.Tx
	// batch and callers coalesce the lookups of concurrent /introspect requests, with and
	// without a well-formed token (see Introspect).
	batch, callers *introspectBatcher
	// listenConfig, when not nil, is where Listen connects (WithListenConfig).
	listenConfig *pgx.ConnConfig
}

// Option adjusts a Store at construction.
type Option func(*Store)

// WithTokenPool runs every query on pool except those of introspection, the revocation
// feed, readiness and the sweeper, which stay on New's pool (see Store).
func WithTokenPool(pool *pgxpool.Pool) Option { return func(s *Store) { s.pool = pool } }

// WithListenConfig makes Listen connect with cfg instead of the main pool's settings: a
// direct connection to PostgreSQL when the pools go through a pooler in transaction mode,
// which drops the notifications of a LISTEN made through it.
func WithListenConfig(cfg *pgx.ConnConfig) Option { return func(s *Store) { s.listenConfig = cfg } }

// New returns a Store on pool, the main pool (see Store).
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{main: pool, pool: pool, batch: newIntrospectBatcher(pool, introspectBatch),
		callers: newIntrospectBatcher(pool, introspectCallerBatch)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping reports whether the database answers on the main pool: nil, or an error wrapping
// ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error { return translate("ping", s.main.Ping(ctx)) }

// uuidTexts is ids as the text a ::uuid[] parameter takes. pgx knows no PostgreSQL type
// for a slice of uuid.UUID: in the exec and simple_protocol modes, which a pooler in
// transaction mode needs, it cannot encode one for an untyped parameter.
func uuidTexts(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// translate maps pgx's errors onto the package's: no rows is ErrNotFound, a unique
// violation is ErrConflict, and every way the database can be away or out of time is
// ErrUnavailable (see unavailable), wrapped together with the cause. Other errors are
// wrapped with what was being done. Every error a method returns goes through it.
func translate(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if !errors.Is(err, ErrUnavailable) && unavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return fmt.Errorf("%s: %w (%s)", what, ErrConflict, pg.ConstraintName)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailable reports whether err means the database could not answer in time, or is
// away: a deadline (the caller's timeout, or pgconn's), a connection that could not be
// made or broke (network errors, EOF, a pool closed while shutting down), or PostgreSQL
// saying so with its SQLSTATE (unavailableState). Every such failure leaves nothing
// half-done, since an interrupted transaction is rolled back, so the caller may retry.
func unavailable(err error) bool {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err),
		errors.As(err, &netErr), errors.As(err, &connErr),
		errors.Is(err, puddle.ErrClosedPool), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &pgErr):
		return unavailableState(pgErr.Code)
	}
	return false
}

// unavailableState reports whether a SQLSTATE means the server is away or over capacity
// for now rather than the query being wrong: class 08 (connection exception), class 53
// (insufficient resources: too many connections, disk full, out of memory), 57P01
// (shutdown or pg_terminate_backend), 57P02 (another backend crashed), 57P03 (starting up
// or shutting down), 57P05 (idle_session_timeout), 57014 (statement_timeout or a cancel),
// 55P03 (lock_timeout), 25006 (read-only: a standby, mid-failover), 40001
// (serialization failure, also a standby's recovery conflict) and 40P01 (deadlock): the
// transaction was rolled back and a retry gets past it. 40003 (statement completion
// unknown) is not among them: the commit may have happened, so a retry is not known safe.
func unavailableState(code string) bool {
	if strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") {
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03", "57P05", "57014", "55P03", "25006", "40001", "40P01":
		return true
	}
	return false
}

// tx runs fn in a transaction. fn's own errors come back as fn returned them (its
// statements translate theirs); failing to begin, commit or roll back is translated here.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	var fnErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	return translate("transaction", err)
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
