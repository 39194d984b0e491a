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
	WHERE ` + loginEpochs + `
), s AS (
	INSERT INTO sessions (tenant_id, id, client_id, user_id, scope, created_at, expires_at)
	SELECT @tenant, @session, @client, @user, @scope, @now, @session_expires_at FROM ok RETURNING id
), ` + loginTokens

// loginEpochs is the condition on tenants tn, clients c and users u under which a login
// (or a step-up) writes anything: all three enabled and at the epochs read before the
// password was verified.
const loginEpochs = `tn.id = @tenant AND tn.epoch = @tenant_epoch AND NOT tn.disabled AND tn.deleted_at IS NULL
	  AND c.tenant_id = @tenant AND c.id = @client AND c.epoch = @client_epoch AND NOT c.disabled
	  AND u.tenant_id = @tenant AND u.id = @user AND u.epoch = @user_epoch AND NOT u.disabled`

// loginTokens ends the statements of issueLogin and stepUpSession, after their CTE s (the
// session, new or stepped up, or no row when stale): the access token, the refresh token
// when @refresh_hash is not NULL, and the event, each only with a row in s. The statement
// returns how many rows s has.
const loginTokens = `a AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at,
		expires_at, tenant_epoch, client_epoch, user_epoch)
	SELECT @access_hash, @access_id, 'a', @tenant, @client, @user, s.id, @scope, @now,
		@access_expires_at, @tenant_epoch, @client_epoch, @user_epoch FROM s
), r AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at,
		expires_at, tenant_epoch, client_epoch, user_epoch)
	SELECT @refresh_hash::bytea, @refresh_id::uuid, 'r', @tenant, @client, @user, s.id, @scope, @now,
		@refresh_expires_at::timestamptz, @tenant_epoch, @client_epoch, @user_epoch
	FROM s WHERE @refresh_hash::bytea IS NOT NULL
), e AS (
	INSERT INTO events (` + eventColumns + `)
	SELECT ` + eventParams + ` FROM s
)
SELECT count(*) FROM s`

// IssueLogin records l in one statement and, in the same round trip and transaction,
// settles l.Counters as a success: the username and address counters get their unit
// back, the (username, address) counter is cleared, and the address becomes known for the
// user as of l.Now. It returns ErrStale, having written nothing and settled nothing, when
// the tenant, client or user was disabled or had its epoch moved since l.Epochs were read.
func (s *Store) IssueLogin(ctx context.Context, l Login) error {
	c := l.Counters
	if c.TenantID != l.TenantID {
		return fmt.Errorf("issue login: counters of tenant %s for a login in %s", c.TenantID, l.TenantID)
	}
	settle := counterArgs(c)
	settle["user"], settle["now"], settle["session"] = l.UserID, l.Now, l.SessionID
	args, err := issueLoginArgs(l)
	if err != nil {
		return err
	}
	var b pgx.Batch
	b.Queue(issueLogin, args)
	b.Queue(loginSucceeded, settle)
	br := s.pool.SendBatch(ctx, &b)
	err = expectOne(br.QueryRow(), "issue login")
	if err == nil {
		_, err = br.Exec()
		err = translate("settle login", err)
	}
	if cerr := br.Close(); err == nil {
		err = translate("issue login", cerr)
	}
	return err
}

// issueLoginIn runs issueLogin for l in tx, leaving its counters alone; ErrStale as
// IssueLogin.
func issueLoginIn(ctx context.Context, tx pgx.Tx, l Login) error {
	args, err := issueLoginArgs(l)
	if err != nil {
		return err
	}
	return expectOne(tx.QueryRow(ctx, issueLogin, args), "issue login")
}

// issueLoginArgs are issueLogin's parameters for l, or the error marshalling its event.
func issueLoginArgs(l Login) (pgx.StrictNamedArgs, error) {
	args := loginTokenArgs(l)
	args["session_expires_at"] = l.SessionExpiresAt
	return addEventArgs(args, l.Event)
}

// loginTokenArgs are the parameters of loginEpochs and loginTokens for l (event aside).
func loginTokenArgs(l Login) pgx.StrictNamedArgs {
	args := pgx.StrictNamedArgs{"tenant": l.TenantID, "tenant_epoch": l.Epochs.Tenant,
		"client": l.ClientID, "client_epoch": l.Epochs.Client, "user": l.UserID, "user_epoch": l.Epochs.User,
		"session": l.SessionID, "scope": l.Scope, "now": l.Now,
		"access_hash": l.Access.Hash, "access_id": l.Access.ID, "access_expires_at": l.Access.ExpiresAt,
		"refresh_hash": nil, "refresh_id": nil, "refresh_expires_at": nil}
	if r := l.Refresh; r != nil {
		args["refresh_hash"], args["refresh_id"], args["refresh_expires_at"] = r.Hash, r.ID, r.ExpiresAt
	}
	return args
}

// ClientToken is a client_credentials access token to record, issued on the client and
// tenant as read at Versions. SecretHash is the SHA-256 of the secret the request
// presented (nil for none): the token is written only if the request authenticates as the
// client at Now (clientAuthenticated), which the caller need not have checked.
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

// The token is written only if the request authenticates as the client now and the tenant
// and client are still the rows (the versions) the grant was decided on: a client's state
// cached between requests is checked in the write itself.
const issueClientToken = `WITH ok AS (
	SELECT 1 FROM tenants tn, clients c, (VALUES (@secret::bytea, @now::timestamptz)) r (secret, now)
	WHERE tn.id = @tenant AND tn.epoch = @tenant_epoch AND tn.version = @tenant_version
	  AND c.tenant_id = @tenant AND c.id = @client AND c.epoch = @client_epoch AND c.version = @client_version
	  AND ` + clientAuthenticated + `
), a AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, scope, issued_at, expires_at,
		tenant_epoch, client_epoch)
	SELECT @hash, @id, 'a', @tenant, @client, @scope, @now, @expires_at, @tenant_epoch, @client_epoch
	FROM ok RETURNING 1
), e AS (
	INSERT INTO events (` + eventColumns + `)
	SELECT ` + eventParams + ` FROM a
)
SELECT count(*) FROM a`

// IssueClientToken records a client_credentials token and its event in one statement. It
// returns ErrStale, having written nothing, when the client or tenant changed meanwhile or
// the request does not authenticate as the client.
func (s *Store) IssueClientToken(ctx context.Context, c ClientToken) error {
	args, err := addEventArgs(pgx.NamedArgs{
		"tenant": c.TenantID, "tenant_epoch": c.Epochs.Tenant, "tenant_version": c.Versions.Tenant,
		"client": c.ClientID, "client_epoch": c.Epochs.Client, "client_version": c.Versions.Client,
		"secret": c.SecretHash, "now": c.Now,
		"hash": c.Access.Hash, "id": c.Access.ID, "scope": c.Scope, "expires_at": c.Access.ExpiresAt,
	}, c.Event)
	if err != nil {
		return err
	}
	return expectOne(s.pool.QueryRow(ctx, issueClientToken, args), "issue client token")
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
	WHERE s.tenant_id = @tenant AND s.id = @session AND s.revoked_at IS NULL AND s.expires_at > @now
	  AND tn.id = @tenant AND tn.epoch = @tenant_epoch AND NOT tn.disabled AND tn.deleted_at IS NULL
	  AND c.tenant_id = @tenant AND c.id = @client AND c.epoch = @client_epoch AND NOT c.disabled
	  AND u.tenant_id = @tenant AND u.id = @user AND u.epoch = @user_epoch AND NOT u.disabled
), a AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at,
		expires_at, tenant_epoch, client_epoch, user_epoch)
	SELECT @access_hash, @access_id, 'a', @tenant, @client, @user, @session, @access_scope, @now,
		@access_expires_at, @tenant_epoch, @client_epoch, @user_epoch FROM ok RETURNING 1
), r AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at,
		expires_at, tenant_epoch, client_epoch, user_epoch)
	SELECT @refresh_hash, @refresh_id, 'r', @tenant, @client, @user, @session, @refresh_scope, @now,
		@refresh_expires_at, @tenant_epoch, @client_epoch, @user_epoch FROM ok
), u AS (
	UPDATE sessions SET last_refreshed_at = @now WHERE tenant_id = @tenant AND id = @session AND EXISTS (SELECT 1 FROM ok)
), e AS (
	INSERT INTO events (` + eventColumns + `)
	SELECT ` + eventParams + ` FROM ok
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
		args := pgx.StrictNamedArgs{"tenant": r.TenantID, "session": o.SessionID, "now": r.Now,
			"tenant_epoch": o.Epochs.Tenant, "client": o.ClientID, "client_epoch": o.Epochs.Client,
			"user": o.UserID, "user_epoch": o.Epochs.User, "access_hash": r.Access.Hash, "access_id": r.Access.ID,
			"access_scope": r.Scope, "access_expires_at": r.Access.ExpiresAt, "refresh_hash": r.Refresh.Hash,
			"refresh_id": r.Refresh.ID, "refresh_scope": o.Scope, "refresh_expires_at": r.Refresh.ExpiresAt}
		args, err = addEventArgs(args, r.Event)
		if err != nil {
			return err
		}
		return expectOne(tx.QueryRow(ctx, rotate, args), "rotate refresh token")
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
