package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

func tenantCmd(ctx context.Context, e env) error {
	return dispatch(ctx, e, "tenant", map[string]adminCmd{"create": tenantCreate, "update": tenantUpdate})
}

func clientCmd(ctx context.Context, e env) error {
	return dispatch(ctx, e, "client", map[string]adminCmd{"create": clientCreate, "update": clientUpdate})
}

func userCmd(ctx context.Context, e env) error {
	return dispatch(ctx, e, "user", map[string]adminCmd{"create": userCreate, "set-password": userSetPassword,
		"disable": userSetDisabled(true), "enable": userSetDisabled(false), "delete": userDelete})
}

// slugArg splits "SLUG [flags]" for commands that name the tenant first.
func slugArg(e *env, fs *flag.FlagSet) (string, error) {
	if len(e.args) == 0 || e.args[0] == "" || e.args[0][0] == '-' {
		fmt.Fprintf(e.stderr, "usage: %s SLUG [flags]\n", fs.Name())
		return "", errUsage
	}
	slug := e.args[0]
	e.args = e.args[1:]
	return slug, nil
}

type tenantJSON struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func tenantCreate(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	slug, err := slugArg(&e, fs)
	if err != nil {
		return err
	}
	name := fs.String("name", "", "display name (default: the slug)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	svc, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	t, err := svc.CreateTenant(ctx, cliActor(), slug, *name)
	if err != nil {
		return err
	}
	return output(e.stdout, *asJSON, tenantJSON{Slug: t.Slug, Name: t.Name}, "created tenant "+t.Slug)
}

func tenantUpdate(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	slug, err := slugArg(&e, fs)
	if err != nil {
		return err
	}
	var access, idle, max optDuration
	fs.Var(&access, "access-ttl", `access token lifetime, or "default"`)
	fs.Var(&idle, "refresh-idle-ttl", `refresh token idle lifetime, or "default"`)
	fs.Var(&max, "refresh-max-ttl", `absolute session lifetime, or "default"`)
	grace := fs.Duration("refresh-reuse-grace", -1, "window after a refresh in which a reuse by the same client revokes nothing (0s to 60s)")
	var minPw, backoff, userLimit, ipLimit optInt
	fs.Var(&minPw, "min-password-length", `minimum password length in characters (8 to 64), or "default"`)
	fs.Var(&backoff, "login-backoff-after", `failed logins of one username from one address before back-off, or "default"`)
	fs.Var(&userLimit, "login-user-limit", `failed logins of one username per window before unknown addresses are refused, or "default"`)
	fs.Var(&ipLimit, "login-ip-limit", `failed logins from one address per window, or "default"`)
	name := fs.String("name", "", "display name")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	svc, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	t, err := svc.UpdateTenant(ctx, cliActor(), slug, func(t *db.Tenant) {
		access.apply(&t.AccessTTL)
		idle.apply(&t.RefreshIdleTTL)
		max.apply(&t.RefreshMaxTTL)
		if *grace >= 0 {
			t.RefreshReuseGrace = *grace
		}
		minPw.apply(&t.MinPasswordLength)
		backoff.apply(&t.LoginBackoffAfter)
		userLimit.apply(&t.LoginUserLimit)
		ipLimit.apply(&t.LoginIPLimit)
		if *name != "" {
			t.Name = *name
		}
	})
	if err != nil {
		return err
	}
	return output(e.stdout, *asJSON, tenantJSON{Slug: t.Slug, Name: t.Name}, "updated tenant "+t.Slug)
}

type clientJSON struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	Tenant       string `json:"tenant"`
}

func clientCreate(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	tenant := fs.String("tenant", "", "tenant slug (required)")
	name := fs.String("name", "", "client name (required)")
	public := fs.Bool("public", false, "a public client: no secret")
	var grants list
	fs.Var(&grants, "grant", "allowed grant type (repeatable): password, refresh_token, client_credentials")
	var scopes, defaults optScopes
	fs.Var(&scopes, "scope", `allowed scopes, space-separated ("a b")`)
	fs.Var(&defaults, "default-scope", "scopes granted when none are requested (default: all allowed)")
	introspect := fs.Bool("introspect", false, "may call /introspect (a resource server)")
	forwards := fs.Bool("forwards-user-ip", false, "a confidential client relaying its users' logins: may send each user's address in Jeton-Forwarded-For")
	var origins list
	fs.Var(&origins, "cors-origin", "browser origin (scheme://host[:port]) allowed to call the OAuth endpoints as this client (repeatable)")
	var access, idle, max optDuration
	fs.Var(&access, "access-ttl", "access token lifetime override")
	fs.Var(&idle, "refresh-idle-ttl", "refresh token idle lifetime override")
	fs.Var(&max, "refresh-max-ttl", "absolute session lifetime override")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *tenant == "" || *name == "" {
		fmt.Fprintln(e.stderr, "--tenant and --name are required")
		return errUsage
	}
	spec := service.ClientSpec{Name: *name, Public: *public, GrantTypes: grants, Scopes: scopes.scopes,
		Introspect: *introspect, AllowedOrigins: origins, ForwardsUserIP: *forwards, AccessTTL: access.value, RefreshIdleTTL: idle.value, RefreshMaxTTL: max.value}
	if defaults.set {
		spec.DefaultScopes = defaults.scopes
	}
	svc, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	c, secret, err := svc.CreateClient(ctx, cliActor(), *tenant, spec)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("client_id=%s", c.ID)
	if secret != "" {
		text += fmt.Sprintf("\nclient_secret=%s\n(the secret is shown only now)", secret)
	}
	return output(e.stdout, *asJSON, clientJSON{ClientID: c.ID, ClientSecret: secret, Tenant: *tenant}, text)
}

func clientUpdate(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	tenant := fs.String("tenant", "", "tenant slug (required)")
	id := fs.String("client", "", "client_id (required)")
	name := fs.String("name", "", "client name")
	var grants list
	fs.Var(&grants, "grant", "allowed grant type (repeatable; replaces the list)")
	noGrants := fs.Bool("no-grants", false, "allow no grant at all")
	var scopes, defaults optScopes
	fs.Var(&scopes, "scope", "allowed scopes (replaces the list)")
	fs.Var(&defaults, "default-scope", `default scopes (replaces the list; "" means all allowed)`)
	var introspect optBool
	fs.Var(&introspect, "introspect", "may call /introspect (true or false)")
	var forwards optBool
	fs.Var(&forwards, "forwards-user-ip", "may send its users' addresses in Jeton-Forwarded-For (true or false)")
	var origins list
	fs.Var(&origins, "cors-origin", "allowed browser origin (repeatable; replaces the list)")
	noOrigins := fs.Bool("no-cors-origins", false, "allow no browser origin")
	var access, idle, max optDuration
	fs.Var(&access, "access-ttl", `access token lifetime override, or "default"`)
	fs.Var(&idle, "refresh-idle-ttl", `refresh idle lifetime override, or "default"`)
	fs.Var(&max, "refresh-max-ttl", `session lifetime override, or "default"`)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *tenant == "" || *id == "" {
		fmt.Fprintln(e.stderr, "--tenant and --client are required")
		return errUsage
	}
	svc, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	c, err := svc.UpdateClient(ctx, cliActor(), *tenant, *id, func(c *db.Client) {
		if *name != "" {
			c.Name = *name
		}
		if len(grants) > 0 || *noGrants {
			c.GrantTypes = grants
		}
		if scopes.set {
			c.Scopes = scopes.scopes
		}
		if defaults.set {
			c.DefaultScopes = defaults.scopes
			if len(defaults.scopes) == 0 {
				c.DefaultScopes = nil
			}
		}
		if forwards.set {
			c.ForwardsUserIP = forwards.value
		}
		if introspect.set {
			c.Introspect = introspect.value
		}
		if len(origins) > 0 || *noOrigins {
			c.AllowedOrigins = origins
		}
		access.apply(&c.AccessTTL)
		idle.apply(&c.RefreshIdleTTL)
		max.apply(&c.RefreshMaxTTL)
	})
	if err != nil {
		return err
	}
	return output(e.stdout, *asJSON, clientJSON{ClientID: c.ID, Tenant: *tenant}, "updated client "+c.ID)
}

// optBool is a boolean flag that may be left alone.
type optBool struct{ set, value bool }

func (b *optBool) String() string { return "" }

func (b *optBool) Set(v string) error {
	switch v {
	case "true":
		b.set, b.value = true, true
	case "false":
		b.set, b.value = true, false
	default:
		return fmt.Errorf("want true or false, got %q", v)
	}
	return nil
}

type userJSON struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Tenant   string `json:"tenant"`
}

// userArgs names the user a user command acts on, by username or id, and carries the
// password for the commands that take one.
type userArgs struct{ tenant, username, password string }

// runUser is the part every user command shares. It registers --tenant and --username
// (and --password-stdin when passwordUsage, the line printed when that flag is missing, is
// not empty) beside the command's own flags on fs, parses and checks them, reads the
// password, opens the service and calls run. Checks come first, so a usage mistake neither
// waits on stdin nor connects to the database.
func runUser(e env, fs *flag.FlagSet, open func() (*service.Service, func(), error), passwordUsage string,
	run func(svc *service.Service, u userArgs) error) error {
	tenant := fs.String("tenant", "", "tenant slug (required)")
	username := fs.String("username", "", "username or user id (required)")
	var stdin *bool
	if passwordUsage != "" {
		stdin = fs.Bool("password-stdin", false, "read the password from standard input (required)")
	}
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *tenant == "" || *username == "" {
		fmt.Fprintln(e.stderr, "--tenant and --username are required")
		return errUsage
	}
	u := userArgs{tenant: *tenant, username: *username}
	if stdin != nil {
		if !*stdin {
			fmt.Fprintln(e.stderr, passwordUsage)
			return errUsage
		}
		var err error
		if u.password, err = readPassword(e.stdin); err != nil {
			return err
		}
	}
	svc, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	return run(svc, u)
}

func userCreate(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	var scopes optScopes
	fs.Var(&scopes, "scope", "scopes the user may have (default: no restriction beyond the client's)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	return runUser(e, fs, open, "--password-stdin is required: passwords are never command-line arguments",
		func(svc *service.Service, a userArgs) error {
			var userScopes []string
			if scopes.set {
				userScopes = scopes.scopes
			}
			u, err := svc.CreateUser(ctx, cliActor(), a.tenant, a.username, a.password, userScopes)
			if err != nil {
				return err
			}
			return output(e.stdout, *asJSON, userJSON{ID: u.ID.String(), Username: u.Username, Tenant: a.tenant},
				fmt.Sprintf("created user %s (%s)", u.Username, u.ID))
		})
}

func userSetPassword(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	return runUser(e, fs, open, "--password-stdin is required", func(svc *service.Service, a userArgs) error {
		if err := svc.SetPassword(ctx, cliActor(), a.tenant, a.username, a.password); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "password set; every token of the user is revoked")
		return nil
	})
}

func userSetDisabled(disabled bool) adminCmd {
	return func(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
		return runUser(e, fs, open, "", func(svc *service.Service, a userArgs) error {
			u, err := svc.UpdateUser(ctx, cliActor(), a.tenant, a.username, func(u *db.User) { u.Disabled = disabled })
			if err != nil {
				return err
			}
			state := "enabled"
			if u.Disabled {
				state = "disabled; every token of the user is revoked"
			}
			fmt.Fprintf(e.stdout, "user %s %s\n", u.Username, state)
			return nil
		})
	}
}

func userDelete(ctx context.Context, e env, fs *flag.FlagSet, open func() (*service.Service, func(), error)) error {
	return runUser(e, fs, open, "", func(svc *service.Service, a userArgs) error {
		if err := svc.DeleteUser(ctx, cliActor(), a.tenant, a.username); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "user deleted with its sessions and tokens")
		return nil
	})
}
