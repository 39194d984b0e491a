-- +goose Up
-- Webhooks (docs/WEBHOOKS.md). Each event row records the top-level transaction that wrote
-- it: the dispatcher takes an event once that transaction is no longer in progress in its
-- snapshot, so an event that commits after a later one is still taken, never skipped. The
-- column is added without a default first (no rewrite of existing rows, which predate
-- webhooks and stay NULL), then given one.
ALTER TABLE events ADD COLUMN xact xid8;
ALTER TABLE events ALTER COLUMN xact SET DEFAULT pg_current_xact_id();
CREATE INDEX events_xact ON events (xact, id) WHERE xact IS NOT NULL;

-- An endpoint receives its tenant's events, or the global stream's (tenant_id NULL).
-- secret signs; old_secret signs too until old_secret_until (a rotation's overlap).
-- lease_owner/lease_until: the dispatcher instance working the endpoint's queue, so one
-- delivery per endpoint is in flight, on one instance; an expired lease is anyone's.
CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    tenant_id        uuid REFERENCES tenants (id) ON DELETE CASCADE,
    url              text NOT NULL,
    events           text[] NOT NULL,
    description      text NOT NULL DEFAULT '',
    secret           bytea NOT NULL,
    old_secret       bytea,
    old_secret_until timestamptz,
    disabled_at      timestamptz,
    disabled_reason  text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    lease_owner      uuid,
    lease_until      timestamptz
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at);

-- One row per (endpoint, event): the outbox and the delivery log. seq is the queue's
-- order (the order the dispatcher took the events in); a redelivery takes a new one.
CREATE TABLE webhook_deliveries (
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         bigint NOT NULL,
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz NOT NULL,
    last_status      integer,
    last_latency_ms  integer,
    last_error       text NOT NULL DEFAULT '',
    last_response    text NOT NULL DEFAULT '',
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, seq) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, seq DESC);
-- The sweeper's: finished deliveries by event, oldest first.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (event_id) WHERE state <> 'pending';

-- The dispatcher's position: every event of a transaction below boundary has been taken,
-- except those of the transactions in pending, still in progress when it last looked.
CREATE TABLE webhook_cursor (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    boundary xid8 NOT NULL,
    pending  xid8[] NOT NULL DEFAULT '{}'
);
INSERT INTO webhook_cursor (boundary) VALUES (pg_snapshot_xmin(pg_current_snapshot()));

-- Wakes the dispatchers, only for an event some enabled endpoint subscribes to: other
-- events cost one lookup in a small table and no notification.
-- +goose StatementBegin
CREATE FUNCTION webhook_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_endpoints w
               WHERE w.disabled_at IS NULL AND w.events && ARRAY['*', NEW.kind]
                 AND (w.tenant_id = NEW.tenant_id OR (w.tenant_id IS NULL AND NEW.tenant_id IS NULL))) THEN
        PERFORM pg_notify('jeton_webhooks', '');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER events_webhook_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION webhook_notify();

-- +goose Down
DROP TRIGGER events_webhook_notify ON events;
DROP FUNCTION webhook_notify();
DROP TABLE webhook_cursor;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP INDEX events_xact;
ALTER TABLE events DROP COLUMN xact;
