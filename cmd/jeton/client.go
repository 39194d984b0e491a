package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// clientCmd is "jeton client ACTION".
type clientCmd struct {
	List         clientListCmd         `cmd:"" help:"List a tenant's clients."`
	Show         clientShowCmd         `cmd:"" help:"Show a client, its settings and its secrets (described, never shown)."`
	Create       clientCreateCmd       `cmd:"" help:"Create a client; a confidential one's secret is printed once."`
	Update       clientUpdateCmd       `cmd:"" help:"Change a client; what no flag names stays as it is."`
	Delete       clientDeleteCmd       `cmd:"" help:"Delete a client with its secrets, sessions and tokens."`
	RotateSecret clientRotateSecretCmd `cmd:"" name:"rotate-secret" help:"Give a confidential client a new secret, printed once."`
}

// clientRef names the client an action acts on: by its argument, or by --client as older
// command lines do.
type clientRef struct {
	Tenant   string `name:"tenant" required:"" placeholder:"SLUG" help:"the client's tenant"`
	ClientID string `arg:"" optional:"" name:"client-id" help:"the client's client_id (or --client)"`
	Client   string `name:"client" placeholder:"ID" help:"the client's client_id, instead of the argument"`
}

// Validate refuses an action that names no client, or two.
func (r *clientRef) Validate() error {
	id, err := oneOf(r.ClientID, r.Client, "client", "--client")
	r.ClientID = id
	return err
}

// clientJSON is what client create and rotate-secret print.
type clientJSON struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	Tenant       string `json:"tenant"`
}

type clientListCmd struct {
	Tenant     string `name:"tenant" required:"" placeholder:"SLUG" help:"the tenant"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object per client"`
}

func (c *clientListCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		clients, err := svc.Clients(ctx, c.Tenant)
		if err != nil {
			return err
		}
		secrets, err := svc.TenantSecrets(ctx, c.Tenant)
		if err != nil {
			return err
		}
		return table(e.stdout, c.JSON, clients, "CLIENT_ID\tNAME\tPUBLIC\tDISABLED\tGRANTS\tSCOPES\tINTROSPECT", func(cl db.Client) string {
			return fmt.Sprintf("%s\t%s\t%t\t%t\t%s\t%s\t%t", cl.ID, cl.Name, cl.Public, cl.Disabled, orNone(cl.GrantTypes, ","),
				orNone(cl.Scopes, " "), cl.Introspect)
		}, func(cl db.Client) any { return api.ClientObject(cl, secrets[cl.ID]) })
	})
}

// orNone joins a list for a table, "-" when it is empty.
func orNone(items []string, sep string) string {
	if len(items) == 0 {
		return "-"
	}
	return strings.Join(items, sep)
}

type clientShowCmd struct {
	clientRef  `embed:""`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object"`
}

func (c *clientShowCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		cl, err := svc.Client(ctx, c.Tenant, c.ClientID)
		if err != nil {
			return err
		}
		secrets, err := svc.ClientSecrets(ctx, c.Tenant, c.ClientID)
		if err != nil {
			return err
		}
		return showClient(e, c.JSON, cl, secrets)
	})
}

// showClient prints a client with its settings and its secrets' lifetimes.
func showClient(e env, asJSON bool, cl db.Client, secrets []db.Secret) error {
	if asJSON {
		return output(e.stdout, true, api.ClientObject(cl, secrets), "")
	}
	defaults := "all allowed"
	if cl.DefaultScopes != nil {
		defaults = orNone(cl.DefaultScopes, " ")
	}
	kv := []string{"client_id", cl.ID, "name", cl.Name, "public", strconv.FormatBool(cl.Public),
		"disabled", strconv.FormatBool(cl.Disabled), "grant_types", orNone(cl.GrantTypes, ","),
		"scopes", orNone(cl.Scopes, " "), "default_scopes", defaults, "introspect", strconv.FormatBool(cl.Introspect),
		"allowed_origins", orNone(cl.AllowedOrigins, " "), "forwards_user_ip", strconv.FormatBool(cl.ForwardsUserIP),
		"first_party", strconv.FormatBool(cl.FirstParty),
		"access_ttl", overrideString(cl.AccessTTL), "refresh_idle_ttl", overrideString(cl.RefreshIdleTTL),
		"refresh_max_ttl", overrideString(cl.RefreshMaxTTL)}
	for _, s := range secrets {
		kv = append(kv, "secret", "created "+s.CreatedAt.Format(time.RFC3339)+", expires "+timeString(s.ExpiresAt))
	}
	kv = append(kv, "created_at", cl.CreatedAt.Format(time.RFC3339), "updated_at", cl.UpdatedAt.Format(time.RFC3339))
	return fields(e.stdout, kv...)
}

type clientCreateCmd struct {
	Tenant         string      `name:"tenant" required:"" placeholder:"SLUG" help:"the client's tenant"`
	Name           string      `name:"name" required:"" help:"client name"`
	Public         bool        `name:"public" help:"a public client: no secret"`
	Grant          list        `name:"grant" placeholder:"GRANT" help:"allowed grant type: password, refresh_token, client_credentials, authorization_code (repeatable, or comma-separated)"`
	Scope          *string     `name:"scope" placeholder:"SCOPES" help:"allowed scopes, space-separated (\"a b\")"`
	DefaultScope   *string     `name:"default-scope" placeholder:"SCOPES" help:"scopes granted when none are requested (default: all allowed)"`
	Introspect     bool        `name:"introspect" help:"may call /introspect (a resource server)"`
	ForwardsUserIP bool        `name:"forwards-user-ip" help:"a confidential client relaying its users' logins: may send each user's address in Jeton-Forwarded-For"`
	FirstParty     bool        `name:"first-party" help:"the tenant's own app: may use /authorize-challenge (with the authorization_code grant)"`
	CORSOrigin     list        `name:"cors-origin" placeholder:"ORIGIN" help:"browser origin (scheme://host[:port]) allowed to call the OAuth endpoints as this client (repeatable, or comma-separated)"`
	AccessTTL      optDuration `name:"access-ttl" placeholder:"DURATION" help:"access token lifetime, or default for the tenant's"`
	RefreshIdleTTL optDuration `name:"refresh-idle-ttl" placeholder:"DURATION" help:"refresh token idle lifetime, or default for the tenant's"`
	RefreshMaxTTL  optDuration `name:"refresh-max-ttl" placeholder:"DURATION" help:"absolute session lifetime, or default for the tenant's"`
	adminFlags     `embed:""`
	JSON           bool `name:"json" help:"print one JSON object: client_id, client_secret, tenant"`
}

func (c *clientCreateCmd) Run(ctx context.Context, e env) error {
	spec := service.ClientSpec{Name: c.Name, Public: c.Public, GrantTypes: c.Grant, Scopes: scopes(c.Scope),
		DefaultScopes: scopes(c.DefaultScope), Introspect: c.Introspect, AllowedOrigins: c.CORSOrigin,
		ForwardsUserIP: c.ForwardsUserIP, FirstParty: c.FirstParty, AccessTTL: c.AccessTTL.value, RefreshIdleTTL: c.RefreshIdleTTL.value,
		RefreshMaxTTL: c.RefreshMaxTTL.value}
	return c.withService(ctx, e, func(svc *service.Service) error {
		cl, secret, err := svc.CreateClient(ctx, cliActor(), c.Tenant, spec)
		if err != nil {
			return err
		}
		return printSecret(e, c.JSON, clientJSON{ClientID: cl.ID, ClientSecret: secret, Tenant: c.Tenant})
	})
}

// printSecret prints a client's id and, when it has one, the secret it just got.
func printSecret(e env, asJSON bool, c clientJSON) error {
	text := "client_id=" + c.ClientID
	if c.ClientSecret != "" {
		text += "\nclient_secret=" + c.ClientSecret + "\n(the secret is shown only now)"
	}
	return output(e.stdout, asJSON, c, text)
}

type clientUpdateCmd struct {
	clientRef      `embed:""`
	Name           string      `name:"name" help:"client name"`
	Disabled       optBool     `name:"disabled" placeholder:"true|false" help:"disable the client (its tokens stop working at once) or enable it"`
	Grant          list        `name:"grant" placeholder:"GRANT" help:"allowed grant type (repeatable, or comma-separated; replaces the list)"`
	NoGrants       bool        `name:"no-grants" help:"allow no grant at all (a pure resource server)"`
	Scope          *string     `name:"scope" placeholder:"SCOPES" help:"allowed scopes, space-separated (replaces the list)"`
	DefaultScope   *string     `name:"default-scope" placeholder:"SCOPES" help:"scopes granted when none are requested (replaces the list; \"\" means all allowed)"`
	Introspect     optBool     `name:"introspect" placeholder:"true|false" help:"may call /introspect"`
	ForwardsUserIP optBool     `name:"forwards-user-ip" placeholder:"true|false" help:"may send its users' addresses in Jeton-Forwarded-For"`
	FirstParty     optBool     `name:"first-party" placeholder:"true|false" help:"the tenant's own app: may use /authorize-challenge"`
	CORSOrigin     list        `name:"cors-origin" placeholder:"ORIGIN" help:"allowed browser origin (repeatable, or comma-separated; replaces the list)"`
	NoCORSOrigins  bool        `name:"no-cors-origins" help:"allow no browser origin"`
	AccessTTL      optDuration `name:"access-ttl" placeholder:"DURATION" help:"access token lifetime, or default for the tenant's"`
	RefreshIdleTTL optDuration `name:"refresh-idle-ttl" placeholder:"DURATION" help:"refresh token idle lifetime, or default for the tenant's"`
	RefreshMaxTTL  optDuration `name:"refresh-max-ttl" placeholder:"DURATION" help:"absolute session lifetime, or default for the tenant's"`
	adminFlags     `embed:""`
	JSON           bool `name:"json" help:"print the client as one JSON object"`
}

func (c *clientUpdateCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		cl, err := svc.UpdateClient(ctx, cliActor(), c.Tenant, c.ClientID, c.change)
		if err != nil {
			return err
		}
		if !c.JSON {
			return output(e.stdout, false, nil, "updated client "+cl.ID)
		}
		secrets, err := svc.ClientSecrets(ctx, c.Tenant, cl.ID)
		if err != nil {
			return err
		}
		return output(e.stdout, true, api.ClientObject(cl, secrets), "")
	})
}

// change applies the flags to the client.
func (c *clientUpdateCmd) change(cl *db.Client) {
	if c.Name != "" {
		cl.Name = c.Name
	}
	c.Disabled.apply(&cl.Disabled)
	if len(c.Grant) > 0 || c.NoGrants {
		cl.GrantTypes = c.Grant
	}
	if c.Scope != nil {
		cl.Scopes = scopes(c.Scope)
	}
	if c.DefaultScope != nil {
		cl.DefaultScopes = scopes(c.DefaultScope)
		if len(cl.DefaultScopes) == 0 {
			cl.DefaultScopes = nil
		}
	}
	c.Introspect.apply(&cl.Introspect)
	c.ForwardsUserIP.apply(&cl.ForwardsUserIP)
	c.FirstParty.apply(&cl.FirstParty)
	if len(c.CORSOrigin) > 0 || c.NoCORSOrigins {
		cl.AllowedOrigins = c.CORSOrigin
	}
	c.AccessTTL.apply(&cl.AccessTTL)
	c.RefreshIdleTTL.apply(&cl.RefreshIdleTTL)
	c.RefreshMaxTTL.apply(&cl.RefreshMaxTTL)
}

type clientDeleteCmd struct {
	clientRef  `embed:""`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object: client_id, tenant, deleted"`
}

func (c *clientDeleteCmd) Run(ctx context.Context, e env) error {
	return c.act(ctx, e, c.JSON, map[string]any{"client_id": c.ClientID, "tenant": c.Tenant, "deleted": true},
		"deleted client "+c.ClientID+" with its secrets, sessions and tokens",
		func(svc *service.Service) error { return svc.DeleteClient(ctx, cliActor(), c.Tenant, c.ClientID) })
}

type clientRotateSecretCmd struct {
	clientRef        `embed:""`
	PreviousValidFor time.Duration `name:"previous-valid-for" default:"0s" help:"how long the previous secrets keep working (whole seconds, at most 168h; 0s stops them at once)"`
	adminFlags       `embed:""`
	JSON             bool `name:"json" help:"print one JSON object: client_id, client_secret, tenant"`
}

func (c *clientRotateSecretCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		secret, err := svc.RotateSecret(ctx, cliActor(), c.Tenant, c.ClientID, c.PreviousValidFor)
		if err != nil {
			return err
		}
		return printSecret(e, c.JSON, clientJSON{ClientID: c.ClientID, ClientSecret: secret, Tenant: c.Tenant})
	})
}
