package db

// Lookups by a globally unique key the caller presents. Each returns the tenant it found,
// which is explicit from then on.

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/google/uuid"
)

// ClientAuth is what authenticating a client needs: the client, its tenant, and the hashes
// of its secrets valid at the time of the lookup.
type ClientAuth struct {
	Client  Client
	Tenant  Tenant
	Secrets [][]byte
}

// A request authenticates as a client (RFC 6749 §2.3) when the client and its tenant are
// enabled and the tenant is not deleted, and a public client presented no secret while a
// confidential one presented one of its secrets valid at the request's time (a rotated-out
// secret until its expires_at). The rule is written twice, once per language, and the two
// change together: clientAuthenticated in SQL, for the statements that decide it
// themselves (introspection, a cached client's client_credentials token), and
// ClientAuth.Authenticates in Go, over ClientForAuth's row. api's
// TestClientAuthenticatedEverywhere runs the same cases through both.
//
// clientAuthenticated reads the client c, its tenant tn, and r.secret (the SHA-256 of the
// presented secret, NULL for none) and r.now (the request's time).
const clientAuthenticated = `(NOT c.disabled AND NOT tn.disabled AND tn.deleted_at IS NULL
	AND CASE WHEN c.public THEN r.secret IS NULL
		ELSE EXISTS (SELECT 1 FROM client_secrets cs WHERE ` + clientSecretLive + ` AND cs.hash = r.secret) END)`

// clientSecretLive holds for a secret cs of the client c that is valid at r.now.
const clientSecretLive = `cs.tenant_id = c.tenant_id AND cs.client_id = c.id AND (cs.expires_at IS NULL OR cs.expires_at > r.now)`

// Authenticates reports whether a request presenting a secret whose SHA-256 is secretHash
// (nil: no secret) authenticates as a's client, as ClientForAuth read it: the rule above.
// The hash is compared with every secret in constant time.
func (a ClientAuth) Authenticates(secretHash []byte) bool {
	if a.Client.Disabled || a.Tenant.Disabled || a.Tenant.DeletedAt != nil {
		return false
	}
	if a.Client.Public {
		return secretHash == nil
	}
	ok := 0
	for _, h := range a.Secrets {
		ok |= subtle.ConstantTimeCompare(secretHash, h)
	}
	return ok == 1
}

const clientForAuth = `SELECT ` + clientColumns + `, ` + tenantColumns + `,
	ARRAY(SELECT cs.hash FROM client_secrets cs WHERE ` + clientSecretLive + `)
FROM clients c JOIN tenants t ON t.id = c.tenant_id CROSS JOIN (VALUES ($2::timestamptz)) r (now)
WHERE c.id = $1`

// ClientForAuth returns the client with that client_id, its tenant and its secret hashes
// valid at now, in one round trip, or ErrNotFound.
func (s *Store) ClientForAuth(ctx context.Context, clientID string, now time.Time) (ClientAuth, error) {
	var a ClientAuth
	cdest, cfinish := clientDest(&a.Client)
	tdest, tfinish := tenantDest(&a.Tenant)
	dest := append(append(cdest, tdest...), &a.Secrets)
	if err := s.pool.QueryRow(ctx, clientForAuth, clientID, now).Scan(dest...); err != nil {
		return a, translate("client "+clientID, err)
	}
	cfinish()
	tfinish()
	return a, nil
}

// A disabled client or a client of a disabled or deleted tenant allows no origin; the GIN
// index on allowed_origins serves the containment test.
const originAllowed = `SELECT EXISTS (SELECT 1 FROM clients c JOIN tenants t ON t.id = c.tenant_id
WHERE c.allowed_origins @> ARRAY[$1::text] AND NOT c.disabled AND NOT t.disabled AND t.deleted_at IS NULL)`

// OriginAllowed reports whether some live client of any tenant lists origin among its CORS
// origins: what a preflight, which carries no credentials, can be told.
func (s *Store) OriginAllowed(ctx context.Context, origin string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, originAllowed, origin).Scan(&ok)
	return ok, translate("origin allowed", err)
}

// MarkDev records in the database that it is a jeton dev database (IsDev reads the mark),
// whether or not it was there before. It returns the database's error.
func (s *Store) MarkDev(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO jeton_meta (key, value) VALUES ('dev', 'true') ON CONFLICT (key) DO NOTHING`)
	return translate("mark dev database", err)
}

// IsDev reports whether the database carries the dev mark, and whether it holds any tenant.
func (s *Store) IsDev(ctx context.Context) (dev, hasTenants bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jeton_meta WHERE key = 'dev'),
		EXISTS (SELECT 1 FROM tenants)`).Scan(&dev, &hasTenants)
	return dev, hasTenants, translate("dev mark", err)
}

const adminKeyByHash = `SELECT ` + adminKeyColumns + ` FROM admin_keys k LEFT JOIN tenants tn ON tn.id = k.tenant_id
WHERE k.hash = $1 AND k.revoked_at IS NULL`

// AdminKeyByHash returns the live (unrevoked) admin key with that SHA-256 hash, naming its
// tenant (nil for a global key), or ErrNotFound.
func (s *Store) AdminKeyByHash(ctx context.Context, hash []byte) (AdminKey, error) {
	k, err := scanAdminKey(s.pool.QueryRow(ctx, adminKeyByHash, hash))
	return k, translate("admin key", err)
}

const tokenByHashAnyTenant = `SELECT ` + tokenColumns + ` FROM tokens t WHERE t.hash = $1`

// TokenByHashAnyTenant returns the token with that hash whatever its tenant (TenantID says
// which), for a global admin key's revocation, or ErrNotFound.
func (s *Store) TokenByHashAnyTenant(ctx context.Context, hash []byte) (Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, tokenByHashAnyTenant, hash))
	return t, translate("token", err)
}

// AccountToken is a live access token presented to the account API, with its user and
// tenant.
type AccountToken struct {
	Scope    string
	ClientID string
	User     User
	Tenant   Tenant
	// SessionID is the token's session; Origins its client's CORS origins.
	SessionID uuid.UUID
	Origins   []string
}

// accountToken reads a live access token of a user as introspection judges liveness: its
// own state, its session, the three epochs.
const accountToken = `SELECT tk.scope, tk.client_id, tk.session_id, c.allowed_origins, ` + userColumns + `, ` + tenantColumns + `
FROM tokens tk
JOIN tenants t ON t.id = tk.tenant_id
JOIN clients c ON c.tenant_id = tk.tenant_id AND c.id = tk.client_id
JOIN users u ON u.tenant_id = tk.tenant_id AND u.id = tk.user_id
WHERE tk.hash = $1 AND tk.kind = 'a' AND tk.revoked_at IS NULL AND tk.expires_at > $2
  AND t.epoch = tk.tenant_epoch AND NOT t.disabled AND t.deleted_at IS NULL
  AND c.epoch = tk.client_epoch AND NOT c.disabled
  AND u.epoch = tk.user_epoch AND NOT u.disabled
  AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = tk.session_id AND s.revoked_at IS NOT NULL)`

// AccountTokenByHash returns the live user access token with that hash, whatever its
// tenant (Tenant says which), or ErrNotFound.
func (s *Store) AccountTokenByHash(ctx context.Context, hash []byte, now time.Time) (AccountToken, error) {
	var a AccountToken
	u := &a.User
	tdest, tfinish := tenantDest(&a.Tenant)
	dest := append([]any{&a.Scope, &a.ClientID, &a.SessionID, &a.Origins, &u.TenantID, &u.ID, &u.Username, &u.PasswordHash,
		&u.Disabled, &u.Scopes, &u.Epoch, &u.CreatedAt, &u.UpdatedAt, &u.PasswordChangedAt, &u.PasswordChangeReason}, tdest...)
	if err := s.pool.QueryRow(ctx, accountToken, hash, now).Scan(dest...); err != nil {
		return a, translate("account token", err)
	}
	tfinish()
	return a, nil
}

// DevSecretKey returns the key ring spec stored in a dev database, storing candidate
// first when there is none, so that factors enrolled under jeton dev keep working across
// its restarts.
func (s *Store) DevSecretKey(ctx context.Context, candidate string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `WITH i AS (
		INSERT INTO jeton_meta (key, value) VALUES ('dev_secret_keys', $1) ON CONFLICT (key) DO NOTHING RETURNING value
	) SELECT value FROM i UNION ALL SELECT value FROM jeton_meta WHERE key = 'dev_secret_keys' LIMIT 1`, candidate).Scan(&v)
	return v, translate("dev secret key", err)
}
