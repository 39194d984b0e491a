package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jeton-auth/jeton/service"
)

type userPasswordResetCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print one JSON object: reset_token, expires_at"`
}

func (c *userPasswordResetCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		u, err := svc.User(ctx, c.Tenant, c.User)
		if err != nil {
			return err
		}
		r, err := svc.PasswordReset(ctx, cliActor(), c.Tenant, &u.ID, "")
		if err != nil {
			return err
		}
		return output(e.stdout, c.JSON, map[string]any{"reset_token": r.Token, "expires_at": r.ExpiresAt},
			fmt.Sprintf("%s\n(expires %s; redeem at POST /account/v1/password-reset)", r.Token, r.ExpiresAt.Format(time.RFC3339)))
	})
}

type userRequirePasswordChangeCmd struct {
	userAction `embed:""`
	Reason     string `name:"reason" default:"admin" enum:"admin,breached,expired" help:"why: admin, breached or expired"`
	Clear      bool   `name:"clear" help:"lift the forced change instead"`
	JSON       bool   `name:"json" help:"print the user as JSON"`
}

func (c *userRequirePasswordChangeCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		reason := c.Reason
		if c.Clear {
			reason = ""
		}
		u, err := svc.RequirePasswordChange(ctx, cliActor(), c.Tenant, c.User, reason)
		if err != nil {
			return err
		}
		msg := "password change required (" + reason + ")"
		if reason == "" {
			msg = "password change no longer required"
		}
		return printUser(ctx, e, svc, c.JSON, u, msg)
	})
}

type userThrottlesCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print one JSON object"`
}

func (c *userThrottlesCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		st, err := svc.Throttles(ctx, c.Tenant, c.User)
		if err != nil {
			return err
		}
		text := fmt.Sprintf("back-off after %d failures per address; username limit %d", st.BackoffAfter, st.UserLimit)
		for _, r := range st.Counters {
			text += fmt.Sprintf("\n%s\t%q\tfailures %d\trefused %d\tblocked until %s\texpires %s", r.Kind, r.IP, r.Failures,
				r.Refused, timeString(r.BlockedUntil), r.ExpiresAt.Format(time.RFC3339))
		}
		for _, k := range st.Known {
			text += fmt.Sprintf("\nknown\t%q\tlast success %s", k.IP, k.LastSuccessAt.Format(time.RFC3339))
		}
		return output(e.stdout, c.JSON, st, text)
	})
}

type userUnblockCmd struct {
	userAction `embed:""`
	JSON       bool `name:"json" help:"print one JSON object: user, tenant, cleared"`
}

func (c *userUnblockCmd) Run(ctx context.Context, e env) error {
	return c.act(ctx, e, c.JSON, c.result("cleared"), "login throttles and known addresses cleared",
		func(svc *service.Service) error { return svc.ClearThrottles(ctx, cliActor(), c.Tenant, c.User) })
}
