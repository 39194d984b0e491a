package db

// The revocation log behind the revocation feed (docs/FEED.md). Every transaction that
// revokes something appends its row as its last statements, under a transaction-level
// advisory lock: the lock is held until commit, so ids are handed out in commit order and
// a reader that has seen id N has seen every committed id below N. The global queries here
// (RevocationsAfter, RevocationHead) cross tenants on purpose, like the sweeper's: one
// process reads the log once for all its subscribers and routes rows by tenant.

import (
	"context"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Revocation kinds, as stored and as streamed.
const (
	RevokedToken   = "token"   // Subject: the lowercase hex SHA-256 of the token string
	RevokedSession = "session" // Subject: the session id
	RevokedUser    = "user"    // Subject: the user id
	RevokedClient  = "client"  // Subject: the client_id
	RevokedTenant  = "tenant"  // Subject: ""
)

// RevocationChannel is the PostgreSQL NOTIFY channel that carries each new row's id.
const RevocationChannel = "jeton_revocations"

// revocationLockKey serialises appends to the log ("jetonrv"). Advisory locks are per
// database, so each deployment has its own.
const revocationLockKey int64 = 0x6a65746f6e7276

// Revocation is one row of the revocation log.
type Revocation struct {
	ID       int64
	TenantID uuid.UUID
	Kind     string
	Subject  string
	At       time.Time
}

// The lock comes first and is held until commit; the INSERT takes its id under it;
// pg_notify is delivered at commit.
const (
	lockRevocations  = `SELECT pg_advisory_xact_lock($1)`
	insertRevocation = `WITH r AS (
	INSERT INTO revocations (tenant_id, kind, subject, at) VALUES ($1, $2, $3, $4) RETURNING id
)
SELECT pg_notify('` + RevocationChannel + `', r.id::text) FROM r`
)

// appendRevocation appends r to the log in tx. It must be the transaction's last work: the
// lock it takes serialises every revoking transaction's commit, so it is held for one
// round trip and the commit, and is never followed by row locks that could deadlock.
func (s *Store) appendRevocation(ctx context.Context, tx pgx.Tx, r Revocation) error {
	b := &pgx.Batch{}
	b.Queue(lockRevocations, revocationLockKey)
	b.Queue(insertRevocation, r.TenantID, r.Kind, r.Subject, r.At)
	return translate("append revocation", tx.SendBatch(ctx, b).Close())
}

// tokenRevocation names a token by the hex of its hash, as the feed does.
func tokenRevocation(tenant uuid.UUID, hash []byte, at time.Time) Revocation {
	return Revocation{TenantID: tenant, Kind: RevokedToken, Subject: hex.EncodeToString(hash), At: at}
}

// RevocationPage is a slice of one tenant's log, with the bounds of the whole log as the
// same statement saw them: Oldest is the smallest id kept (every id below it was trimmed
// or never committed), Head the largest; both are 0 when the log is empty.
type RevocationPage struct {
	Oldest, Head int64
	Rows         []Revocation
}

// One statement, so the bounds and the rows come from one snapshot: when Oldest <= after+1
// no row this page should hold had been trimmed.
const tenantRevocations = `WITH b AS (SELECT COALESCE(min(id), 0) AS oldest, COALESCE(max(id), 0) AS head FROM revocations)
SELECT b.oldest, b.head, r.id, r.kind, r.subject, r.at FROM b LEFT JOIN LATERAL (
	SELECT id, kind, subject, at FROM revocations
	WHERE tenant_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4) r ON true
ORDER BY r.id`

// TenantRevocations returns up to limit rows of the tenant's log with after < id <= upTo,
// in id order, and the log's bounds.
func (s *Store) TenantRevocations(ctx context.Context, tenant uuid.UUID, after, upTo int64, limit int) (RevocationPage, error) {
	rows, err := s.main.Query(ctx, tenantRevocations, tenant, after, upTo, limit)
	if err != nil {
		return RevocationPage{}, translate("tenant revocations", err)
	}
	defer rows.Close()
	var p RevocationPage
	for rows.Next() {
		var id *int64
		var kind, subject *string
		var at *time.Time
		if err := rows.Scan(&p.Oldest, &p.Head, &id, &kind, &subject, &at); err != nil {
			return p, translate("tenant revocations", err)
		}
		if id != nil {
			p.Rows = append(p.Rows, Revocation{ID: *id, TenantID: tenant, Kind: *kind, Subject: *subject, At: *at})
		}
	}
	return p, translate("tenant revocations", rows.Err())
}

const revocationsAfter = `SELECT id, tenant_id, kind, subject, at FROM revocations WHERE id > $1 ORDER BY id LIMIT $2`

// RevocationsAfter returns up to limit rows of every tenant with an id above after, in id
// order.
func (s *Store) RevocationsAfter(ctx context.Context, after int64, limit int) ([]Revocation, error) {
	rows, err := s.main.Query(ctx, revocationsAfter, after, limit)
	if err != nil {
		return nil, translate("revocations", err)
	}
	return collect(rows, func(r pgx.Row) (Revocation, error) {
		var v Revocation
		err := r.Scan(&v.ID, &v.TenantID, &v.Kind, &v.Subject, &v.At)
		return v, err
	}, "revocations")
}

// RevocationHead returns the largest id in the log, 0 when it is empty.
func (s *Store) RevocationHead(ctx context.Context) (int64, error) {
	var head int64
	err := s.main.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM revocations`).Scan(&head)
	return head, translate("revocation head", err)
}

// Listener is a connection of its own, outside the pool, that LISTENs on one channel. It
// is not safe for concurrent use.
type Listener struct {
	conn *pgx.Conn
}

// Listen opens a dedicated connection and LISTENs on channel (RevocationChannel,
// WebhookChannel). The connection has WithListenConfig's settings, else the main pool's:
// behind a pooler in transaction mode it must be a direct one, or notifications are lost.
// Notifications committed from its return on are all delivered to Wait. It returns the
// error connecting or listening.
func (s *Store) Listen(ctx context.Context, channel string) (*Listener, error) {
	cfg := s.listenConfig
	if cfg == nil {
		cfg = s.main.Config().ConnConfig
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, translate("listen on "+channel, err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, translate("listen on "+channel, err)
	}
	return &Listener{conn: conn}, nil
}

// Wait blocks until a notification arrives and returns its payload. It returns ctx's
// error, as it is, when ctx ends first (the connection stays usable after a deadline: a
// wait's deadline is the caller's poll, not the database failing), or the connection's
// error, translated, after which the listener is useless and must be closed.
func (l *Listener) Wait(ctx context.Context) (string, error) {
	n, err := l.conn.WaitForNotification(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", translate("wait for notification", err)
	}
	return n.Payload, nil
}

// Close closes the listener's connection.
func (l *Listener) Close(ctx context.Context) error {
	return translate("close listener", l.conn.Close(ctx))
}

// RevocationID returns the id a RevocationChannel payload carries, 0 when it is not an
// id: anyone connected may NOTIFY the channel, so such a payload is only a wake-up (read
// the log anyway).
func RevocationID(payload string) int64 {
	id, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return 0
	}
	return id
}

const notify = `SELECT pg_notify($1::text, $2::text)`

// Notify sends payload on channel through the main pool, the way every notification
// jeton commits travels. It returns the database's error.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	_, err := s.main.Exec(ctx, notify, channel, payload)
	return translate("notify "+channel, err)
}
