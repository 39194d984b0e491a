package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

func adminKeyCmd(ctx context.Context, e env) error {
	return dispatch(ctx, e, "admin-key", map[string]adminCmd{"create": adminKeyCreate, "list": adminKeyList,
		"revoke": adminKeyRevoke})
}

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

func adminKeyCreate(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	tenant := fs.String("tenant", "", "tenant slug: the key manages only this tenant (default: a global key)")
	name := fs.String("name", "", `a name to recognise the key by (default "admin key")`)
	asJSON := fs.Bool("json", false, "print one JSON object: id, key, tenant")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	svc, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	k, key, err := svc.CreateAdminKey(ctx, cliActor(), *tenant, *name)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("admin key %s (%s, %s)\n%s\n(the key is shown only now)", k.ID, k.Name, scopeName(k), key)
	return output(e.stdout, *asJSON, adminKeyOut(k, key), text)
}

func adminKeyList(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	asJSON := fs.Bool("json", false, "print one JSON object per key")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	svc, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	keys, err := svc.AdminKeys(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		for _, k := range keys {
			if err := output(e.stdout, true, adminKeyOut(k, ""), ""); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSCOPE\tNAME\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.ID, scopeName(k), k.Name, k.CreatedAt.Format(time.RFC3339), revoked)
	}
	return w.Flush()
}

func adminKeyRevoke(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	if len(e.args) == 0 || e.args[0] == "" || e.args[0][0] == '-' {
		fmt.Fprintln(e.stderr, "usage: jeton admin-key revoke ID")
		return errUsage
	}
	id, err := uuid.Parse(e.args[0])
	if err != nil {
		return fmt.Errorf("admin key id %q: %w", e.args[0], err)
	}
	if err := parse(fs, e.args[1:]); err != nil {
		return err
	}
	svc, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	k, err := svc.RevokeAdminKey(ctx, cliActor(), id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "admin key %s (%s, %s) revoked\n", k.ID, k.Name, scopeName(k))
	return nil
}
