package db

// Webhook endpoints (docs/WEBHOOKS.md). An endpoint belongs to a tenant, or to the global
// stream when its tenant is nil; every method takes that scope and filters on it, as
// ListEvents does (nil matches only tenant_id IS NULL).

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// WebhookEndpoint is one receiver of events. Secret and OldSecret are HMAC keys: the
// dispatcher must read them to sign, so they are stored as they are and never logged.
type WebhookEndpoint struct {
	ID             uuid.UUID
	TenantID       *uuid.UUID
	URL            string
	Events         []string // event kinds, or "*"
	Description    string
	Secret         []byte
	OldSecret      []byte // signs alongside Secret until OldSecretUntil
	OldSecretUntil *time.Time
	DisabledAt     *time.Time
	DisabledReason string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Keys returns the keys that sign at now: the secret, and the old one during its overlap.
func (w WebhookEndpoint) Keys(now time.Time) [][]byte {
	keys := [][]byte{w.Secret}
	if w.OldSecret != nil && w.OldSecretUntil != nil && now.Before(*w.OldSecretUntil) {
		keys = append(keys, w.OldSecret)
	}
	return keys
}

const webhookColumns = `w.id, w.tenant_id, w.url, w.events, w.description, w.secret, w.old_secret,
	w.old_secret_until, w.disabled_at, w.disabled_reason, w.created_at, w.updated_at`

func scanWebhook(row pgx.Row) (WebhookEndpoint, error) {
	var w WebhookEndpoint
	err := row.Scan(&w.ID, &w.TenantID, &w.URL, &w.Events, &w.Description, &w.Secret, &w.OldSecret,
		&w.OldSecretUntil, &w.DisabledAt, &w.DisabledReason, &w.CreatedAt, &w.UpdatedAt)
	return w, err
}

// sameScope is the condition that a row's tenant_id is the $1 scope (nil: the global one).
const sameScope = `(w.tenant_id = $1 OR (w.tenant_id IS NULL AND $1::uuid IS NULL))`

const createWebhook = `INSERT INTO webhook_endpoints AS w (id, tenant_id, url, events, description, secret,
	disabled_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ` + webhookColumns

// CreateWebhook inserts w and ev in one transaction.
func (s *Store) CreateWebhook(ctx context.Context, w WebhookEndpoint, ev Event) (WebhookEndpoint, error) {
	var out WebhookEndpoint
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanWebhook(tx.QueryRow(ctx, createWebhook, w.ID, w.TenantID, w.URL, w.Events, w.Description,
			w.Secret, w.DisabledAt, ev.At))
		if err != nil {
			return translate("create webhook", err)
		}
		return writeEvent(ctx, tx, webhookEvent(ev, out))
	})
	return out, err
}

func webhookEvent(ev Event, w WebhookEndpoint) Event {
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "webhook", w.ID.String(), w.URL
	return ev
}

const webhookByID = `SELECT ` + webhookColumns + ` FROM webhook_endpoints w WHERE ` + sameScope + ` AND w.id = $2`

// Webhook returns the scope's endpoint, or ErrNotFound.
func (s *Store) Webhook(ctx context.Context, tenant *uuid.UUID, id uuid.UUID) (WebhookEndpoint, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, webhookByID, tenant, id))
	return w, translate("webhook", err)
}

const listWebhooks = `SELECT ` + webhookColumns + ` FROM webhook_endpoints w WHERE ` + sameScope + `
ORDER BY w.created_at, w.id`

// ListWebhooks returns the scope's endpoints, oldest first.
func (s *Store) ListWebhooks(ctx context.Context, tenant *uuid.UUID) ([]WebhookEndpoint, error) {
	rows, err := s.pool.Query(ctx, listWebhooks, tenant)
	if err != nil {
		return nil, translate("list webhooks", err)
	}
	return collect(rows, scanWebhook, "list webhooks")
}

const lockWebhook = webhookByID + ` FOR UPDATE`

// Re-enabling clears the queue's lease and makes its head due at once ($10 is the time).
const updateWebhook = `WITH w AS (
	UPDATE webhook_endpoints w SET url = $3, events = $4, description = $5, secret = $6, old_secret = $7,
		old_secret_until = $8, disabled_at = $9, disabled_reason = CASE WHEN $9::timestamptz IS NULL THEN '' ELSE $11 END,
		updated_at = $10
	WHERE ` + sameScope + ` AND w.id = $2 RETURNING ` + webhookColumns + `
), resumed AS (
	UPDATE webhook_deliveries d SET next_attempt_at = $10 FROM w
	WHERE d.endpoint_id = w.id AND d.state = 'pending' AND w.disabled_at IS NULL AND $12
)
SELECT * FROM w`

// UpdateWebhook locks the endpoint, lets edit turn it into the new one and its event, and
// writes both. Enabling a disabled endpoint resumes its queue at once. It returns
// ErrNotFound, or edit's error (writing nothing).
func (s *Store) UpdateWebhook(ctx context.Context, tenant *uuid.UUID, id uuid.UUID,
	edit func(WebhookEndpoint) (WebhookEndpoint, Event, error)) (WebhookEndpoint, error) {
	var out WebhookEndpoint
	err := s.tx(ctx, func(tx pgx.Tx) error {
		cur, err := scanWebhook(tx.QueryRow(ctx, lockWebhook, tenant, id))
		if err != nil {
			return translate("update webhook", err)
		}
		w, ev, err := edit(cur)
		if err != nil {
			return err
		}
		resumed := cur.DisabledAt != nil && w.DisabledAt == nil
		out, err = scanWebhook(tx.QueryRow(ctx, updateWebhook, tenant, id, w.URL, w.Events, w.Description, w.Secret,
			w.OldSecret, w.OldSecretUntil, w.DisabledAt, ev.At, w.DisabledReason, resumed))
		if err != nil {
			return translate("update webhook", err)
		}
		return writeEvent(ctx, tx, webhookEvent(ev, out))
	})
	return out, err
}

const deleteWebhook = `DELETE FROM webhook_endpoints w WHERE ` + sameScope + ` AND w.id = $2 RETURNING ` + webhookColumns

// DeleteWebhook removes the endpoint and its delivery log and writes ev. It returns
// ErrNotFound for an unknown endpoint.
func (s *Store) DeleteWebhook(ctx context.Context, tenant *uuid.UUID, id uuid.UUID, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		w, err := scanWebhook(tx.QueryRow(ctx, deleteWebhook, tenant, id))
		if err != nil {
			return translate("delete webhook", err)
		}
		return writeEvent(ctx, tx, webhookEvent(ev, w))
	})
}
