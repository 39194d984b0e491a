package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Token kinds as stored.
const (
	KindAccess  = 'a'
	KindRefresh = 'r'
)

// Epochs are the tenant's, client's and user's revocation epochs current when a request
// started. A token is live only while they are unchanged.
type Epochs struct {
	Tenant int64
	Client int64
	User   *int64 // nil for a token with no user
}

// Token is one stored access or refresh token. Hash is SHA-256 of the token string.
type Token struct {
	Hash      []byte
	ID        uuid.UUID
	Kind      byte
	TenantID  uuid.UUID
	ClientID  string
	UserID    *uuid.UUID
	SessionID *uuid.UUID
	Scope     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
	UsedAt    *time.Time
	Epochs    Epochs
}

// NewToken is what a caller supplies for a token to be issued.
type NewToken struct {
	Hash      []byte
	ID        uuid.UUID
	ExpiresAt time.Time
}

const tokenColumns = `t.hash, t.id, t.kind, t.tenant_id, t.client_id, t.user_id, t.session_id, t.scope,
	t.issued_at, t.expires_at, t.revoked_at, t.used_at, t.tenant_epoch, t.client_epoch, t.user_epoch`

func scanToken(row pgx.Row) (Token, error) {
	var t Token
	err := row.Scan(&t.Hash, &t.ID, &t.Kind, &t.TenantID, &t.ClientID, &t.UserID, &t.SessionID,
		&t.Scope, &t.IssuedAt, &t.ExpiresAt, &t.RevokedAt, &t.UsedAt, &t.Epochs.Tenant,
		&t.Epochs.Client, &t.Epochs.User)
	return t, err
}

// Login is one password-grant login to record: a session, its access token and optionally
// a refresh token, issued under the epochs read before the password was verified.
type Login struct {
	TenantID         uuid.UUID
	ClientID         string
	UserID           uuid.UUID
	SessionID        uuid.UUID
	Scope            string
	Now              time.Time
	SessionExpiresAt time.Time
	Epochs           Epochs
	Access           NewToken
	Refresh          *NewToken
	Event            Event
	// Counters are the throttle counters the login reserved a unit on (ReserveLogin): the
	// login settles them as a success in the same transaction.
	Counters LoginCounters
}

// The whole login is one statement: nothing is written unless the tenant, client and user
// are enabled and still carry the epochs read before verification, so a password change or
// disable that committed meanwhile makes the login fail instead of minting a live token.
const issueLogin = `WITH ok AS (
	SELECT 1 FROM tenants tn, clients c, users u
	WHERE tn.id = $1 AND tn.epoch = $2 AND NOT tn.disabled AND tn.deleted_at IS NULL
	  AND c.tenant_id = $1 AND c.id = $3 AND c.epoch = $4 AND NOT c.disabled
	  AND u.tenant_id = $1 AND u.id = $5 AND u.epoch = $6 AND NOT u.disabled
), s AS (
	INSERT INTO sessions (tenant_id, id, client_id, user_id, scope, created_at, expires_at)
	SELECT $1, $7, $3, $5, $8, $9, $10 FROM ok RETURNING id
), a AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at,
		expires_at, tenant_epoch, client_epoch, user_epoch)
	SELECT $11, $12, 'a', $1, $3, $5, s.id, $8, $9, $13, $2, $4, $6 FROM s
), r AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at,
		expires_at, tenant_epoch, client_epoch, user_epoch)
	SELECT $14::bytea, $15::uuid, 'r', $1, $3, $5, s.id, $8, $9, $16::timestamptz, $2, $4, $6
	FROM s WHERE $14::bytea IS NOT NULL
), e AS (
	INSERT INTO events (` + eventColumns + `)
	SELECT $17::uuid, $18::timestamptz, $19::text, $20::text, $21::text, $22::text, $23::text, $24::text,
		$25::text, $26::text, $27::text, $28::text, $29::text, $30::jsonb FROM s
)
SELECT count(*) FROM s`

// IssueLogin records l in one statement and, in the same round trip and transaction,
// settles l.Counters as a success: the username and address counters get their unit
// back, the (username, address) counter is cleared, and the address becomes known for the
// user as of l.Now. It returns ErrStale, having written nothing and settled nothing, when
// the tenant, client or user was disabled or had its epoch moved since l.Epochs were read.
func (s *Store) IssueLogin(ctx context.Context, l Login) error {
	var rhash []byte
	var rid *uuid.UUID
	var rexp *time.Time
	if l.Refresh != nil {
		rhash, rid, rexp = l.Refresh.Hash, &l.Refresh.ID, &l.Refresh.ExpiresAt
	}
	args := append([]any{l.TenantID, l.Epochs.Tenant, l.ClientID, l.Epochs.Client, l.UserID,
		l.Epochs.User, l.SessionID, l.Scope, l.Now, l.SessionExpiresAt, l.Access.Hash, l.Access.ID,
		l.Access.ExpiresAt, rhash, rid, rexp}, eventArgs(l.Event)...)
	c := l.Counters
	if c.TenantID != l.TenantID {
		return fmt.Errorf("issue login: counters of tenant %s for a login in %s", c.TenantID, l.TenantID)
	}
	var b pgx.Batch
	b.Queue(issueLogin, args...)
	b.Queue(loginSucceeded, c.TenantID, c.Username, c.IP, c.IPTenant, l.UserID, l.Now, l.SessionID)
	br := s.pool.SendBatch(ctx, &b)
	err := expectOne(br.QueryRow(), "issue login")
	if err == nil {
		_, err = br.Exec()
		err = translate("settle login", err)
	}
	if cerr := br.Close(); err == nil {
		err = translate("issue login", cerr)
	}
	return err
}

// ClientToken is a client_credentials access token to record, issued on the client and
// tenant as read at Versions. SecretHash, when not nil, is the presented secret's SHA-256,
// which must be one of the client's secrets valid at Now: the caller has not checked it.
type ClientToken struct {
	TenantID   uuid.UUID
	ClientID   string
	Scope      string
	Now        time.Time
	Epochs     Epochs
	Versions   Versions
	SecretHash []byte
	Access     NewToken
	Event      Event
}

// Versions are the tenant's and client's row versions (Tenant.Version, Client.Version) a
// decision was made on.
type Versions struct {
	Tenant int64
	Client int64
}

// The token is written only if the tenant and client are live and still the rows (the
// versions) the grant was decided on, and the secret, when given, is valid now: a
// client's state cached between requests is checked in the write itself.
const issueClientToken = `WITH ok AS (
	SELECT 1 FROM tenants tn, clients c
	WHERE tn.id = $1 AND tn.epoch = $2 AND NOT tn.disabled AND tn.deleted_at IS NULL
	  AND c.tenant_id = $1 AND c.id = $3 AND c.epoch = $4 AND NOT c.disabled
	  AND tn.version = $24 AND c.version = $25
	  AND ($26::bytea IS NULL OR EXISTS (SELECT 1 FROM client_secrets cs
		WHERE cs.hash = $26 AND cs.tenant_id = $1 AND cs.client_id = $3
		  AND (cs.expires_at IS NULL OR cs.expires_at > $8)))
), a AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, scope, issued_at, expires_at,
		tenant_epoch, client_epoch)
	SELECT $5, $6, 'a', $1, $3, $7, $8, $9, $2, $4 FROM ok RETURNING 1
), e AS (
	INSERT INTO events (` + eventColumns + `)
	SELECT $10::uuid, $11::timestamptz, $12::text, $13::text, $14::text, $15::text, $16::text, $17::text,
		$18::text, $19::text, $20::text, $21::text, $22::text, $23::jsonb FROM a
)
SELECT count(*) FROM a`

// IssueClientToken records a client_credentials token and its event in one statement. It
// returns ErrStale, having written nothing, when the client or tenant changed meanwhile or
// the secret is not valid.
func (s *Store) IssueClientToken(ctx context.Context, c ClientToken) error {
	args := append([]any{c.TenantID, c.Epochs.Tenant, c.ClientID, c.Epochs.Client, c.Access.Hash,
		c.Access.ID, c.Scope, c.Now, c.Access.ExpiresAt}, eventArgs(c.Event)...)
	args = append(args, c.Versions.Tenant, c.Versions.Client, c.SecretHash)
	return expectOne(s.pool.QueryRow(ctx, issueClientToken, args...), "issue client token")
}

// expectOne reads a count(*) row and maps 0 to ErrStale.
func expectOne(row pgx.Row, what string) error {
	var n int
	if err := row.Scan(&n); err != nil {
		return translate(what, err)
	}
	if n == 0 {
		return translate(what, ErrStale)
	}
	return nil
}

// Rotation is a refresh: the old refresh token is used up and a new access and refresh
// token are issued in its session, under the epochs the old one carries.
type Rotation struct {
	TenantID uuid.UUID
	Old      Token
	Scope    string // the new access token's scope; the new refresh token keeps Old.Scope
	Now      time.Time
	Access   NewToken
	Refresh  NewToken
	Event    Event
}

// One conditional UPDATE decides which of concurrent refreshes wins.
const useRefresh = `UPDATE tokens SET used_at = $3
WHERE tenant_id = $1 AND hash = $2 AND kind = 'r' AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3`

const rotate = `WITH ok AS (
	SELECT 1 FROM sessions s, tenants tn, clients c, users u
	WHERE s.tenant_id = $1 AND s.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3
	  AND tn.id = $1 AND tn.epoch = $4 AND NOT tn.disabled AND tn.deleted_at IS NULL
	  AND c.tenant_id = $1 AND c.id = $5 AND c.epoch = $6 AND NOT c.disabled
	  AND u.tenant_id = $1 AND u.id = $7 AND u.epoch = $8 AND NOT u.disabled
), a AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at,
		expires_at, tenant_epoch, client_epoch, user_epoch)
	SELECT $9, $10, 'a', $1, $5, $7, $2, $11, $3, $12, $4, $6, $8 FROM ok RETURNING 1
), r AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at,
		expires_at, tenant_epoch, client_epoch, user_epoch)
	SELECT $13, $14, 'r', $1, $5, $7, $2, $15, $3, $16, $4, $6, $8 FROM ok
), u AS (
	UPDATE sessions SET last_refreshed_at = $3 WHERE tenant_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM ok)
), e AS (
	INSERT INTO events (` + eventColumns + `)
	SELECT $17::uuid, $18::timestamptz, $19::text, $20::text, $21::text, $22::text, $23::text, $24::text,
		$25::text, $26::text, $27::text, $28::text, $29::text, $30::jsonb FROM ok
)
SELECT count(*) FROM a`

// Rotate uses up r.Old and issues the new pair in one transaction. It returns ErrStale,
// having written nothing, when the old token was used meanwhile (check it again for reuse),
// or its session, user, client or tenant is no longer live under its epochs.
func (s *Store) Rotate(ctx context.Context, r Rotation) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, useRefresh, r.TenantID, r.Old.Hash, r.Now)
		if err != nil {
			return translate("use refresh token", err)
		}
		if tag.RowsAffected() == 0 {
			return translate("use refresh token", ErrStale)
		}
		o := r.Old
		args := append([]any{r.TenantID, o.SessionID, r.Now, o.Epochs.Tenant, o.ClientID, o.Epochs.Client,
			o.UserID, o.Epochs.User, r.Access.Hash, r.Access.ID, r.Scope, r.Access.ExpiresAt,
			r.Refresh.Hash, r.Refresh.ID, o.Scope, r.Refresh.ExpiresAt}, eventArgs(r.Event)...)
		return expectOne(tx.QueryRow(ctx, rotate, args...), "rotate refresh token")
	})
}

const tokenByHash = `SELECT ` + tokenColumns + ` FROM tokens t WHERE t.tenant_id = $1 AND t.hash = $2`

// TokenByHash returns the tenant's token with that hash in whatever state it is, or
// ErrNotFound (also when it belongs to another tenant).
func (s *Store) TokenByHash(ctx context.Context, tenant uuid.UUID, hash []byte) (Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, tokenByHash, tenant, hash))
	return t, translate("token", err)
}

const revokeToken = `UPDATE tokens SET revoked_at = $3 WHERE tenant_id = $1 AND hash = $2 AND revoked_at IS NULL`

// RevokeToken marks the tenant's token revoked, writes ev and appends a token revocation
// to the log, if it was not revoked yet. It reports whether it changed anything.
func (s *Store) RevokeToken(ctx context.Context, tenant uuid.UUID, hash []byte, ev Event) (bool, error) {
	return s.revoke(ctx, ev, tokenRevocation(tenant, hash, ev.At), revokeToken, tenant, hash, ev.At)
}

const revokeSession = `UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`

// RevokeSession revokes every token of the session (introspection and refresh check the
// session), writes ev and appends a session revocation to the log, if it was live. It
// reports whether it changed anything.
func (s *Store) RevokeSession(ctx context.Context, tenant, session uuid.UUID, ev Event) (bool, error) {
	rev := Revocation{TenantID: tenant, Kind: RevokedSession, Subject: session.String(), At: ev.At}
	return s.revoke(ctx, ev, rev, revokeSession, tenant, session, ev.At)
}

// revoke runs sql and, when it changed a row, writes ev and appends rev to the revocation
// log, in one transaction.
func (s *Store) revoke(ctx context.Context, ev Event, rev Revocation, sql string, args ...any) (bool, error) {
	changed := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return translate("revoke", err)
		}
		if changed = tag.RowsAffected() > 0; !changed {
			return nil
		}
		if err := writeEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.appendRevocation(ctx, tx, rev)
	})
	return changed, err
}
