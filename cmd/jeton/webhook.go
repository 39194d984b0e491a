package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks"
)

// webhookCmd is "jeton webhook ACTION". Without --tenant an action acts on the global
// stream's endpoints.
type webhookCmd struct {
	List         webhookListCmd         `cmd:"" help:"List the endpoints of a tenant, or of the global stream."`
	Show         webhookShowCmd         `cmd:"" help:"Show an endpoint."`
	Create       webhookCreateCmd       `cmd:"" help:"Create an endpoint; its signing secret is printed once."`
	Update       webhookUpdateCmd       `cmd:"" help:"Change an endpoint; what no flag names stays as it is."`
	Delete       webhookDeleteCmd       `cmd:"" help:"Delete an endpoint and its delivery log."`
	RotateSecret webhookRotateSecretCmd `cmd:"" name:"rotate-secret" help:"Give an endpoint a new secret, printed once; the old one signs beside it for 24 hours."`
	Test         webhookTestCmd         `cmd:"" help:"Send an endpoint a webhook.test delivery now and print the answer."`
}

// webhookScope is the tenant whose endpoints an action names ("" for the global stream).
type webhookScope struct {
	Tenant string `name:"tenant" placeholder:"SLUG" help:"the tenant; without it, the global stream"`
}

// webhookRef names one endpoint.
type webhookRef struct {
	webhookScope `embed:""`
	ID           string `arg:"" name:"id" help:"the endpoint's id"`
}

// with opens the service (with opt, when not nil) and runs do on the endpoint's id.
func (r webhookRef) with(ctx context.Context, e env, f adminFlags, opt service.Option,
	do func(*service.Service, uuid.UUID) error) error {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return fmt.Errorf("webhook %q: %w", r.ID, service.ErrNotFound)
	}
	var opts []service.Option
	if opt != nil {
		opts = append(opts, opt)
	}
	return f.withService(ctx, e, func(svc *service.Service) error { return do(svc, id) }, opts...)
}

// webhookSending lets a command reach private addresses, as serve's flag does.
type webhookSending struct {
	AllowPrivate bool `name:"allow-private" env:"JETON_WEBHOOK_ALLOW_PRIVATE" help:"accept (and, for test, reach) loopback and private addresses"`
}

func (w webhookSending) option() service.Option {
	return service.WithWebhookSender(webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: w.AllowPrivate,
		UserAgent: "jeton/" + version}))
}

// webhookView is an endpoint as the commands print it; Secret only after create and
// rotate-secret.
type webhookView struct {
	ID                      uuid.UUID  `json:"id"`
	Tenant                  string     `json:"tenant,omitempty"`
	URL                     string     `json:"url"`
	Events                  []string   `json:"events"`
	Description             string     `json:"description"`
	Disabled                bool       `json:"disabled"`
	DisabledReason          string     `json:"disabled_reason,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	Secret                  string     `json:"secret,omitempty"`
}

func webhookOut(tenant string, w db.WebhookEndpoint, secret string) webhookView {
	out := webhookView{ID: w.ID, Tenant: tenant, URL: w.URL, Events: w.Events, Description: w.Description,
		Disabled: w.DisabledAt != nil, DisabledReason: w.DisabledReason, CreatedAt: w.CreatedAt, Secret: secret}
	if w.OldSecretUntil != nil && time.Now().Before(*w.OldSecretUntil) {
		out.PreviousSecretExpiresAt = w.OldSecretUntil
	}
	return out
}

func showWebhook(e env, asJSON bool, v webhookView) error {
	text := fmt.Sprintf("id=%s\nurl=%s\nevents=%s\ndisabled=%t", v.ID, v.URL, strings.Join(v.Events, ","), v.Disabled)
	if v.Secret != "" {
		text += "\nsecret=" + v.Secret + "\n(the secret is shown only now)"
	}
	return output(e.stdout, asJSON, v, text)
}

type webhookListCmd struct {
	webhookScope `embed:""`
	adminFlags   `embed:""`
	JSON         bool `name:"json" help:"print one JSON object per endpoint"`
}

func (c *webhookListCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		ws, err := svc.Webhooks(ctx, c.Tenant)
		if err != nil {
			return err
		}
		return table(e.stdout, c.JSON, ws, "ID\tURL\tEVENTS\tDISABLED", func(w db.WebhookEndpoint) string {
			return fmt.Sprintf("%s\t%s\t%s\t%t", w.ID, w.URL, strings.Join(w.Events, ","), w.DisabledAt != nil)
		}, func(w db.WebhookEndpoint) any { return webhookOut(c.Tenant, w, "") })
	})
}

type webhookShowCmd struct {
	webhookRef `embed:""`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object"`
}

func (c *webhookShowCmd) Run(ctx context.Context, e env) error {
	return c.with(ctx, e, c.adminFlags, nil, func(svc *service.Service, id uuid.UUID) error {
		w, err := svc.Webhook(ctx, c.Tenant, id)
		if err != nil {
			return err
		}
		return showWebhook(e, c.JSON, webhookOut(c.Tenant, w, ""))
	})
}

type webhookCreateCmd struct {
	webhookScope   `embed:""`
	URL            string `name:"url" required:"" help:"the https URL to POST events to"`
	Event          list   `name:"event" required:"" placeholder:"KIND" help:"an event kind to deliver, or * for all (repeatable, or comma-separated)"`
	Description    string `name:"description" help:"what the endpoint is for"`
	Disabled       bool   `name:"disabled" help:"create it disabled"`
	webhookSending `embed:""`
	adminFlags     `embed:""`
	JSON           bool `name:"json" help:"print one JSON object, with the secret"`
}

func (c *webhookCreateCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		w, secret, err := svc.CreateWebhook(ctx, cliActor(), c.Tenant, service.WebhookSpec{URL: c.URL, Events: c.Event,
			Description: c.Description, Disabled: c.Disabled})
		if err != nil {
			return err
		}
		return showWebhook(e, c.JSON, webhookOut(c.Tenant, w, secret))
	}, c.option())
}

type webhookUpdateCmd struct {
	webhookRef     `embed:""`
	URL            *string `name:"url" help:"the https URL to POST events to"`
	Event          list    `name:"event" placeholder:"KIND" help:"an event kind to deliver, or * for all (repeatable, or comma-separated; replaces the list)"`
	Description    *string `name:"description" help:"what the endpoint is for"`
	Disabled       optBool `name:"disabled" placeholder:"true|false" help:"disable the endpoint, or enable it (its queue resumes at once)"`
	webhookSending `embed:""`
	adminFlags     `embed:""`
	JSON           bool `name:"json" help:"print the endpoint as one JSON object"`
}

func (c *webhookUpdateCmd) Run(ctx context.Context, e env) error {
	ch := service.WebhookChange{URL: c.URL, Description: c.Description}
	if len(c.Event) > 0 {
		ch.Events = c.Event
	}
	if c.Disabled.set {
		ch.Disabled = &c.Disabled.value
	}
	return c.with(ctx, e, c.adminFlags, c.option(), func(svc *service.Service, id uuid.UUID) error {
		w, err := svc.UpdateWebhook(ctx, cliActor(), c.Tenant, id, ch)
		if err != nil {
			return err
		}
		return showWebhook(e, c.JSON, webhookOut(c.Tenant, w, ""))
	})
}

type webhookDeleteCmd struct {
	webhookRef `embed:""`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print what was deleted as one JSON object"`
}

func (c *webhookDeleteCmd) Run(ctx context.Context, e env) error {
	return c.with(ctx, e, c.adminFlags, nil, func(svc *service.Service, id uuid.UUID) error {
		if err := svc.DeleteWebhook(ctx, cliActor(), c.Tenant, id); err != nil {
			return err
		}
		return output(e.stdout, c.JSON, map[string]any{"id": id.String(), "tenant": c.Tenant, "deleted": true},
			"deleted webhook "+id.String())
	})
}

type webhookRotateSecretCmd struct {
	webhookRef `embed:""`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object, with the new secret"`
}

func (c *webhookRotateSecretCmd) Run(ctx context.Context, e env) error {
	return c.with(ctx, e, c.adminFlags, nil, func(svc *service.Service, id uuid.UUID) error {
		w, secret, err := svc.RotateWebhookSecret(ctx, cliActor(), c.Tenant, id)
		if err != nil {
			return err
		}
		return showWebhook(e, c.JSON, webhookOut(c.Tenant, w, secret))
	})
}

type webhookTestCmd struct {
	webhookRef     `embed:""`
	webhookSending `embed:""`
	adminFlags     `embed:""`
	JSON           bool `name:"json" help:"print one JSON object: delivered, status, latency_ms, error, response"`
}

// testView is what a test delivery got.
type testView struct {
	Delivered bool   `json:"delivered"`
	Status    int    `json:"status,omitempty"`
	LatencyMS int64  `json:"latency_ms"`
	Error     string `json:"error,omitempty"`
	Response  string `json:"response"`
}

func (c *webhookTestCmd) Run(ctx context.Context, e env) error {
	return c.with(ctx, e, c.adminFlags, c.option(), func(svc *service.Service, id uuid.UUID) error {
		a, err := svc.TestWebhook(ctx, c.Tenant, id)
		if err != nil {
			return err
		}
		v := testView{Delivered: a.Delivered(), Status: a.Status, LatencyMS: a.Latency.Milliseconds(), Response: service.CleanText(string(a.Body))}
		if a.Err != nil {
			v.Error = service.CleanText(a.Err.Error())
		}
		text := fmt.Sprintf("delivered=%t status=%d latency=%dms", v.Delivered, v.Status, v.LatencyMS)
		if v.Error != "" {
			text += " error=" + v.Error
		}
		return output(e.stdout, c.JSON, v, text)
	})
}
