package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Delivery states.
const (
	DeliveryPending   = "pending"   // queued or being retried
	DeliveryDelivered = "delivered" // the receiver answered 2xx
	DeliveryFailed    = "failed"    // given up: 3 days of failures, or 410 Gone
	DeliverySkipped   = "skipped"   // the event was deleted (retention) before it was delivered
)

// WebhookDelivery is one event's delivery to one endpoint: a row of the queue and of the
// delivery log.
type WebhookDelivery struct {
	EndpointID     uuid.UUID
	EventID        int64
	Seq            int64
	State          string
	Attempts       int
	CreatedAt      time.Time
	FirstAttemptAt *time.Time
	LastAttemptAt  *time.Time
	NextAttemptAt  time.Time
	LastStatus     *int
	LastLatency    *time.Duration
	LastError      string
	LastResponse   string
}

const deliveryColumns = `d.endpoint_id, d.event_id, d.seq, d.state, d.attempts, d.created_at, d.first_attempt_at,
	d.last_attempt_at, d.next_attempt_at, d.last_status, d.last_latency_ms, d.last_error, d.last_response`

func scanDelivery(row pgx.Row) (WebhookDelivery, error) {
	var d WebhookDelivery
	var ms *int64
	err := row.Scan(&d.EndpointID, &d.EventID, &d.Seq, &d.State, &d.Attempts, &d.CreatedAt, &d.FirstAttemptAt,
		&d.LastAttemptAt, &d.NextAttemptAt, &d.LastStatus, &ms, &d.LastError, &d.LastResponse)
	if ms != nil {
		l := time.Duration(*ms) * time.Millisecond
		d.LastLatency = &l
	}
	return d, err
}

const nextDeliveries = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries d
WHERE d.endpoint_id = $1 AND d.state = 'pending' ORDER BY d.seq LIMIT $2`

// NextDeliveries returns the first limit deliveries of the endpoint's queue, in order. The
// dispatcher calls it while it holds the endpoint's lease.
func (s *Store) NextDeliveries(ctx context.Context, endpoint uuid.UUID, limit int) ([]WebhookDelivery, error) {
	rows, err := s.pool.Query(ctx, nextDeliveries, endpoint, limit)
	if err != nil {
		return nil, translate("next webhook deliveries", err)
	}
	return collect(rows, scanDelivery, "next webhook deliveries")
}

const eventsInScope = eventSelect + `WHERE e.id = ANY ($2) AND (e.tenant_id = $1 OR (e.tenant_id IS NULL AND $1::uuid IS NULL))`

// EventsByID returns the events of the tenant's stream (the global stream when tenant is
// nil) with these ids, by id; an id the sweeper deleted is missing from the map.
func (s *Store) EventsByID(ctx context.Context, tenant *uuid.UUID, ids []int64) (map[int64]Event, error) {
	rows, err := s.pool.Query(ctx, eventsInScope, tenant, ids)
	if err != nil {
		return nil, translate("events", err)
	}
	list, err := collect(rows, scanEvent, "events")
	out := make(map[int64]Event, len(list))
	for _, e := range list {
		out[e.ID] = e
	}
	return out, err
}

// WebhookAttempt is what one attempt changes: the delivery's new state (DeliveryPending
// with NextAttempt for a retry) and what the receiver answered. Disable, when not nil, is
// the webhook_disabled event: the endpoint is disabled with DisabledReason in the same
// transaction.
type WebhookAttempt struct {
	EndpointID     uuid.UUID
	EventID        int64
	At             time.Time
	State          string
	Status         *int
	Latency        time.Duration
	Error          string
	Response       string
	NextAttempt    time.Time
	Disable        *Event
	DisabledReason string
	Counted        bool // false for a skipped event: no attempt was made
}

// recordAttempt writes only while $11 holds the endpoint's lease.
const (
	recordAttempt = `UPDATE webhook_deliveries SET state = $3, attempts = attempts + CASE WHEN $10 THEN 1 ELSE 0 END,
	first_attempt_at = CASE WHEN $10 THEN COALESCE(first_attempt_at, $4) ELSE first_attempt_at END,
	last_attempt_at = CASE WHEN $10 THEN $4 ELSE last_attempt_at END, next_attempt_at = $5,
	last_status = CASE WHEN $10 THEN $6 ELSE last_status END,
	last_latency_ms = CASE WHEN $10 THEN $7 ELSE last_latency_ms END, last_error = $8, last_response = $9
WHERE endpoint_id = $1 AND event_id = $2 AND state = 'pending'
  AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = $1 AND w.lease_owner = $11)`
	disableWebhook = `UPDATE webhook_endpoints SET disabled_at = $2, disabled_reason = $3, updated_at = $2,
	lease_owner = NULL, lease_until = NULL WHERE id = $1`
)

// RecordWebhookAttempt stores a's outcome, if owner still holds the endpoint's lease, and
// disables the endpoint when a says so. It returns ErrStale when owner lost the lease
// (another instance took the queue over; it will make the attempt again).
func (s *Store) RecordWebhookAttempt(ctx context.Context, owner uuid.UUID, a WebhookAttempt) error {
	if a.Disable == nil {
		tag, err := s.pool.Exec(ctx, recordAttempt, a.EndpointID, a.EventID, a.State, a.At, a.NextAttempt, a.Status,
			a.Latency.Milliseconds(), a.Error, a.Response, a.Counted, owner)
		if err == nil && tag.RowsAffected() == 0 {
			return ErrStale
		}
		return translate("record webhook attempt", err)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, recordAttempt, a.EndpointID, a.EventID, a.State, a.At, a.NextAttempt, a.Status,
			a.Latency.Milliseconds(), a.Error, a.Response, a.Counted, owner)
		if err != nil {
			return translate("record webhook attempt", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrStale
		}
		if _, err := tx.Exec(ctx, disableWebhook, a.EndpointID, a.At, a.DisabledReason); err != nil {
			return translate("disable webhook", err)
		}
		return writeEvent(ctx, tx, *a.Disable)
	})
}

const listDeliveries = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.id = d.endpoint_id
WHERE ` + sameScope + ` AND w.id = $2 AND ($3::bigint = 0 OR d.seq < $3)
ORDER BY d.seq DESC LIMIT $4`

// ListDeliveries returns up to limit entries of the endpoint's delivery log, newest first,
// with a seq below before when it is not 0.
func (s *Store) ListDeliveries(ctx context.Context, tenant *uuid.UUID, endpoint uuid.UUID, before int64, limit int) ([]WebhookDelivery, error) {
	rows, err := s.pool.Query(ctx, listDeliveries, tenant, endpoint, before, limit)
	if err != nil {
		return nil, translate("list webhook deliveries", err)
	}
	return collect(rows, scanDelivery, "list webhook deliveries")
}

// The event must be in the endpoint's stream and still kept; the delivery goes to the end
// of the queue, due at once, its attempts counted afresh.
const redeliver = `INSERT INTO webhook_deliveries AS d (endpoint_id, event_id, created_at, next_attempt_at)
SELECT w.id, e.id, $4, $4 FROM webhook_endpoints w
JOIN events e ON e.id = $3 AND (e.tenant_id = w.tenant_id OR (e.tenant_id IS NULL AND w.tenant_id IS NULL))
WHERE ` + sameScope + ` AND w.id = $2
ON CONFLICT (endpoint_id, event_id) DO UPDATE SET state = 'pending', seq = DEFAULT, attempts = 0,
	first_attempt_at = NULL, next_attempt_at = $4, last_error = '', last_response = ''
RETURNING ` + deliveryColumns

// Redeliver queues the event for the endpoint again (or for the first time) and wakes the
// dispatchers. It returns ErrNotFound when the endpoint is not in the scope or the event
// is not in its stream.
func (s *Store) Redeliver(ctx context.Context, tenant *uuid.UUID, endpoint uuid.UUID, event int64, now time.Time) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if d, err = scanDelivery(tx.QueryRow(ctx, redeliver, tenant, endpoint, event, now)); err != nil {
			return translate("redeliver", err)
		}
		_, err = tx.Exec(ctx, notifyWebhooks)
		return translate("redeliver", err)
	})
	return d, err
}
