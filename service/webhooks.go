package service

// Webhook endpoints: what the admin API and the CLI manage (docs/WEBHOOKS.md). An empty
// tenant slug names the global stream.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/webhooks"
)

// WebhookSecretOverlap is how long a rotated-out secret keeps signing beside the new one.
const WebhookSecretOverlap = 24 * time.Hour

// TestEventKind is the type of the delivery POST .../test sends.
const TestEventKind = "webhook.test"

// maxWebhookEvents bounds an endpoint's subscription list.
const maxWebhookEvents = 100

var eventKindRE = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)

// WithWebhookSender makes the service check webhook URLs and send test deliveries with
// sender (the dispatcher's, so both apply the same address rules).
func WithWebhookSender(sender *webhooks.Sender) Option { return func(s *Service) { s.sender = sender } }

// WebhookSpec is a new endpoint.
type WebhookSpec struct {
	URL         string
	Events      []string
	Description string
	Disabled    bool
}

// WebhookChange is an update; nil fields stay as they are.
type WebhookChange struct {
	URL         *string
	Events      []string // nil: unchanged
	Description *string
	Disabled    *bool
}

// scope resolves a tenant slug to its id; "" is the global stream (nil).
func (s *Service) scope(ctx context.Context, slug string) (*uuid.UUID, *db.Tenant, error) {
	if slug == "" {
		return nil, nil, nil
	}
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return nil, nil, err
	}
	return &t.ID, &t, nil
}

// CreateWebhook creates an endpoint of the tenant (the global stream for "") and returns
// it with its secret, which is never shown again. It returns ErrNotFound for an unknown
// tenant and a ValidationError for a bad spec.
func (s *Service) CreateWebhook(ctx context.Context, actor db.Actor, slug string, spec WebhookSpec) (db.WebhookEndpoint, string, error) {
	tenant, t, err := s.scope(ctx, slug)
	if err != nil {
		return db.WebhookEndpoint{}, "", err
	}
	w := db.WebhookEndpoint{ID: uuid.New(), TenantID: tenant, URL: spec.URL, Events: spec.Events, Description: spec.Description}
	if spec.Disabled {
		now := s.Now()
		w.DisabledAt = &now
	}
	if err := s.validWebhook(ctx, &w); err != nil {
		return w, "", err
	}
	secret, key, err := webhooks.NewSecret(s.rand)
	if err != nil {
		return w, "", err
	}
	w.Secret = key
	out, err := s.store.CreateWebhook(ctx, w, s.event("webhook_created", actor, t))
	return out, secret, err
}

func (s *Service) validWebhook(ctx context.Context, w *db.WebhookEndpoint) error {
	if err := s.sender.CheckURL(ctx, w.URL); err != nil {
		return invalid("url", err.Error())
	}
	if len(w.Events) == 0 || len(w.Events) > maxWebhookEvents {
		return invalid("events", "must list from 1 to "+strconv.Itoa(maxWebhookEvents)+` event kinds, or be ["*"]`)
	}
	for _, k := range w.Events {
		if k == "*" && len(w.Events) > 1 {
			return invalid("events", `"*" subscribes to every event: it must be alone`)
		}
		if k != "*" && !eventKindRE.MatchString(k) {
			return invalid("events", "must be event kinds (lowercase letters, digits, _ and .) or \"*\"")
		}
	}
	w.Events = slices.Compact(slices.Sorted(slices.Values(w.Events)))
	if len(w.Description) > 256 || !utf8.ValidString(w.Description) || strings.ContainsFunc(w.Description, isControl) {
		return invalid("description", "must be at most 256 bytes of printable UTF-8")
	}
	return nil
}

// Webhooks lists the tenant's endpoints (the global stream's for ""), oldest first.
func (s *Service) Webhooks(ctx context.Context, slug string) ([]db.WebhookEndpoint, error) {
	tenant, _, err := s.scope(ctx, slug)
	if err != nil {
		return nil, err
	}
	return s.store.ListWebhooks(ctx, tenant)
}

// Webhook returns one endpoint, or ErrNotFound.
func (s *Service) Webhook(ctx context.Context, slug string, id uuid.UUID) (db.WebhookEndpoint, error) {
	tenant, _, err := s.scope(ctx, slug)
	if err != nil {
		return db.WebhookEndpoint{}, err
	}
	return s.store.Webhook(ctx, tenant, id)
}

// UpdateWebhook applies ch. Enabling a disabled endpoint resumes its queue at once. It
// returns ErrNotFound or a ValidationError.
func (s *Service) UpdateWebhook(ctx context.Context, actor db.Actor, slug string, id uuid.UUID, ch WebhookChange) (db.WebhookEndpoint, error) {
	tenant, t, err := s.scope(ctx, slug)
	if err != nil {
		return db.WebhookEndpoint{}, err
	}
	return s.store.UpdateWebhook(ctx, tenant, id, func(w db.WebhookEndpoint) (db.WebhookEndpoint, db.Event, error) {
		ev := s.event("webhook_updated", actor, t)
		if ch.URL != nil {
			w.URL = *ch.URL
		}
		if ch.Events != nil {
			w.Events = ch.Events
		}
		if ch.Description != nil {
			w.Description = *ch.Description
		}
		if ch.Disabled != nil && *ch.Disabled != (w.DisabledAt != nil) {
			w.DisabledAt, w.DisabledReason = nil, ""
			if *ch.Disabled {
				w.DisabledAt, w.DisabledReason = &ev.At, "disabled by an administrator"
			}
		}
		return w, ev, s.validWebhook(ctx, &w)
	})
}

// DeleteWebhook deletes the endpoint and its delivery log, or returns ErrNotFound.
func (s *Service) DeleteWebhook(ctx context.Context, actor db.Actor, slug string, id uuid.UUID) error {
	tenant, t, err := s.scope(ctx, slug)
	if err != nil {
		return err
	}
	return s.store.DeleteWebhook(ctx, tenant, id, s.event("webhook_deleted", actor, t))
}

// RotateWebhookSecret gives the endpoint a new secret, returned once; the current one
// keeps signing beside it for WebhookSecretOverlap. It returns ErrNotFound.
func (s *Service) RotateWebhookSecret(ctx context.Context, actor db.Actor, slug string, id uuid.UUID) (db.WebhookEndpoint, string, error) {
	tenant, t, err := s.scope(ctx, slug)
	if err != nil {
		return db.WebhookEndpoint{}, "", err
	}
	secret, key, err := webhooks.NewSecret(s.rand)
	if err != nil {
		return db.WebhookEndpoint{}, "", err
	}
	out, err := s.store.UpdateWebhook(ctx, tenant, id, func(w db.WebhookEndpoint) (db.WebhookEndpoint, db.Event, error) {
		ev := s.event("webhook_secret_rotated", actor, t)
		until := ev.At.Add(WebhookSecretOverlap)
		w.OldSecret, w.OldSecretUntil, w.Secret = w.Secret, &until, key
		return w, ev, nil
	})
	return out, secret, err
}

// TestWebhook sends the endpoint a webhook.test delivery now, outside its queue, and
// returns what the receiver answered. It returns ErrNotFound.
func (s *Service) TestWebhook(ctx context.Context, slug string, id uuid.UUID) (webhooks.Attempt, error) {
	w, err := s.Webhook(ctx, slug, id)
	if err != nil {
		return webhooks.Attempt{}, err
	}
	var nonce [16]byte
	if _, err := io.ReadFull(s.rand, nonce[:]); err != nil {
		return webhooks.Attempt{}, err
	}
	now := s.Now()
	body, err := json.Marshal(Payload{Type: TestEventKind, Timestamp: now.UTC().Format(time.RFC3339Nano),
		Data: map[string]any{"webhook_id": w.ID.String(), "message": "a test delivery from jeton"}})
	if err != nil {
		return webhooks.Attempt{}, err
	}
	msg := webhooks.Message{ID: "test_" + hex.EncodeToString(nonce[:]), At: now, Body: body, Keys: w.Keys(now)}
	return s.sender.Post(ctx, w.URL, msg), nil
}

// DeliveryPage is one page of an endpoint's delivery log, newest first.
type DeliveryPage struct {
	Items      []db.WebhookDelivery
	NextCursor string
}

// WebhookDeliveries lists the endpoint's delivery log, newest first. It returns
// ErrNotFound or a ValidationError for a bad cursor or limit.
func (s *Service) WebhookDeliveries(ctx context.Context, slug string, id uuid.UUID, cursor string, limit int) (DeliveryPage, error) {
	n, err := pageLimit(limit)
	if err != nil {
		return DeliveryPage{}, err
	}
	before, err := decodeSeqCursor("d", cursor)
	if err != nil {
		return DeliveryPage{}, err
	}
	w, err := s.Webhook(ctx, slug, id)
	if err != nil {
		return DeliveryPage{}, err
	}
	items, err := s.store.ListDeliveries(ctx, w.TenantID, w.ID, before, n+1)
	if err != nil {
		return DeliveryPage{}, err
	}
	var page DeliveryPage
	page.Items, page.NextCursor = pageOf(items, n, "d", func(d db.WebhookDelivery) string { return strconv.FormatInt(d.Seq, 10) })
	return page, nil
}

// Redeliver queues the event for the endpoint again, at the end of its queue. It returns
// ErrNotFound for an unknown endpoint or an event not (or no longer) in its stream.
func (s *Service) Redeliver(ctx context.Context, slug string, id uuid.UUID, event int64) (db.WebhookDelivery, error) {
	tenant, _, err := s.scope(ctx, slug)
	if err != nil {
		return db.WebhookDelivery{}, err
	}
	return s.store.Redeliver(ctx, tenant, id, event, s.Now())
}
