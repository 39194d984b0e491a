package db

// The webhook dispatcher's queries (docs/WEBHOOKS.md). TakeWebhookEvents turns committed
// events into deliveries, one per subscribed endpoint; ClaimWebhook leases one endpoint's
// queue to one dispatcher instance. Like the sweeper's, these queries cross tenants on
// purpose: one dispatcher serves every tenant, and each row it reads names its tenant.

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// WebhookChannel is the NOTIFY channel that wakes the dispatchers: an event some endpoint
// subscribes to was written, or deliveries were queued.
const WebhookChannel = "jeton_webhooks"

// webhookLockKey serialises the dispatchers' reads of the events ("jetonwh").
const webhookLockKey int64 = 0x6a65746f6e7768

// The first statement of the transaction, before it has an xid of its own (an advisory
// lock takes none), reads the cursor and the snapshot's bounds.
const (
	lockWebhookCursor = `SELECT pg_advisory_xact_lock($1)`
	webhookSnapshot   = `SELECT c.boundary::text, c.pending::text[], pg_snapshot_xmax(s.snap)::text,
	ARRAY(SELECT pg_snapshot_xip(s.snap))::text[],
	EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.disabled_at IS NULL)
FROM webhook_cursor c, (SELECT pg_current_snapshot() AS snap) s`
	// webhookCap bounds one round: the transaction of the $3-th event after the boundary.
	webhookCap = `SELECT (SELECT e.xact FROM events e WHERE e.xact >= $1::text::xid8 AND e.xact < $2::text::xid8
	ORDER BY e.xact, e.id OFFSET $3 LIMIT 1)::text`
	// Events of the transactions below $2 from the boundary on, and of those pending, that
	// were not in progress in the snapshot ($4), in the order of their transactions.
	queueDeliveries = `WITH q AS (
	INSERT INTO webhook_deliveries (endpoint_id, event_id, created_at, next_attempt_at)
	SELECT w.id, e.id, $5, $5
	FROM events e JOIN webhook_endpoints w ON w.disabled_at IS NULL AND w.events && ARRAY['*', e.kind]
		AND (w.tenant_id = e.tenant_id OR (w.tenant_id IS NULL AND e.tenant_id IS NULL))
	WHERE ((e.xact >= $1::text::xid8 AND e.xact < $2::text::xid8) OR e.xact = ANY ($3::text[]::xid8[]))
	  AND NOT e.xact = ANY ($4::text[]::xid8[])
	ORDER BY e.xact, e.id, w.id
	ON CONFLICT DO NOTHING RETURNING 1
)
SELECT count(*) FROM q`
	moveWebhookCursor = `UPDATE webhook_cursor SET boundary = $1::text::xid8, pending = $2::text[]::xid8[]`
	notifyWebhooks    = `SELECT pg_notify('` + WebhookChannel + `', '')`
)

// TakeWebhookEvents queues a delivery for every enabled endpoint subscribed to each event
// whose transaction has ended since the last call, at most about limit events (a whole
// transaction's, however many), and returns how many deliveries it queued and whether it
// stopped at the limit (more are waiting). Calls from several instances run one after
// another. An event is taken once its transaction is no longer in progress, so one
// committing after a later event is taken then, never skipped.
func (s *Store) TakeWebhookEvents(ctx context.Context, now time.Time, limit int) (queued int64, more bool, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockWebhookCursor, webhookLockKey); err != nil {
			return translate("lock webhook cursor", err)
		}
		var boundary, xmax string
		var pending, xip []string
		var wanted bool
		if err := tx.QueryRow(ctx, webhookSnapshot).Scan(&boundary, &pending, &xmax, &xip, &wanted); err != nil {
			return translate("webhook cursor", err)
		}
		upper := xmax
		if wanted {
			var capped *string
			if err := tx.QueryRow(ctx, webhookCap, boundary, xmax, limit).Scan(&capped); err != nil {
				return translate("webhook cursor", err)
			}
			if capped != nil {
				upper, more = *capped, true
				if upper == boundary { // one transaction of more than limit events: take it whole
					upper = strconv.FormatUint(xid(boundary)+1, 10)
				}
			}
			if err := tx.QueryRow(ctx, queueDeliveries, boundary, upper, pending, xip, now).Scan(&queued); err != nil {
				return translate("queue webhook deliveries", err)
			}
		}
		if _, err := tx.Exec(ctx, moveWebhookCursor, upper, stillPending(boundary, upper, pending, xip)); err != nil {
			return translate("move webhook cursor", err)
		}
		if queued > 0 {
			_, err := tx.Exec(ctx, notifyWebhooks)
			return translate("notify webhooks", err)
		}
		return nil
	})
	return queued, more, err
}

// stillPending returns the transactions whose events are not taken yet: those in progress
// in the snapshot (xip) that were pending already or lie in [boundary, upper).
func stillPending(boundary, upper string, pending, xip []string) []string {
	lo, hi := xid(boundary), xid(upper)
	out := []string{}
	for _, x := range xip {
		if v := xid(x); v >= lo && v < hi || slices.Contains(pending, x) {
			out = append(out, x)
		}
	}
	return out
}

// xid parses an xid8's text; PostgreSQL writes them as decimal integers.
func xid(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// The endpoint whose queue head is due soonest among those nobody holds (a deleted
// tenant's wait for the sweeper's purge), leased to owner.
// The outer conditions are checked again on the row's newest version.
const claimWebhook = `UPDATE webhook_endpoints w SET lease_owner = $1, lease_until = $3
WHERE w.id = (
	SELECT e.id FROM webhook_endpoints e
	CROSS JOIN LATERAL (SELECT d.next_attempt_at FROM webhook_deliveries d
		WHERE d.endpoint_id = e.id AND d.state = 'pending' ORDER BY d.seq LIMIT 1) h
	WHERE e.disabled_at IS NULL AND (e.lease_until IS NULL OR e.lease_until <= $2) AND h.next_attempt_at <= $2
	  AND NOT EXISTS (SELECT 1 FROM tenants tn WHERE tn.id = e.tenant_id AND tn.deleted_at IS NOT NULL)
	ORDER BY h.next_attempt_at, e.id LIMIT 1
	FOR UPDATE OF e SKIP LOCKED)
  AND w.disabled_at IS NULL AND (w.lease_until IS NULL OR w.lease_until <= $2)
RETURNING ` + webhookColumns

// ClaimWebhook leases to owner, until now+lease, the enabled endpoint whose next delivery
// is due soonest and that no other owner holds. It returns ErrNotFound when none is due.
func (s *Store) ClaimWebhook(ctx context.Context, owner uuid.UUID, now time.Time, lease time.Duration) (WebhookEndpoint, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, claimWebhook, owner, now, now.Add(lease)))
	return w, translate("claim webhook", err)
}

const renewWebhook = `UPDATE webhook_endpoints SET lease_until = $3 WHERE id = $1 AND lease_owner = $2`

// RenewWebhook extends owner's lease on the endpoint to until. It returns ErrStale when
// owner no longer holds it.
func (s *Store) RenewWebhook(ctx context.Context, owner, id uuid.UUID, until time.Time) error {
	tag, err := s.pool.Exec(ctx, renewWebhook, id, owner, until)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrStale
	}
	return translate("renew webhook lease", err)
}

const releaseWebhook = `UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`

// ReleaseWebhook ends owner's lease on the endpoint, if it still holds it.
func (s *Store) ReleaseWebhook(ctx context.Context, owner, id uuid.UUID) error {
	_, err := s.pool.Exec(ctx, releaseWebhook, id, owner)
	return translate("release webhook lease", err)
}
