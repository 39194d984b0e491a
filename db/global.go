package db

// Lookups by a globally unique key the caller presents. Each returns the tenant it found,
// which is explicit from then on.

import (
	"context"
	"time"
)

// ClientAuth is what authenticating a client needs: the client, its tenant, and the hashes
// of its secrets valid at the time of the lookup.
type ClientAuth struct {
	Client  Client
	Tenant  Tenant
	Secrets [][]byte
}

const clientForAuth = `SELECT ` + clientColumns + `, ` + tenantColumns + `,
	ARRAY(SELECT cs.hash FROM client_secrets cs
	      WHERE cs.tenant_id = c.tenant_id AND cs.client_id = c.id AND (cs.expires_at IS NULL OR cs.expires_at > $2))
FROM clients c JOIN tenants t ON t.id = c.tenant_id
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

// MarkDev records in the database that it is a jeton dev database. It returns whether the
// mark was there before.
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
