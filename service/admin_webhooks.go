package service

import (
	"context"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/webhooks"
)

// webhookScope checks that the key reaches the tenant's webhooks, or for "" the global
// stream's, which need a global key.
func (a Admin) webhookScope(slug string) error {
	if slug == "" {
		return a.global("the global stream's webhooks")
	}
	return a.in(slug)
}

// CreateWebhook is Service.CreateWebhook.
func (a Admin) CreateWebhook(ctx context.Context, slug string, spec WebhookSpec) (db.WebhookEndpoint, string, error) {
	if err := a.webhookScope(slug); err != nil {
		return db.WebhookEndpoint{}, "", err
	}
	return a.s.CreateWebhook(ctx, a.actor, slug, spec)
}

// Webhooks is Service.Webhooks.
func (a Admin) Webhooks(ctx context.Context, slug string) ([]db.WebhookEndpoint, error) {
	if err := a.webhookScope(slug); err != nil {
		return nil, err
	}
	return a.s.Webhooks(ctx, slug)
}

// Webhook is Service.Webhook.
func (a Admin) Webhook(ctx context.Context, slug string, id uuid.UUID) (db.WebhookEndpoint, error) {
	if err := a.webhookScope(slug); err != nil {
		return db.WebhookEndpoint{}, err
	}
	return a.s.Webhook(ctx, slug, id)
}

// UpdateWebhook is Service.UpdateWebhook.
func (a Admin) UpdateWebhook(ctx context.Context, slug string, id uuid.UUID, ch WebhookChange) (db.WebhookEndpoint, error) {
	if err := a.webhookScope(slug); err != nil {
		return db.WebhookEndpoint{}, err
	}
	return a.s.UpdateWebhook(ctx, a.actor, slug, id, ch)
}

// DeleteWebhook is Service.DeleteWebhook.
func (a Admin) DeleteWebhook(ctx context.Context, slug string, id uuid.UUID) error {
	if err := a.webhookScope(slug); err != nil {
		return err
	}
	return a.s.DeleteWebhook(ctx, a.actor, slug, id)
}

// RotateWebhookSecret is Service.RotateWebhookSecret.
func (a Admin) RotateWebhookSecret(ctx context.Context, slug string, id uuid.UUID) (db.WebhookEndpoint, string, error) {
	if err := a.webhookScope(slug); err != nil {
		return db.WebhookEndpoint{}, "", err
	}
	return a.s.RotateWebhookSecret(ctx, a.actor, slug, id)
}

// TestWebhook is Service.TestWebhook.
func (a Admin) TestWebhook(ctx context.Context, slug string, id uuid.UUID) (webhooks.Attempt, error) {
	if err := a.webhookScope(slug); err != nil {
		return webhooks.Attempt{}, err
	}
	return a.s.TestWebhook(ctx, slug, id)
}

// WebhookDeliveries is Service.WebhookDeliveries.
func (a Admin) WebhookDeliveries(ctx context.Context, slug string, id uuid.UUID, cursor string, limit int) (DeliveryPage, error) {
	if err := a.webhookScope(slug); err != nil {
		return DeliveryPage{}, err
	}
	return a.s.WebhookDeliveries(ctx, slug, id, cursor, limit)
}

// Redeliver is Service.Redeliver.
func (a Admin) Redeliver(ctx context.Context, slug string, id uuid.UUID, event int64) (db.WebhookDelivery, error) {
	if err := a.webhookScope(slug); err != nil {
		return db.WebhookDelivery{}, err
	}
	return a.s.Redeliver(ctx, slug, id, event)
}
