package service

import (
	"context"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
	"golang.org/x/text/secure/precis"
)

// CreateUser creates a user of the tenant with a password (NFKC, argon2id) and optional
// scopes (nil: no restriction beyond the client's). It returns ErrNotFound for an unknown
// tenant, a ValidationError for a username PRECIS rejects or a password the policy
// refuses, and ErrConflict for a taken username.
func (s *Service) CreateUser(ctx context.Context, actor db.Actor, slug, username, pw string, scopes []string) (db.User, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return db.User{}, err
	}
	name, err := NormalizeUsername(username)
	if err != nil {
		return db.User{}, err
	}
	if err := validScopes("scopes", scopes); err != nil {
		return db.User{}, err
	}
	hash, err := s.hashPassword(ctx, t, name, pw)
	if err != nil {
		return db.User{}, err
	}
	return s.store.CreateUser(ctx, db.User{TenantID: t.ID, Username: name, PasswordHash: hash, Scopes: scopes},
		s.event("user_created", actor, &t))
}

// hashPassword applies the tenant's password policy to the password of the user named
// username, then hashes it on the hashing pool (waiting for a worker as long as ctx lets
// it: its callers are authenticated admins).
func (s *Service) hashPassword(ctx context.Context, t db.Tenant, username, pw string) (string, error) {
	if err := s.validPassword(t, username, pw); err != nil {
		return "", err
	}
	if err := s.notForbidden(ctx, t, pw); err != nil {
		return "", err
	}
	var hash string
	var herr error
	if err := s.hasher.Do(ctx, func(h password.Hasher) { hash, herr = h.Hash(pw, s.cfg.Hash) }); err != nil {
		return "", err
	}
	return hash, herr
}

// User finds a user of the tenant by id or, when ref is not a UUID, by username.
// It returns ErrNotFound.
func (s *Service) User(ctx context.Context, slug, ref string) (db.User, error) {
	_, u, err := s.tenantUser(ctx, slug, ref)
	return u, err
}

// tenantUser finds the tenant by slug and its user by ref (as User does): the start of
// every admin operation on one user. It returns ErrNotFound for either.
func (s *Service) tenantUser(ctx context.Context, slug, ref string) (db.Tenant, db.User, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return t, db.User{}, err
	}
	u, err := s.userIn(ctx, t, ref)
	return t, u, err
}

func (s *Service) userIn(ctx context.Context, t db.Tenant, ref string) (db.User, error) {
	if id, err := uuid.Parse(ref); err == nil {
		return s.store.UserByID(ctx, t.ID, id)
	}
	name, err := NormalizeUsername(ref)
	if err != nil {
		return db.User{}, db.ErrNotFound
	}
	return s.store.UserByUsername(ctx, t.ID, name)
}

// UpdateUser applies change (disabled flag, scopes) to the user and stores it. Disabling
// bumps the user's epoch: every token live at that moment stays dead after re-enabling.
// It returns ErrNotFound or a ValidationError.
func (s *Service) UpdateUser(ctx context.Context, actor db.Actor, slug, ref string, change func(*db.User)) (db.User, error) {
	t, found, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return found, err
	}
	return s.store.UpdateUser(ctx, t.ID, found.ID, func(before db.User) (db.User, db.Event, error) {
		u := before
		change(&u)
		if err := validScopes("scopes", u.Scopes); err != nil {
			return u, db.Event{}, err
		}
		ev := s.event(changeKind("user", before.Disabled, u.Disabled), actor, &t)
		ev.Detail = map[string]any{"changes": diff(before, u)}
		return u, ev, nil
	})
}

// SetPassword replaces the user's password and revokes every token of the user. It returns
// ErrNotFound or a ValidationError for a password the policy (or the tenant's history)
// refuses.
func (s *Service) SetPassword(ctx context.Context, actor db.Actor, slug, ref, pw string) error {
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, t, u, pw, s.event("user_password_set", actor, &t))
}

// DeleteUser deletes the user with its sessions and tokens; its events stay. It returns
// ErrNotFound.
func (s *Service) DeleteUser(ctx context.Context, actor db.Actor, slug, ref string) error {
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return err
	}
	return s.store.DeleteUser(ctx, t.ID, u.ID, s.event("user_deleted", actor, &t))
}

// UserPage is one page of users in username order. NextCursor is "" on the last page.
type UserPage struct {
	Items      []db.User
	NextCursor string
}

// Users lists the tenant's users whose username starts with prefix (compared after the
// same normalisation as usernames), limit at a time (0: DefaultPageSize), from the page
// cursor names ("" for the first). It returns ErrNotFound for an unknown tenant and a
// ValidationError for a bad prefix, limit or cursor.
func (s *Service) Users(ctx context.Context, slug, prefix, cursor string, limit int) (UserPage, error) {
	if err := validFilter("prefix", prefix); err != nil {
		return UserPage{}, err
	}
	if n, err := precis.UsernameCaseMapped.String(prefix); err == nil {
		prefix = n
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return UserPage{}, err
	}
	var after string
	if cursor != "" {
		if after, err = decodeCursor("u", cursor); err != nil {
			return UserPage{}, err
		}
	}
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return UserPage{}, err
	}
	users, err := s.store.ListUsers(ctx, t.ID, prefix, after, limit+1)
	if err != nil {
		return UserPage{}, err
	}
	var page UserPage
	page.Items, page.NextCursor = pageOf(users, limit, "u", func(u db.User) string { return u.Username })
	return page, nil
}
