package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Client is an app or a resource server of one tenant. The TTL fields are overrides: nil
// means the tenant's setting.
type Client struct {
	TenantID       uuid.UUID
	ID             string // the public client_id, "jc_..."
	Name           string
	Public         bool
	Disabled       bool
	GrantTypes     []string
	Scopes         []string
	DefaultScopes  []string // nil: all of Scopes
	Introspect     bool
	AllowedOrigins []string // CORS origins, exact "scheme://host[:port]"
	// ForwardsUserIP lets a confidential client name its end user's address in the
	// Jeton-Forwarded-For header of a password grant.
	ForwardsUserIP bool
	// FirstParty lets the client use the authorization challenge endpoint (the operator
	// vouches that the app is the tenant's own).
	FirstParty bool
	// PasswordReset lets a confidential client ask for its users' password reset tokens
	// (written by setPasswordReset).
	PasswordReset  bool
	AccessTTL      *time.Duration
	RefreshIdleTTL *time.Duration
	RefreshMaxTTL  *time.Duration
	Epoch          int64
	// Version moves with every update and secret rotation: a copy whose Version is still
	// the database's is current.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Secret describes one stored client secret, never its value.
type Secret struct {
	ClientID  string     `json:"-"`
	Hash      []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

const clientColumns = `c.tenant_id, c.id, c.name, c.public, c.disabled, c.grant_types, c.scopes,
	c.default_scopes, c.introspect, c.allowed_origins, c.forwards_user_ip, c.first_party, c.access_ttl_seconds, c.refresh_idle_ttl_seconds,
	c.refresh_max_ttl_seconds, c.epoch, c.version, c.created_at, c.updated_at, c.password_reset`

func clientDest(c *Client) (dest []any, finish func()) {
	var access, idle, max *int64
	dest = []any{&c.TenantID, &c.ID, &c.Name, &c.Public, &c.Disabled, &c.GrantTypes, &c.Scopes,
		&c.DefaultScopes, &c.Introspect, &c.AllowedOrigins, &c.ForwardsUserIP, &c.FirstParty, &access, &idle, &max, &c.Epoch, &c.Version, &c.CreatedAt, &c.UpdatedAt,
		&c.PasswordReset}
	return dest, func() {
		c.AccessTTL, c.RefreshIdleTTL, c.RefreshMaxTTL = seconds(access), seconds(idle), seconds(max)
	}
}

func scanClient(row pgx.Row) (Client, error) {
	var c Client
	dest, finish := clientDest(&c)
	if err := row.Scan(dest...); err != nil {
		return c, err
	}
	finish()
	return c, nil
}

const createClient = `INSERT INTO clients AS c (tenant_id, id, name, public, grant_types, scopes,
	default_scopes, introspect, access_ttl_seconds, refresh_idle_ttl_seconds, refresh_max_ttl_seconds,
	created_at, updated_at, allowed_origins, forwards_user_ip, first_party)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, COALESCE($13::text[], '{}'), $14, $15) RETURNING ` + clientColumns

const insertSecret = `INSERT INTO client_secrets (tenant_id, client_id, hash, created_at) VALUES ($1, $2, $3, $4)`

// CreateClient inserts c, its secret's hash (nil for a public client) and ev in one
// transaction. It returns ErrConflict if the client_id exists.
func (s *Store) CreateClient(ctx context.Context, c Client, secretHash []byte, ev Event) (Client, error) {
	var out Client
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanClient(tx.QueryRow(ctx, createClient, c.TenantID, c.ID, c.Name, c.Public,
			c.GrantTypes, c.Scopes, c.DefaultScopes, c.Introspect, toSeconds(c.AccessTTL),
			toSeconds(c.RefreshIdleTTL), toSeconds(c.RefreshMaxTTL), ev.At, c.AllowedOrigins, c.ForwardsUserIP, c.FirstParty))
		if err != nil {
			return translate("create client", err)
		}
		if err := setPasswordReset(ctx, tx, c, &out); err != nil {
			return err
		}
		if secretHash != nil {
			if _, err := tx.Exec(ctx, insertSecret, c.TenantID, c.ID, secretHash, ev.At); err != nil {
				return translate("create client secret", err)
			}
		}
		ev.SubjectType, ev.SubjectID, ev.SubjectName = "client", out.ID, out.Name
		ev.ClientID = out.ID
		return writeEvent(ctx, tx, ev)
	})
	return out, err
}

const clientByID = `SELECT ` + clientColumns + ` FROM clients c WHERE c.tenant_id = $1 AND c.id = $2`

// ClientByID returns the tenant's client, or ErrNotFound.
func (s *Store) ClientByID(ctx context.Context, tenant uuid.UUID, id string) (Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, clientByID, tenant, id))
	return c, translate("client", err)
}

const listClients = `SELECT ` + clientColumns + ` FROM clients c WHERE c.tenant_id = $1 ORDER BY c.created_at, c.id`

// ListClients returns the tenant's clients, oldest first.
func (s *Store) ListClients(ctx context.Context, tenant uuid.UUID) ([]Client, error) {
	rows, err := s.pool.Query(ctx, listClients, tenant)
	if err != nil {
		return nil, translate("list clients", err)
	}
	return collect(rows, scanClient, "list clients")
}

const updateClient = `UPDATE clients AS c SET name = $3, disabled = $4,
	epoch = c.epoch + CASE WHEN $4 AND NOT c.disabled THEN 1 ELSE 0 END, version = c.version + 1,
	grant_types = $5, scopes = $6, default_scopes = $7, introspect = $8, access_ttl_seconds = $9,
	refresh_idle_ttl_seconds = $10, refresh_max_ttl_seconds = $11, updated_at = $12, allowed_origins = COALESCE($13::text[], '{}'),
	forwards_user_ip = $14, first_party = $15
WHERE c.tenant_id = $1 AND c.id = $2 RETURNING ` + clientColumns

// lockClient reads the row an update starts from, locking it until commit, so a concurrent
// update cannot write back a stale copy.
const lockClient = `SELECT ` + clientColumns + ` FROM clients c WHERE c.tenant_id = $1 AND c.id = $2 FOR UPDATE`

// UpdateClient locks the client, lets edit turn the current row into the new one and its
// event, and writes both; disabling bumps its epoch in the same statement and appends a
// client revocation to the log. It returns ErrNotFound for an unknown client, or edit's
// error (writing nothing).
func (s *Store) UpdateClient(ctx context.Context, tenant uuid.UUID, id string, edit func(Client) (Client, Event, error)) (Client, error) {
	var out Client
	err := s.tx(ctx, func(tx pgx.Tx) error {
		cur, err := scanClient(tx.QueryRow(ctx, lockClient, tenant, id))
		if err != nil {
			return translate("update client", err)
		}
		c, ev, err := edit(cur)
		if err != nil {
			return err
		}
		c.TenantID, c.ID = tenant, id
		out, err = s.writeClient(ctx, tx, ev, c.Disabled && !cur.Disabled, "update client", updateClient, c.TenantID, c.ID,
			c.Name, c.Disabled, c.GrantTypes, c.Scopes, c.DefaultScopes, c.Introspect, toSeconds(c.AccessTTL),
			toSeconds(c.RefreshIdleTTL), toSeconds(c.RefreshMaxTTL), ev.At, c.AllowedOrigins, c.ForwardsUserIP, c.FirstParty)
		if err != nil {
			return err
		}
		return setPasswordReset(ctx, tx, c, &out)
	})
	return out, err
}

const deleteClient = `DELETE FROM clients c WHERE c.tenant_id = $1 AND c.id = $2 RETURNING ` + clientColumns

// DeleteClient removes the client with its secrets, sessions and tokens, and writes ev and
// a client revocation, which outlive the client. It returns ErrNotFound for an unknown
// client.
func (s *Store) DeleteClient(ctx context.Context, tenant uuid.UUID, id string, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := s.writeClient(ctx, tx, ev, true, "delete client", deleteClient, tenant, id)
		return err
	})
}

// BumpClientEpoch revokes every token of the client and writes ev and a client revocation
// to the log. It returns the epoch before the bump, or ErrNotFound.
func (s *Store) BumpClientEpoch(ctx context.Context, tenant uuid.UUID, id string, ev Event) (int64, error) {
	rev := Revocation{TenantID: tenant, Kind: RevokedClient, Subject: id, At: ev.At}
	return s.bumpEpoch(ctx, `UPDATE clients SET epoch = epoch + 1, updated_at = $3
		WHERE tenant_id = $1 AND id = $2 RETURNING epoch - 1`, ev, rev, tenant, id, ev.At)
}

// writeClient runs sql, which returns the client's row, then writes ev about it and, when
// revokes, appends a client revocation to the log.
func (s *Store) writeClient(ctx context.Context, tx pgx.Tx, ev Event, revokes bool, what, sql string, args ...any) (Client, error) {
	out, err := scanClient(tx.QueryRow(ctx, sql, args...))
	if err != nil {
		return out, translate(what, err)
	}
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "client", out.ID, out.Name
	ev.ClientID = out.ID
	if err := writeEvent(ctx, tx, ev); err != nil || !revokes {
		return out, err
	}
	return out, s.appendRevocation(ctx, tx, Revocation{TenantID: out.TenantID, Kind: RevokedClient,
		Subject: out.ID, At: ev.At})
}

// Secrets still valid at now (expires_at unset or later) and the rest are kept apart: a
// rotation ends the current secret at now+overlap and adds the new one.
const expireSecrets = `UPDATE client_secrets SET expires_at = $3
WHERE tenant_id = $1 AND client_id = $2 AND (expires_at IS NULL OR expires_at > $3)`

const pruneSecrets = `DELETE FROM client_secrets WHERE tenant_id = $1 AND client_id = $2 AND expires_at <= $3`

// rotatingClient locks the client for a rotation and moves its version, so that no cached
// copy of it (see Client.Version) is current any more.
const rotatingClient = `UPDATE clients AS c SET version = c.version + 1
WHERE c.tenant_id = $1 AND c.id = $2 RETURNING ` + clientColumns

// RotateSecret adds a new secret hash for the client and lets every older secret work
// until until (at most). Secrets already expired at now are deleted. It returns
// ErrNotFound for an unknown client.
func (s *Store) RotateSecret(ctx context.Context, tenant uuid.UUID, id string, hash []byte, until time.Time, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		c, err := scanClient(tx.QueryRow(ctx, rotatingClient, tenant, id))
		if err != nil {
			return translate("rotate secret", err)
		}
		if _, err := tx.Exec(ctx, expireSecrets, tenant, id, until); err != nil {
			return translate("rotate secret", err)
		}
		if _, err := tx.Exec(ctx, pruneSecrets, tenant, id, ev.At); err != nil {
			return translate("rotate secret", err)
		}
		if _, err := tx.Exec(ctx, insertSecret, tenant, id, hash, ev.At); err != nil {
			return translate("rotate secret", err)
		}
		ev.SubjectType, ev.SubjectID, ev.SubjectName, ev.ClientID = "client", c.ID, c.Name, c.ID
		return writeEvent(ctx, tx, ev)
	})
}

const listSecrets = `SELECT hash, created_at, expires_at FROM client_secrets
WHERE tenant_id = $1 AND client_id = $2 AND (expires_at IS NULL OR expires_at > $3) ORDER BY created_at`

// Secrets returns the client's secrets still valid at now.
func (s *Store) Secrets(ctx context.Context, tenant uuid.UUID, id string, now time.Time) ([]Secret, error) {
	rows, err := s.pool.Query(ctx, listSecrets, tenant, id, now)
	if err != nil {
		return nil, translate("client secrets", err)
	}
	return collect(rows, func(r pgx.Row) (Secret, error) {
		var sec Secret
		err := r.Scan(&sec.Hash, &sec.CreatedAt, &sec.ExpiresAt)
		return sec, err
	}, "client secrets")
}

const tenantSecrets = `SELECT client_id, hash, created_at, expires_at FROM client_secrets
WHERE tenant_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY client_id, created_at`

// TenantSecrets returns the secrets of all the tenant's clients still valid at now, by
// client and age.
func (s *Store) TenantSecrets(ctx context.Context, tenant uuid.UUID, now time.Time) ([]Secret, error) {
	rows, err := s.pool.Query(ctx, tenantSecrets, tenant, now)
	if err != nil {
		return nil, translate("tenant client secrets", err)
	}
	return collect(rows, func(r pgx.Row) (Secret, error) {
		var sec Secret
		err := r.Scan(&sec.ClientID, &sec.Hash, &sec.CreatedAt, &sec.ExpiresAt)
		return sec, err
	}, "tenant client secrets")
}
