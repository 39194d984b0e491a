package service

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
)

// exportPage is how many users an export reads at a time.
const exportPage = 1000

// ExportOptions are an export's query parameters.
type ExportOptions struct {
	// IncludeSecrets adds second-factor secrets (none exist yet in this jeton).
	IncludeSecrets bool
	// PageTimeout, when positive, bounds the database work of each page.
	PageTimeout time.Duration
}

// ExportUsers writes a users_exported event, then calls emit with every user of the
// tenant, in username order, as an import line: the password hash as stored (argon2id for
// users who have logged in or set a password in jeton, the imported form otherwise; an
// object for a structured one). It returns ErrNotFound for an unknown tenant, emit's
// error, and the database's.
func (s *Service) ExportUsers(ctx context.Context, actor db.Actor, slug string, opt ExportOptions, emit func(ImportLine) error) error {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return err
	}
	ev := s.event("users_exported", actor, &t)
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "tenant", t.ID.String(), t.Slug
	ev.Detail = map[string]any{"include_secrets": opt.IncludeSecrets}
	if err := s.store.RecordEvent(ctx, ev); err != nil {
		return err
	}
	after := ""
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if opt.PageTimeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, opt.PageTimeout)
		}
		users, err := s.store.ExportUsers(pctx, t.ID, after, exportPage)
		cancel()
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := emit(exportLine(u)); err != nil {
				return err
			}
		}
		if len(users) < exportPage {
			return nil
		}
		after = users[len(users)-1].Username
	}
}

func exportLine(u db.ExportUser) ImportLine {
	created := u.CreatedAt
	l := ImportLine{Username: u.Username, ID: u.ID.String(), Disabled: u.Disabled, CreatedAt: &created,
		ExternalID: u.ExternalID}
	switch {
	case u.PasswordHash == "":
	case strings.HasPrefix(u.PasswordHash, "{\""):
		l.PasswordHash = json.RawMessage(u.PasswordHash)
	default:
		l.PasswordHash, _ = json.Marshal(u.PasswordHash)
	}
	if u.Scopes != nil {
		sc := strings.Join(u.Scopes, " ")
		l.Scope = &sc
	}
	return l
}

// ExportUsers is Service.ExportUsers for a global key: an export carries every password
// hash of the tenant.
func (a Admin) ExportUsers(ctx context.Context, slug string, opt ExportOptions, emit func(ImportLine) error) error {
	if err := a.in(slug); err != nil {
		return err
	}
	if err := a.global("exporting users"); err != nil {
		return err
	}
	return a.s.ExportUsers(ctx, a.actor, slug, opt, emit)
}
