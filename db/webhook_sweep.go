package db

import "context"

// The delivery log is kept as long as its event: a finished delivery (delivered, failed,
// skipped) goes once its event's id is below the smallest id still kept, so its event is
// certainly gone. A pending one stays until the dispatcher reaches it and marks it skipped.
const sweepWebhookDeliveries = `DELETE FROM webhook_deliveries d
WHERE (d.endpoint_id, d.event_id) IN (
	SELECT x.endpoint_id, x.event_id FROM webhook_deliveries x
	WHERE x.state <> 'pending' AND x.event_id < (SELECT COALESCE(min(e.id), 9223372036854775807) FROM events e)
	LIMIT $1)
  AND d.state <> 'pending'`

// SweepWebhookDeliveries deletes up to n finished deliveries whose events are gone and
// returns how many it deleted, or the database's error.
func (s *Store) SweepWebhookDeliveries(ctx context.Context, n int) (int64, error) {
	return s.sweep(ctx, "sweep webhook deliveries", sweepWebhookDeliveries, n)
}
