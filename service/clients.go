package service

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// MaxSecretOverlap bounds how long a rotated-out client secret keeps working.
const MaxSecretOverlap = 7 * 24 * time.Hour

// ClientSpec is what creating a client takes. DefaultScopes nil means all of Scopes.
// AllowedOrigins are the CORS origins whose browser pages may call the OAuth endpoints as
// this client (see ValidOrigin).
type ClientSpec struct {
	Name           string
	Public         bool
	GrantTypes     []string
	Scopes         []string
	DefaultScopes  []string
	Introspect     bool
	AllowedOrigins []string
	ForwardsUserIP bool // a confidential client relaying its users' logins (Jeton-Forwarded-For)
	FirstParty     bool // may use the authorization challenge endpoint
	PasswordReset  bool // a confidential client that may ask for its users' password reset tokens
	AccessTTL      *time.Duration
	RefreshIdleTTL *time.Duration
	RefreshMaxTTL  *time.Duration
}

// CreateClient creates a client of the tenant. A confidential client gets a 256-bit
// secret, returned here once and stored only as SHA-256. It returns ErrNotFound for an
// unknown tenant and a ValidationError for a bad spec.
func (s *Service) CreateClient(ctx context.Context, actor db.Actor, slug string, spec ClientSpec) (db.Client, string, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return db.Client{}, "", err
	}
	id, err := newClientID(s.rand)
	if err != nil {
		return db.Client{}, "", err
	}
	c := db.Client{TenantID: t.ID, ID: id, Name: spec.Name, Public: spec.Public,
		GrantTypes: nonNil(spec.GrantTypes), Scopes: nonNil(spec.Scopes), DefaultScopes: spec.DefaultScopes,
		Introspect: spec.Introspect, AllowedOrigins: nonNil(spec.AllowedOrigins), ForwardsUserIP: spec.ForwardsUserIP, FirstParty: spec.FirstParty, PasswordReset: spec.PasswordReset, AccessTTL: spec.AccessTTL, RefreshIdleTTL: spec.RefreshIdleTTL,
		RefreshMaxTTL: spec.RefreshMaxTTL}
	if err := s.validClient(c); err != nil {
		return db.Client{}, "", err
	}
	var secret string
	var hash []byte
	if !c.Public {
		if secret, err = tokens.New(tokens.ClientSecret, s.rand); err != nil {
			return db.Client{}, "", err
		}
		sum := sha256.Sum256([]byte(secret))
		hash = sum[:]
	}
	out, err := s.store.CreateClient(ctx, c, hash, s.event("client_created", actor, &t))
	return out, secret, err
}

// Client returns the tenant's client, or ErrNotFound.
func (s *Service) Client(ctx context.Context, slug, clientID string) (db.Client, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return db.Client{}, err
	}
	return s.store.ClientByID(ctx, t.ID, clientID)
}

// UpdateClient applies change to the client and stores the result if valid. Disabling
// bumps the client's epoch. It returns ErrNotFound or a ValidationError.
func (s *Service) UpdateClient(ctx context.Context, actor db.Actor, slug, clientID string, change func(*db.Client)) (db.Client, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return db.Client{}, err
	}
	return s.store.UpdateClient(ctx, t.ID, clientID, func(before db.Client) (db.Client, db.Event, error) {
		c := before
		change(&c)
		c.TenantID, c.ID, c.Public = before.TenantID, before.ID, before.Public // immutable
		c.GrantTypes, c.Scopes, c.AllowedOrigins = nonNil(c.GrantTypes), nonNil(c.Scopes), nonNil(c.AllowedOrigins)
		if err := s.validClient(c); err != nil {
			return c, db.Event{}, err
		}
		ev := s.event(changeKind("client", before.Disabled, c.Disabled), actor, &t)
		ev.Detail = map[string]any{"changes": diff(before, c)}
		return c, ev, nil
	})
}

// RotateSecret gives a confidential client a new secret, returned once. The previous
// secrets keep working for overlap (0 stops them at once; at most MaxSecretOverlap).
// It returns ErrNotFound, or a ValidationError for a public client or a bad overlap.
func (s *Service) RotateSecret(ctx context.Context, actor db.Actor, slug, clientID string, overlap time.Duration) (string, error) {
	if overlap < 0 || overlap > MaxSecretOverlap || overlap%time.Second != 0 {
		return "", invalid("previous_valid_for", "must be whole seconds from 0s to 168h")
	}
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return "", err
	}
	c, err := s.store.ClientByID(ctx, t.ID, clientID)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", invalid("client_id", "a public client has no secret")
	}
	secret, err := tokens.New(tokens.ClientSecret, s.rand)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(secret))
	ev := s.event("client_secret_rotated", actor, &t)
	ev.Detail = map[string]any{"previous_valid_for": overlap.String()}
	if err := s.store.RotateSecret(ctx, t.ID, c.ID, sum[:], ev.At.Add(overlap), ev); err != nil {
		return "", err
	}
	return secret, nil
}

func (s *Service) validClient(c db.Client) error {
	if err := validName(c.Name); err != nil {
		return err
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(GrantTypes, g) {
			return invalid("grant_types", fmt.Sprintf("unsupported grant type %q", g))
		}
	}
	if c.Public && slices.Contains(c.GrantTypes, GrantClientCredentials) {
		return invalid("grant_types", "a public client cannot use client_credentials")
	}
	if c.Public && c.Introspect {
		return invalid("introspect", "a public client cannot introspect")
	}
	if c.Public && c.ForwardsUserIP {
		return invalid("forwards_user_ip", "a public client cannot forward its users' addresses")
	}
	if c.Public && c.PasswordReset {
		return invalid("password_reset", "a public client cannot ask for password reset tokens")
	}
	if err := validScopes("scopes", c.Scopes); err != nil {
		return err
	}
	if err := validScopes("default_scopes", c.DefaultScopes); err != nil {
		return err
	}
	for _, d := range c.DefaultScopes {
		if !slices.Contains(c.Scopes, d) {
			return invalid("default_scopes", fmt.Sprintf("default scope %q is not an allowed scope", d))
		}
	}
	if err := validOrigins("allowed_origins", c.AllowedOrigins); err != nil {
		return err
	}
	if err := s.validLifetimes(c.AccessTTL, c.RefreshIdleTTL, c.RefreshMaxTTL); err != nil {
		return err
	}
	return nil
}

// newClientID returns "jc_" and 24 base36 characters (about 124 bits).
func newClientID(rand io.Reader) (string, error) {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 24)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("client id: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "jc_" + string(b), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Clients lists the tenant's clients, oldest first. It returns ErrNotFound for an unknown
// tenant.
func (s *Service) Clients(ctx context.Context, slug string) ([]db.Client, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return nil, err
	}
	return s.store.ListClients(ctx, t.ID)
}

// DeleteClient deletes the client with its secrets, sessions and tokens; its events stay.
// It returns ErrNotFound.
func (s *Service) DeleteClient(ctx context.Context, actor db.Actor, slug, clientID string) error {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return err
	}
	return s.store.DeleteClient(ctx, t.ID, clientID, s.event("client_deleted", actor, &t))
}

// ClientSecrets describes the client's secrets valid now (never their values), oldest
// first. It returns ErrNotFound for an unknown tenant or client.
func (s *Service) ClientSecrets(ctx context.Context, slug, clientID string) ([]db.Secret, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.ClientByID(ctx, t.ID, clientID); err != nil {
		return nil, err
	}
	return s.store.Secrets(ctx, t.ID, clientID, s.Now())
}

// TenantSecrets describes the secrets valid now of every client of the tenant, by
// client_id. It returns ErrNotFound for an unknown tenant.
func (s *Service) TenantSecrets(ctx context.Context, slug string) (map[string][]db.Secret, error) {
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return nil, err
	}
	secrets, err := s.store.TenantSecrets(ctx, t.ID, s.Now())
	if err != nil {
		return nil, err
	}
	out := map[string][]db.Secret{}
	for _, sec := range secrets {
		out[sec.ClientID] = append(out[sec.ClientID], sec)
	}
	return out, nil
}
