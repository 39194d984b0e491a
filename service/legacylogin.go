package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/webhooks"
)

// LegacyHookTimeout bounds one call of a tenant's legacy-login hook.
const LegacyHookTimeout = 3 * time.Second

// ErrLegacyUnavailable means a tenant's old system did not give a verdict on a legacy
// login (no answer within LegacyHookTimeout, or an answer other than 200, 401, 403, 404):
// the login is neither accepted nor refused, and is not counted against the user.
var ErrLegacyUnavailable = errors.New("the legacy login hook is unavailable")

// legacyHooks calls the hooks and remembers, per tenant, how long their answers took
// lately: while a tenant's hook is on, its failed logins are padded to that, so that a
// username the old system is asked about does not answer slower than a wrong password.
type legacyHooks struct {
	once   sync.Once
	sender *webhooks.Sender
	mu     sync.Mutex
	took   map[uuid.UUID]time.Duration
}

// hookSender is the sender of legacy-login hooks: a webhook sender with the hook's
// timeout that, with AllowInsecureHooks, also sends over http and to private addresses.
func (s *Service) hookSender() *webhooks.Sender {
	s.legacy.once.Do(func() {
		insecure := s.cfg.AllowInsecureHooks
		s.legacy.sender = webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: insecure, AllowHTTP: insecure,
			Timeout: LegacyHookTimeout, UserAgent: "jeton"})
	})
	return s.legacy.sender
}

func (h *legacyHooks) observe(tenant uuid.UUID, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.took == nil {
		h.took = map[uuid.UUID]time.Duration{}
	}
	if old, ok := h.took[tenant]; ok {
		d = old + (d-old)/8
	}
	h.took[tenant] = d
}

func (h *legacyHooks) latency(tenant uuid.UUID) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.took[tenant]
}

// legacyAnswer is the old system's verdict: OK with what it knows of the user.
type legacyAnswer struct {
	OK         bool    `json:"ok"`
	ID         string  `json:"id"`
	Scope      *string `json:"scope"`
	ExternalID *string `json:"external_id"`
}

// askLegacy POSTs {"username","password"} to the hook, signed as Standard Webhooks signs.
// It returns the answer (OK false for 401, 403, 404) or ErrLegacyUnavailable.
func (s *Service) askLegacy(ctx context.Context, t db.Tenant, hook db.LegacyLogin, username, pw string) (legacyAnswer, error) {
	var a legacyAnswer
	key, err := webhooks.ParseSecret(hook.Secret)
	if err != nil {
		return a, fmt.Errorf("%w: %v", ErrLegacyUnavailable, err)
	}
	body, _ := json.Marshal(map[string]string{"username": username, "password": pw})
	m := webhooks.Message{ID: "msg_" + uuid.NewString(), At: s.Now(), Body: body, Keys: [][]byte{key}}
	res := s.hookSender().Post(ctx, hook.URL, m)
	if res.Status == 0 {
		// Never the request itself in the log: its body is the password.
		s.log.LogAttrs(ctx, slog.LevelWarn, "legacy login hook unreachable", slog.String("tenant", t.Slug),
			slog.String("err", res.Err.Error()))
		return a, ErrLegacyUnavailable
	}
	s.legacy.observe(t.ID, res.Latency)
	switch {
	case res.Err != nil:
		return a, ErrLegacyUnavailable
	case res.Status == http.StatusUnauthorized, res.Status == http.StatusForbidden, res.Status == http.StatusNotFound:
		return a, nil
	case res.Status != http.StatusOK:
		s.log.LogAttrs(ctx, slog.LevelWarn, "legacy login hook failed", slog.String("tenant", t.Slug),
			slog.Int("status", res.Status))
		return a, ErrLegacyUnavailable
	}
	if err := json.Unmarshal(res.Body, &a); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "legacy login hook answered 200 without its JSON",
			slog.String("tenant", t.Slug))
		return legacyAnswer{}, ErrLegacyUnavailable
	}
	return a, nil
}

// verifyOrMigrate verifies a login as verifyUser does, except for a username jeton does
// not have in a tenant whose legacy-login hook is on: the old system is asked, and on its
// yes the user is created with an argon2id hash of the password (user_migrated). While
// the hook is on, every failure is also padded to the hook's recent latency.
func (s *Service) verifyOrMigrate(ctx context.Context, ticket *password.Ticket, ca db.ClientAuth, actor db.Actor, found *db.User, name, pw string) (db.User, verdict, error) {
	start := time.Now()
	var u db.User
	var v verdict
	var err error
	// Asked on every login, known user or not, so that the work before the verification
	// does not tell them apart.
	hook, herr := s.store.LegacyLogin(ctx, ca.Tenant.ID)
	if herr != nil && !errors.Is(herr, db.ErrNotFound) {
		ticket.Release()
		return u, v, fmt.Errorf("password grant: %w", herr)
	}
	if herr == nil && found == nil {
		u, v, err = s.migrateLogin(ctx, ticket, ca, actor, hook, name, pw)
	} else {
		u, v, err = s.verifyUser(ctx, ticket, found, pw)
	}
	if err == nil && v.reason != "" {
		Wait(ctx, max(s.legacy.latency(ca.Tenant.ID), s.pad.target())-time.Since(start))
	}
	return u, v, err
}

// migrateLogin asks the old system about a username jeton does not have and, on its yes,
// creates the user. Two first logins at once create one user: the second finds it and
// verifies against it.
func (s *Service) migrateLogin(ctx context.Context, ticket *password.Ticket, ca db.ClientAuth, actor db.Actor, hook db.LegacyLogin, name, pw string) (db.User, verdict, error) {
	defer ticket.Release()
	ans, err := s.askLegacy(ctx, ca.Tenant, hook, name, pw)
	if err != nil {
		return db.User{}, verdict{}, err
	}
	if !ans.OK {
		return db.User{}, verdict{reason: "legacy_refused"}, nil
	}
	row := db.ImportRow{Line: 1, ID: uuid.New(), Username: name, HasHash: true, ExternalID: ans.ExternalID,
		CreatedAt: s.Now()}
	if id, err := uuid.Parse(ans.ID); err == nil && id != uuid.Nil {
		row.ID, row.KeepID = id, true
	}
	if ans.Scope != nil {
		if row.Scopes, err = ParseScope(*ans.Scope); err != nil || row.Scopes == nil {
			row.Scopes = []string{} // a scope jeton cannot read grants nothing
		}
	}
	var herr error
	if err := ticket.Run(ctx, func(h password.Hasher) { row.PasswordHash, herr = h.Hash(pw, s.cfg.Hash) }); err != nil {
		return db.User{}, verdict{}, err
	}
	if herr != nil {
		return db.User{}, verdict{}, fmt.Errorf("password grant: %w", herr)
	}
	b, err := s.store.ImportUsers(ctx, ca.Tenant.ID, []db.ImportRow{row}, db.ImportSkip, false, s.Now())
	if err == nil && len(b.TakenIDs) > 0 { // the old system's id is another user's here
		row.ID, row.KeepID = uuid.New(), false
		b, err = s.store.ImportUsers(ctx, ca.Tenant.ID, []db.ImportRow{row}, db.ImportSkip, false, s.Now())
	}
	if err != nil {
		return db.User{}, verdict{}, fmt.Errorf("password grant: %w", err)
	}
	u, err := s.store.UserByUsername(ctx, ca.Tenant.ID, name)
	if err != nil {
		return db.User{}, verdict{}, fmt.Errorf("password grant: %w", err)
	}
	if b.Imported == 0 {
		// Created meanwhile, by a concurrent first login or an import: its hash decides.
		return s.verifyUser(ctx, ticket, &u, pw)
	}
	ev := s.userEvent("user_migrated", actor, ca.Tenant, u)
	ev.ClientID = ca.Client.ID
	if err := s.store.RecordEvent(ctx, ev); err != nil {
		return db.User{}, verdict{}, err
	}
	if u.Disabled {
		return u, verdict{reason: "user_disabled"}, nil
	}
	return u, verdict{}, nil
}

// SetLegacyLogin turns the tenant's legacy-login hook on (url, and secret: "" makes a new
// one, returned to be shown once) or off (off true). It returns ErrNotFound for an
// unknown tenant and a ValidationError for a URL that is not https (unless
// AllowInsecureHooks) or names an address that is not public, or a secret that is not
// "whsec_..." of at least 16 bytes.
func (s *Service) SetLegacyLogin(ctx context.Context, actor db.Actor, slug, url, secret string, off bool) (string, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return "", err
	}
	ev := s.event("legacy_login_updated", actor, &t)
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "tenant", t.ID.String(), t.Slug
	if off {
		ev.Detail = map[string]any{"enabled": false}
		return "", s.store.SetLegacyLogin(ctx, t.ID, nil, ev)
	}
	// Names are checked when connecting: the old system's host may not resolve from
	// where the admin configures it.
	if err := s.hookSender().CheckAddress(url); err != nil {
		return "", invalid("legacy_login.url", err.Error())
	}
	shown := ""
	if secret == "" {
		if secret, _, err = webhooks.NewSecret(s.rand); err != nil {
			return "", err
		}
		shown = secret
	} else if _, err := webhooks.ParseSecret(secret); err != nil {
		return "", invalid("legacy_login.secret", `must be "whsec_" and the standard base64 of at least 16 bytes`)
	}
	ev.Detail = map[string]any{"enabled": true, "url": url}
	return shown, s.store.SetLegacyLogin(ctx, t.ID, &db.LegacyLogin{URL: url, Secret: secret}, ev)
}

// LegacyLoginURL returns the URL of the tenant's legacy-login hook, "" when it is off.
func (s *Service) LegacyLoginURL(ctx context.Context, t db.Tenant) (string, error) {
	l, err := s.store.LegacyLogin(ctx, t.ID)
	if errors.Is(err, db.ErrNotFound) {
		return "", nil
	}
	return l.URL, err
}

// SetLegacyLogin is Service.SetLegacyLogin for a global key: the hook receives the
// tenant's users' passwords.
func (a Admin) SetLegacyLogin(ctx context.Context, slug, url, secret string, off bool) (string, error) {
	if err := a.in(slug); err != nil {
		return "", err
	}
	if err := a.global("setting legacy_login"); err != nil {
		return "", err
	}
	return a.s.SetLegacyLogin(ctx, a.actor, slug, url, secret, off)
}

// LegacyLoginURL is Service.LegacyLoginURL.
func (a Admin) LegacyLoginURL(ctx context.Context, t db.Tenant) (string, error) {
	if err := a.in(t.Slug); err != nil {
		return "", err
	}
	return a.s.LegacyLoginURL(ctx, t)
}
