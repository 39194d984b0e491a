package db

// The sweeper's queries. Like the lookups in global.go they cross tenants on purpose: each
// deletes at most n rows per call, chosen in a LIMITed subquery, and repeats the condition
// on the row it deletes so a row changed meanwhile is left alone. The caller repeats a call
// until it deletes fewer than n rows.
//
// Where a table has an index on the column that ages its rows, the subquery orders by it:
// the planner then walks that index from its oldest end. Without the ORDER BY, a LIMIT that
// expects many matches gets a sequential scan, which every batch restarts from the table's
// first page, past all the live rows and those earlier batches deleted. Rows are then
// deleted by ctid, which spares a second index lookup per row (the statement's snapshot
// keeps a ctid stable; a row updated meanwhile has a new one and is left alone).

import (
	"context"
	"time"
)

// Expired tokens go; a used refresh token is one of them only once its own expires_at has
// passed, which is exactly as long as reuse detection needs it.
const sweepTokens = `DELETE FROM tokens d
WHERE d.ctid = ANY (ARRAY(SELECT t.ctid FROM tokens t WHERE t.expires_at < $1 ORDER BY t.expires_at LIMIT $2))
  AND d.expires_at < $1`

// SweepExpiredTokens deletes up to n tokens that expired before now and returns how many
// it deleted, or the database's error.
func (s *Store) SweepExpiredTokens(ctx context.Context, now time.Time, n int) (int64, error) {
	return s.sweep(ctx, "sweep tokens", sweepTokens, now, n)
}

// Sessions past their absolute lifetime; their tokens cascade (normally none are left,
// since no token outlives its session and expired tokens are swept first).
const sweepExpiredSessions = `DELETE FROM sessions d
WHERE d.ctid = ANY (ARRAY(SELECT s.ctid FROM sessions s WHERE s.expires_at < $1 ORDER BY s.expires_at LIMIT $2))
  AND d.expires_at < $1`

// SweepExpiredSessions deletes up to n sessions whose absolute lifetime ended before now,
// with any tokens left in them, and returns how many sessions it deleted, or the
// database's error.
func (s *Store) SweepExpiredSessions(ctx context.Context, now time.Time, n int) (int64, error) {
	return s.sweep(ctx, "sweep expired sessions", sweepExpiredSessions, now, n)
}

// A revoked session is kept while any of its tokens is: a used refresh token of a revoked
// session still has to be recognised (and refused) until it expires.
const sweepRevokedSessions = `DELETE FROM sessions d
WHERE d.id = ANY (ARRAY(
	SELECT s.id FROM sessions s
	WHERE s.revoked_at IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.tenant_id = s.tenant_id AND t.session_id = s.id)
	LIMIT $1))
  AND d.revoked_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.tenant_id = d.tenant_id AND t.session_id = d.id)`

// SweepRevokedSessions deletes up to n revoked sessions that have no token left and
// returns how many it deleted, or the database's error.
func (s *Store) SweepRevokedSessions(ctx context.Context, n int) (int64, error) {
	return s.sweep(ctx, "sweep revoked sessions", sweepRevokedSessions, n)
}

// An event is kept for its tenant's event_retention_seconds, else for the default ($2);
// the global stream (tenant_id NULL) and events of unknown tenants use the default. A NULL
// default keeps events without a tenant override forever. The second condition only lets
// the planner use events_at: nothing younger than the shortest retention can go.
const sweepEvents = `DELETE FROM events d
WHERE d.id = ANY (ARRAY(
	SELECT e.id FROM events e LEFT JOIN tenants tn ON tn.id = e.tenant_id
	WHERE e.at < $1::timestamptz - COALESCE(tn.event_retention_seconds, $2::bigint) * interval '1 second'
	  AND e.at < $1::timestamptz - (SELECT LEAST($2::bigint, min(event_retention_seconds)) FROM tenants) * interval '1 second'
	ORDER BY e.at LIMIT $3))`

// SweepEvents deletes up to n events older than their tenant's retention at now, or than
// def for the global stream and tenants without an override (def <= 0: such events are
// kept), and returns how many it deleted, or the database's error.
func (s *Store) SweepEvents(ctx context.Context, now time.Time, def time.Duration, n int) (int64, error) {
	var defSeconds *int64
	if def > 0 {
		v := int64(def / time.Second)
		defSeconds = &v
	}
	return s.sweep(ctx, "sweep events", sweepEvents, now, defSeconds, n)
}

// The revocation log is trimmed from its smallest id up to the first row (in time) still
// within the retention, never past the newest row: what is kept is always every id from
// the smallest kept one on, so a reader tells a trimmed gap from a quiet one by the
// smallest id alone (RevocationPage.Oldest), and the head survives.
const sweepRevocations = `DELETE FROM revocations d
WHERE d.id = ANY (ARRAY(
	SELECT r.id FROM revocations r
	WHERE r.id < COALESCE((SELECT k.id FROM revocations k WHERE k.at >= $1 ORDER BY k.at LIMIT 1),
	                      (SELECT max(m.id) FROM revocations m))
	ORDER BY r.id LIMIT $2))`

// SweepRevocations deletes up to n of the revocation log's oldest rows, those with an id
// below the first row appended at or after before (the newest row always stays), and
// returns how many it deleted, or the database's error.
func (s *Store) SweepRevocations(ctx context.Context, before time.Time, n int) (int64, error) {
	return s.sweep(ctx, "sweep revocations", sweepRevocations, before, n)
}

// Throttle rows go once their window (or a pair's back-off memory) has passed. Rows a
// login holds are skipped, not waited for: logins lock their three rows in kind order, and
// a sweep taking the same rows in another order could deadlock with them.
const sweepLoginThrottles = `DELETE FROM login_throttles d
WHERE d.ctid = ANY (ARRAY(SELECT t.ctid FROM login_throttles t WHERE t.expires_at < $1 ORDER BY t.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))
  AND d.expires_at < $1`

// SweepLoginThrottles deletes up to n login throttle counters whose window ended before
// now and returns how many it deleted, or the database's error.
func (s *Store) SweepLoginThrottles(ctx context.Context, now time.Time, n int) (int64, error) {
	return s.sweep(ctx, "sweep login throttles", sweepLoginThrottles, now, n)
}

const sweepKnownIPs = `DELETE FROM known_ips d
WHERE d.ctid = ANY (ARRAY(
	SELECT k.ctid FROM known_ips k WHERE k.last_success_at < $1 ORDER BY k.last_success_at LIMIT $2))
  AND d.last_success_at < $1`

// SweepKnownIPs deletes up to n known addresses whose last successful login was before
// before, and returns how many it deleted, or the database's error.
func (s *Store) SweepKnownIPs(ctx context.Context, before time.Time, n int) (int64, error) {
	return s.sweep(ctx, "sweep known addresses", sweepKnownIPs, before, n)
}

// purgeTenantRows holds, in foreign-key order, the DELETE that removes up to $1 rows of one
// table belonging to deleted tenants (tenants.deleted_at set). The tenant row itself stays
// as the tombstone that keeps its slug reserved, and its events age out like any other.
var purgeTenantRows = []struct{ table, sql string }{
	{"tokens", `DELETE FROM tokens WHERE hash = ANY (ARRAY(
		SELECT t.hash FROM tokens t JOIN tenants tn ON tn.id = t.tenant_id WHERE tn.deleted_at IS NOT NULL LIMIT $1))`},
	{"sessions", `DELETE FROM sessions WHERE id = ANY (ARRAY(
		SELECT s.id FROM sessions s JOIN tenants tn ON tn.id = s.tenant_id WHERE tn.deleted_at IS NOT NULL LIMIT $1))`},
	{"client_secrets", `DELETE FROM client_secrets WHERE hash = ANY (ARRAY(
		SELECT cs.hash FROM client_secrets cs JOIN tenants tn ON tn.id = cs.tenant_id WHERE tn.deleted_at IS NOT NULL LIMIT $1))`},
	{"clients", `DELETE FROM clients WHERE id = ANY (ARRAY(
		SELECT c.id FROM clients c JOIN tenants tn ON tn.id = c.tenant_id WHERE tn.deleted_at IS NOT NULL LIMIT $1))`},
	{"users", `DELETE FROM users WHERE id = ANY (ARRAY(
		SELECT u.id FROM users u JOIN tenants tn ON tn.id = u.tenant_id WHERE tn.deleted_at IS NOT NULL LIMIT $1))`},
	{"admin_keys", `DELETE FROM admin_keys WHERE id = ANY (ARRAY(
		SELECT k.id FROM admin_keys k JOIN tenants tn ON tn.id = k.tenant_id WHERE tn.deleted_at IS NOT NULL LIMIT $1))`},
	{"webhook_deliveries", `DELETE FROM webhook_deliveries WHERE (endpoint_id, event_id) IN (
		SELECT d.endpoint_id, d.event_id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
		JOIN tenants tn ON tn.id = w.tenant_id WHERE tn.deleted_at IS NOT NULL LIMIT $1)`},
	{"webhook_endpoints", `DELETE FROM webhook_endpoints WHERE id = ANY (ARRAY(
		SELECT w.id FROM webhook_endpoints w JOIN tenants tn ON tn.id = w.tenant_id WHERE tn.deleted_at IS NOT NULL LIMIT $1))`},
}

// PurgeDeletedTenants deletes up to n rows in all that belong to deleted tenants (tokens,
// sessions, client secrets, clients, users, admin keys, webhook deliveries and endpoints, in that order, so no delete
// cascades into a large number of rows) and returns how many it deleted, with the first
// database error.
func (s *Store) PurgeDeletedTenants(ctx context.Context, n int) (int64, error) {
	var total int64
	for _, p := range purgeTenantRows {
		if total >= int64(n) {
			break
		}
		got, err := s.sweep(ctx, "purge deleted tenants' "+p.table, p.sql, int64(n)-total)
		total += got
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Store) sweep(ctx context.Context, what, sql string, args ...any) (int64, error) {
	var q querier = s.main
	if s.sweepTx != nil {
		q = s.sweepTx
	}
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return 0, translate(what, err)
	}
	return tag.RowsAffected(), nil
}

// WithXactLock runs fn in a transaction on the main pool that first takes PostgreSQL's
// transaction-level advisory lock key (pg_try_advisory_xact_lock), and reports whether it
// got the lock: when another transaction holds it, fn does not run and ran is false. The
// Store fn is given runs its sweeps (the Sweep methods and PurgeDeletedTenants) in that
// transaction, under the lock; its other methods are this Store's. The lock ends with the
// transaction, which commits when fn returns nil and rolls back otherwise: no session
// outlives it holding the lock, so it elects one sweeper also behind a pooler in
// transaction mode, where a session-level lock is taken on one server session and
// released (or not) on another. It returns fn's error, or the error of the transaction.
func (s *Store) WithXactLock(ctx context.Context, key int64, fn func(ctx context.Context, locked *Store) error) (ran bool, err error) {
	tx, err := s.main.Begin(ctx)
	if err != nil {
		return false, translate("advisory lock", err)
	}
	// The rollback runs also when ctx has ended: one on the ended ctx would close the
	// connection instead, and the lock would stay held until the server noticed.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1::bigint)`, key).Scan(&ran); err != nil || !ran {
		return false, translate("advisory lock", err)
	}
	locked := *s
	locked.sweepTx = tx
	if err := fn(ctx, &locked); err != nil {
		return true, err
	}
	return true, translate("advisory lock", tx.Commit(ctx))
}
