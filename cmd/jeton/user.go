package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// userCmd is "jeton user ACTION".
type userCmd struct {
	List        userListCmd        `cmd:"" help:"List a tenant's users in username order."`
	Show        userShowCmd        `cmd:"" help:"Show a user."`
	Create      userCreateCmd      `cmd:"" help:"Create a user; the password comes from standard input."`
	Update      userUpdateCmd      `cmd:"" help:"Change a user's scopes or state; what no flag names stays as it is."`
	SetPassword userSetPasswordCmd `cmd:"" name:"set-password" help:"Set a user's password from standard input; every token of the user is revoked."`
	Disable     userDisableCmd     `cmd:"" help:"Disable a user; every token of the user is revoked."`
	Enable      userEnableCmd      `cmd:"" help:"Enable a disabled user."`
	Delete      userDeleteCmd      `cmd:"" help:"Delete a user with its sessions and tokens."`
	Sessions    userSessionsCmd    `cmd:"" help:"List a user's live sessions."`
	MFAReset    userMFAResetCmd    `cmd:"" name:"mfa-reset" help:"Remove every second factor of a user; under mfa_policy required she enrols again at her next login."`
	Import      userImportCmd      `cmd:"" help:"Import users with their password hashes from another system (NDJSON, docs/MIGRATION.md)."`
	Export      userExportCmd      `cmd:"" help:"Export a tenant's users with their password hashes, as NDJSON in the import format."`

	PasswordReset         userPasswordResetCmd         `cmd:"" name:"password-reset" help:"Issue a password reset token (jpr_...) for the user; older ones die."`
	RequirePasswordChange userRequirePasswordChangeCmd `cmd:"" name:"require-password-change" help:"Make the user change the password before the next tokens (or --clear)."`
	Throttles             userThrottlesCmd             `cmd:"" help:"Show the user's login throttles and known addresses."`
	Unblock               userUnblockCmd               `cmd:"" help:"Clear the user's login throttles and known addresses."`
}

// userRef names the user an action acts on, by username or user id: by its argument, or
// by --username as older command lines do.
type userRef struct {
	Tenant   string `name:"tenant" required:"" placeholder:"SLUG" help:"the user's tenant"`
	User     string `arg:"" optional:"" name:"user" help:"username or user id (or --username)"`
	Username string `name:"username" placeholder:"USER" help:"username or user id, instead of the argument"`
}

// Validate refuses an action that names no user, or two.
func (r *userRef) Validate() error {
	u, err := oneOf(r.User, r.Username, "user", "--username")
	r.User = u
	return err
}

// userAction is what most actions on one user take: the user, then the database flags.
type userAction struct {
	userRef    `embed:""`
	adminFlags `embed:""`
}

// result is what an action that returns nothing prints as JSON: the user, the tenant and
// what was done.
func (r userRef) result(done string) map[string]any {
	return map[string]any{"user": r.User, "tenant": r.Tenant, done: true}
}

// passwordStdin is the flag of the actions that take a password: never as an argument.
type passwordStdin struct {
	PasswordStdin bool `name:"password-stdin" help:"read the password from standard input, minus one trailing newline (required)"`
}

// check refuses an action without --password-stdin before it reads or connects anything.
func (p passwordStdin) check() error {
	if !p.PasswordStdin {
		return errors.New("--password-stdin is required: passwords are never command-line arguments")
	}
	return nil
}

// userJSON is what user create prints.
type userJSON struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Tenant   string `json:"tenant"`
}

// userScopes shows a user's scope restriction.
func userScopes(u db.User) string {
	if u.Scopes == nil {
		return "any the client allows"
	}
	return orNone(u.Scopes, " ")
}

type userListCmd struct {
	Tenant     string `name:"tenant" required:"" placeholder:"SLUG" help:"the tenant"`
	Prefix     string `name:"prefix" help:"only usernames that start with this"`
	Limit      int    `name:"limit" default:"0" help:"list at most this many users (0: all)"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print one JSON object per user"`
}

func (c *userListCmd) Run(ctx context.Context, e env) error {
	if c.Limit < 0 {
		return errors.New("--limit cannot be negative")
	}
	return c.withService(ctx, e, func(svc *service.Service) error {
		users, err := allPages(c.Limit, func(cursor string, n int) ([]db.User, string, error) {
			page, err := svc.Users(ctx, c.Tenant, c.Prefix, cursor, n)
			return page.Items, page.NextCursor, err
		})
		if err != nil {
			return err
		}
		factors := map[uuid.UUID]db.MFAState{}
		if c.JSON {
			if factors, err = svc.UsersMFA(ctx, users); err != nil {
				return err
			}
		}
		return table(e.stdout, c.JSON, users, "ID\tUSERNAME\tDISABLED\tSCOPES\tCREATED", func(u db.User) string {
			return fmt.Sprintf("%s\t%s\t%t\t%s\t%s", u.ID, u.Username, u.Disabled, userScopes(u), u.CreatedAt.Format(time.RFC3339))
		}, func(u db.User) any { return api.UserObject(u, factors[u.ID]) })
	})
}

type userShowCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print one JSON object"`
}

func (c *userShowCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		u, err := svc.User(ctx, c.Tenant, c.User)
		if err != nil {
			return err
		}
		if c.JSON {
			return printUser(ctx, e, svc, true, u, "")
		}
		return fields(e.stdout, "id", u.ID.String(), "username", u.Username, "disabled", strconv.FormatBool(u.Disabled),
			"scopes", userScopes(u), "created_at", u.CreatedAt.Format(time.RFC3339), "updated_at", u.UpdatedAt.Format(time.RFC3339))
	})
}

type userCreateCmd struct {
	Tenant        string `name:"tenant" required:"" placeholder:"SLUG" help:"the user's tenant"`
	NewUsername   string `arg:"" optional:"" name:"username" help:"the new user's username (or --username)"`
	Username      string `name:"username" placeholder:"USER" help:"the new user's username, instead of the argument"`
	passwordStdin `embed:""`
	Scope         *string `name:"scope" placeholder:"SCOPES" help:"scopes the user may have, space-separated (default: no restriction beyond the client's)"`
	adminFlags    `embed:""`
	JSON          bool `name:"json" help:"print one JSON object: id, username, tenant"`
}

// Validate refuses a user create without a username or --password-stdin.
func (c *userCreateCmd) Validate() error {
	u, err := oneOf(c.NewUsername, c.Username, "username", "--username")
	c.NewUsername = u
	return errors.Join(err, c.check())
}

func (c *userCreateCmd) Run(ctx context.Context, e env) error {
	pw, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	return c.withService(ctx, e, func(svc *service.Service) error {
		u, err := svc.CreateUser(ctx, cliActor(), c.Tenant, c.NewUsername, pw, scopes(c.Scope))
		if err != nil {
			return err
		}
		return output(e.stdout, c.JSON, userJSON{ID: u.ID.String(), Username: u.Username, Tenant: c.Tenant},
			fmt.Sprintf("created user %s (%s)", u.Username, u.ID))
	})
}

type userUpdateCmd struct {
	userRef            `embed:""`
	Scope              *string `name:"scope" placeholder:"SCOPES" help:"scopes the user may have, space-separated (replaces the list)"`
	NoScopeRestriction bool    `name:"no-scope-restriction" help:"drop the user's scope list: no restriction beyond the client's"`
	Disabled           optBool `name:"disabled" placeholder:"true|false" help:"disable the user (every token of the user is revoked) or enable it"`
	adminFlags         `embed:""`
	JSON               bool `name:"json" help:"print the user as one JSON object"`
}

// Validate refuses --scope with --no-scope-restriction.
func (c *userUpdateCmd) Validate() error {
	if c.Scope != nil && c.NoScopeRestriction {
		return errors.New("--scope and --no-scope-restriction contradict each other")
	}
	return c.userRef.Validate()
}

func (c *userUpdateCmd) Run(ctx context.Context, e env) error {
	updated := func(u db.User) string { return "updated user " + u.Username }
	// The flags keep their order in the help (scope flags before the database's), so
	// the command embeds userRef and adminFlags apart rather than as a userAction.
	return userAction{c.userRef, c.adminFlags}.update(ctx, e, c.JSON, updated, func(u *db.User) {
		switch {
		case c.Scope != nil:
			u.Scopes = scopes(c.Scope)
		case c.NoScopeRestriction:
			u.Scopes = nil
		}
		c.Disabled.apply(&u.Disabled)
	})
}

// update applies change to the user and prints the result: the user, or text.
func (a userAction) update(ctx context.Context, e env, asJSON bool, text func(db.User) string, change func(*db.User)) error {
	return a.withService(ctx, e, func(svc *service.Service) error {
		u, err := svc.UpdateUser(ctx, cliActor(), a.Tenant, a.User, change)
		if err != nil {
			return err
		}
		return printUser(ctx, e, svc, asJSON, u, text(u))
	})
}

// printUser prints u as the admin API shows it, with its factors, or text.
func printUser(ctx context.Context, e env, svc *service.Service, asJSON bool, u db.User, text string) error {
	if !asJSON {
		return output(e.stdout, false, nil, text)
	}
	factors, err := svc.UsersMFA(ctx, []db.User{u})
	if err != nil {
		return err
	}
	return output(e.stdout, true, api.UserObject(u, factors[u.ID]), "")
}

// userState says whether a user is enabled.
func userState(u db.User) string {
	if u.Disabled {
		return "user " + u.Username + " disabled; every token of the user is revoked"
	}
	return "user " + u.Username + " enabled"
}

type userDisableCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print the user as one JSON object"`
}

func (c *userDisableCmd) Run(ctx context.Context, e env) error {
	return c.update(ctx, e, c.JSON, userState, func(u *db.User) { u.Disabled = true })
}

type userEnableCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print the user as one JSON object"`
}

func (c *userEnableCmd) Run(ctx context.Context, e env) error {
	return c.update(ctx, e, c.JSON, userState, func(u *db.User) { u.Disabled = false })
}

type userSetPasswordCmd struct {
	userRef       `embed:""`
	passwordStdin `embed:""`
	adminFlags    `embed:""`
	JSON          bool `name:"json" help:"print one JSON object: user, tenant, password_set"`
}

// Validate refuses a set-password that names no user or lacks --password-stdin.
func (c *userSetPasswordCmd) Validate() error { return errors.Join(c.userRef.Validate(), c.check()) }

func (c *userSetPasswordCmd) Run(ctx context.Context, e env) error {
	pw, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	return c.act(ctx, e, c.JSON, c.result("password_set"), "password set; every token of the user is revoked",
		func(svc *service.Service) error { return svc.SetPassword(ctx, cliActor(), c.Tenant, c.User, pw) })
}

type userDeleteCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print one JSON object: user, tenant, deleted"`
}

func (c *userDeleteCmd) Run(ctx context.Context, e env) error {
	return c.act(ctx, e, c.JSON, c.result("deleted"), "user deleted with its sessions and tokens",
		func(svc *service.Service) error { return svc.DeleteUser(ctx, cliActor(), c.Tenant, c.User) })
}

type userSessionsCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print one JSON object per session"`
}

func (c *userSessionsCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		sessions, err := svc.UserSessions(ctx, c.Tenant, c.User)
		if err != nil {
			return err
		}
		return table(e.stdout, c.JSON, sessions, "ID\tCLIENT_ID\tSCOPE\tCREATED\tLAST_REFRESHED\tEXPIRES", func(s db.Session) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", s.ID, s.ClientID, cmp.Or(s.Scope, "-"), s.CreatedAt.Format(time.RFC3339),
				timeString(s.LastRefreshedAt), s.ExpiresAt.Format(time.RFC3339))
		}, api.SessionObject)
	})
}

type userMFAResetCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print one JSON object: user, tenant, mfa_reset"`
}

func (c *userMFAResetCmd) Run(ctx context.Context, e env) error {
	return c.act(ctx, e, c.JSON, c.result("mfa_reset"), "every second factor of the user is removed",
		func(svc *service.Service) error { return svc.ResetMFA(ctx, cliActor(), c.Tenant, c.User) })
}
