package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// adminKeyCmd is "jeton admin-key ACTION". Admin keys have no admin API of their own: a
// key cannot mint keys.
type adminKeyCmd struct {
	List   adminKeyListCmd   `cmd:"" help:"List every admin key, live and revoked, never their values."`
	Show   adminKeyShowCmd   `cmd:"" help:"Show an admin key, never its value."`
	Create adminKeyCreateCmd `cmd:"" help:"Create an admin key, printed once."`
	Revoke adminKeyRevokeCmd `cmd:"" help:"Revoke an admin key at once."`
}

// adminKeyJSON is an admin key as every action prints it; Key only when it was created.
type adminKeyJSON struct {
	ID        string     `json:"id"`
	Key       string     `json:"key,omitempty"`
	Tenant    *string    `json:"tenant"` // null for a global key
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func adminKeyOut(k db.AdminKey, key string) adminKeyJSON {
	out := adminKeyJSON{ID: k.ID.String(), Key: key, Name: k.Name, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
	if k.TenantID != nil {
		out.Tenant = &k.TenantSlug
	}
	return out
}

func scopeName(k db.AdminKey) string {
	if k.TenantID == nil {
		return "global"
	}
	return "tenant " + k.TenantSlug
}

type adminKeyListCmd struct {
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object per key"`
}

func (c *adminKeyListCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		keys, err := svc.AdminKeys(ctx)
		if err != nil {
			return err
		}
		return table(e.stdout, c.JSON, keys, "ID\tSCOPE\tNAME\tCREATED\tREVOKED", func(k db.AdminKey) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", k.ID, scopeName(k), k.Name, k.CreatedAt.Format(time.RFC3339), timeString(k.RevokedAt))
		}, func(k db.AdminKey) any { return adminKeyOut(k, "") })
	})
}

type adminKeyShowCmd struct {
	ID         uuid.UUID `arg:"" name:"id" help:"the key's id"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object"`
}

func (c *adminKeyShowCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		keys, err := svc.AdminKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.ID == c.ID {
				if c.JSON {
					return output(e.stdout, true, adminKeyOut(k, ""), "")
				}
				return fields(e.stdout, "id", k.ID.String(), "scope", scopeName(k), "name", k.Name,
					"created_at", k.CreatedAt.Format(time.RFC3339), "revoked_at", timeString(k.RevokedAt))
			}
		}
		return fmt.Errorf("admin key %s: %w", c.ID, service.ErrNotFound)
	})
}

type adminKeyCreateCmd struct {
	Tenant     string `name:"tenant" placeholder:"SLUG" help:"the key manages only this tenant (default: a global key)"`
	Name       string `name:"name" help:"a name to recognise the key by (default: admin key)"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object: id, key, tenant, name, created_at"`
}

func (c *adminKeyCreateCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		k, key, err := svc.CreateAdminKey(ctx, cliActor(), c.Tenant, c.Name)
		if err != nil {
			return err
		}
		text := fmt.Sprintf("admin key %s (%s, %s)\n%s\n(the key is shown only now)", k.ID, k.Name, scopeName(k), key)
		return output(e.stdout, c.JSON, adminKeyOut(k, key), text)
	})
}

type adminKeyRevokeCmd struct {
	ID         uuid.UUID `arg:"" name:"id" help:"the key's id (admin-key list shows them)"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print the revoked key as one JSON object"`
}

func (c *adminKeyRevokeCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		k, err := svc.RevokeAdminKey(ctx, cliActor(), c.ID)
		if err != nil {
			return err
		}
		return output(e.stdout, c.JSON, adminKeyOut(k, ""), fmt.Sprintf("admin key %s (%s, %s) revoked", k.ID, k.Name, scopeName(k)))
	})
}
