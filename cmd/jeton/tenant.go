package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// tenantCmd is "jeton tenant ACTION".
type tenantCmd struct {
	List   tenantListCmd   `cmd:"" help:"List the tenants."`
	Show   tenantShowCmd   `cmd:"" help:"Show a tenant and its settings."`
	Create tenantCreateCmd `cmd:"" help:"Create a tenant."`
	Update tenantUpdateCmd `cmd:"" help:"Change a tenant's name, state or settings; what no flag names stays as it is."`
	Delete tenantDeleteCmd `cmd:"" help:"Delete a tenant: its tokens stop working at once, the sweeper purges its rows, its slug stays taken."`
}

// tenantJSON is what tenant create prints.
type tenantJSON struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

type tenantListCmd struct {
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object per tenant"`
}

func (c *tenantListCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		ts, err := allPages(0, func(cursor string, n int) ([]db.Tenant, string, error) {
			page, err := svc.TenantsPage(ctx, "", cursor, n)
			return page.Items, page.NextCursor, err
		})
		if err != nil {
			return err
		}
		return table(e.stdout, c.JSON, ts, "SLUG\tNAME\tDISABLED\tCREATED", func(t db.Tenant) string {
			return fmt.Sprintf("%s\t%s\t%t\t%s", t.Slug, t.Name, t.Disabled, t.CreatedAt.Format(time.RFC3339))
		}, api.TenantObject)
	})
}

type tenantShowCmd struct {
	Slug       string `arg:"" help:"the tenant's slug"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object"`
}

func (c *tenantShowCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		t, err := svc.Tenant(ctx, c.Slug)
		if err != nil {
			return err
		}
		return showTenant(e, c.JSON, t)
	})
}

// showTenant prints a tenant with its settings, "default" for those it leaves to the
// deployment.
func showTenant(e env, asJSON bool, t db.Tenant) error {
	if asJSON {
		return output(e.stdout, true, api.TenantObject(t), "")
	}
	return fields(e.stdout, "slug", t.Slug, "name", t.Name, "disabled", strconv.FormatBool(t.Disabled),
		"access_ttl", overrideString(t.AccessTTL), "refresh_idle_ttl", overrideString(t.RefreshIdleTTL),
		"refresh_max_ttl", overrideString(t.RefreshMaxTTL), "refresh_reuse_grace", service.FormatDuration(t.RefreshReuseGrace),
		"event_retention", overrideString(t.EventRetention), "min_password_length", overrideInt(t.MinPasswordLength),
		"login_backoff_after", overrideInt(t.LoginBackoffAfter), "login_user_limit", overrideInt(t.LoginUserLimit),
		"login_ip_limit", overrideInt(t.LoginIPLimit), "mfa_policy", t.MFAPolicy,
		"mfa_failure_limit", overrideInt(t.MFAFailureLimit), "created_at", t.CreatedAt.Format(time.RFC3339),
		"updated_at", t.UpdatedAt.Format(time.RFC3339))
}

type tenantCreateCmd struct {
	Slug       string `arg:"" help:"the new tenant's slug: 1 to 63 of a-z, 0-9 and -, not starting with -"`
	Name       string `name:"name" help:"display name (default: the slug)"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object: slug, name"`
}

func (c *tenantCreateCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		t, err := svc.CreateTenant(ctx, cliActor(), c.Slug, c.Name)
		if err != nil {
			return err
		}
		return output(e.stdout, c.JSON, tenantJSON{Slug: t.Slug, Name: t.Name}, "created tenant "+t.Slug)
	})
}

type tenantUpdateCmd struct {
	Slug              string         `arg:"" help:"the tenant's slug"`
	Name              string         `name:"name" help:"display name"`
	Disabled          optBool        `name:"disabled" placeholder:"true|false" help:"disable the tenant (its tokens stop working at once) or enable it"`
	AccessTTL         optDuration    `name:"access-ttl" placeholder:"DURATION" help:"access token lifetime, or default for the deployment's"`
	RefreshIdleTTL    optDuration    `name:"refresh-idle-ttl" placeholder:"DURATION" help:"refresh token idle lifetime, or default for the deployment's"`
	RefreshMaxTTL     optDuration    `name:"refresh-max-ttl" placeholder:"DURATION" help:"absolute session lifetime, or default for the deployment's"`
	RefreshReuseGrace *time.Duration `name:"refresh-reuse-grace" placeholder:"DURATION" help:"window after a refresh in which a reuse by the same client revokes nothing (0s to 60s)"`
	EventRetention    optDuration    `name:"event-retention" placeholder:"DURATION" help:"audit event retention, or default for the deployment's"`
	MinPasswordLength optInt         `name:"min-password-length" placeholder:"N" help:"${min_password_help}, or default for the deployment's"`
	LoginBackoffAfter optInt         `name:"login-backoff-after" placeholder:"N" help:"failed logins of one username from one address before back-off, or default for the deployment's"`
	LoginUserLimit    optInt         `name:"login-user-limit" placeholder:"N" help:"failed logins of one username per window before addresses without a recent success are refused, or default for the deployment's"`
	LoginIPLimit      optInt         `name:"login-ip-limit" placeholder:"N" help:"failed logins from one address per window, across usernames, or default for the deployment's"`
	MFAPolicy         string         `name:"mfa-policy" enum:"off,optional,required," default:"" placeholder:"off|optional|required" help:"ask for a second factor: off, optional (users with one), required (everyone; needs a key ring)"`
	MFAFailureLimit   optInt         `name:"mfa-failure-limit" placeholder:"N" help:"wrong second-factor codes per user per 15 minutes before 429, or default (10)"`
	legacyLoginFlags  `embed:""`
	adminFlags        `embed:""`
	JSON              bool `name:"json" help:"print the tenant as one JSON object"`
}

func (c *tenantUpdateCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		if err := c.legacyLoginFlags.apply(ctx, e, svc, c.Slug); err != nil {
			return err
		}
		t, err := svc.UpdateTenant(ctx, cliActor(), c.Slug, func(t *db.Tenant) {
			if c.Name != "" {
				t.Name = c.Name
			}
			c.Disabled.apply(&t.Disabled)
			c.AccessTTL.apply(&t.AccessTTL)
			c.RefreshIdleTTL.apply(&t.RefreshIdleTTL)
			c.RefreshMaxTTL.apply(&t.RefreshMaxTTL)
			if c.RefreshReuseGrace != nil {
				t.RefreshReuseGrace = *c.RefreshReuseGrace
			}
			c.EventRetention.apply(&t.EventRetention)
			c.MinPasswordLength.apply(&t.MinPasswordLength)
			c.LoginBackoffAfter.apply(&t.LoginBackoffAfter)
			c.LoginUserLimit.apply(&t.LoginUserLimit)
			c.LoginIPLimit.apply(&t.LoginIPLimit)
			if c.MFAPolicy != "" {
				t.MFAPolicy = c.MFAPolicy
			}
			c.MFAFailureLimit.apply(&t.MFAFailureLimit)
		})
		if err != nil {
			return err
		}
		return output(e.stdout, c.JSON, api.TenantObject(t), "updated tenant "+t.Slug)
	})
}

type tenantDeleteCmd struct {
	Slug       string `arg:"" help:"the tenant's slug"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object: slug, deleted"`
}

func (c *tenantDeleteCmd) Run(ctx context.Context, e env) error {
	return c.act(ctx, e, c.JSON, map[string]any{"slug": c.Slug, "deleted": true},
		"deleted tenant "+c.Slug+": its tokens no longer work; the sweeper purges its rows",
		func(svc *service.Service) error { return svc.DeleteTenant(ctx, cliActor(), c.Slug) })
}
