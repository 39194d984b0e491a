package db

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Introspection is what /introspect tells about a live access token. A token issued
// without a user (client_credentials) has the zero UserID and SessionID and no Username.
type Introspection struct {
	ID        uuid.UUID
	ClientID  string
	UserID    uuid.UUID
	SessionID uuid.UUID
	Username  string
	Scope     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// AMR and AuthTime are how and when the token's session authenticated (RFC 8176
	// values); nil and zero for a token without a session.
	AMR      []string
	AuthTime time.Time
}

// IntrospectQuery is one /introspect request: its caller's credentials as presented and the
// token asked about, both as SHA-256 hashes.
type IntrospectQuery struct {
	// CallerOnly: no well-formed token was presented, so the caller alone is looked up and
	// TokenHash is ignored.
	CallerOnly bool
	ClientID   string
	HasSecret  bool // false: no secret was presented, SecretHash is ignored
	SecretHash [sha256.Size]byte
	TokenHash  [sha256.Size]byte
	Origin     string // the request's Origin header, "" when none (no client allows "")
	Now        time.Time
}

// IntrospectCaller is the state, at the time of the lookup, of the client that made an
// /introspect request. Found is false for an unknown client_id; the rest is then zero.
type IntrospectCaller struct {
	Found    bool
	TenantID uuid.UUID
	Tenant   string // the tenant's slug
	// Authenticated: the request authenticates as the client at Now, by the rule
	// ClientAuth.Authenticates states (see clientAuthenticated).
	Authenticated bool
	Introspect    bool
	// OriginAllowed: the presented Origin is on the client's CORS list.
	OriginAllowed bool
}

// IntrospectResult is the answer to one IntrospectQuery: the caller, and the token when it
// is a live access token of the caller's tenant.
type IntrospectResult struct {
	Caller IntrospectCaller
	Active bool
	Token  Introspection
}

// The caller and the token are read in one statement, so in one snapshot: what the caller
// may do and whether the token is live cannot disagree, and nothing is cached between
// requests. The token is looked up in the caller's tenant only; liveness is its own state,
// its session and the three epochs. A revoked session is found in the small partial index
// sessions_revoked (session ids are unique, and a token's session is of its tenant by
// foreign key), not in the whole sessions table. One statement serves a whole batch of
// requests: r is one row per request, i its position. The token is found by its hash
// alone first (OFFSET 0 keeps that subquery to itself): with thousands of tenants, the
// generic plan could otherwise start from the tenant's clients and walk their tokens
// (tokens_client), every token of a client with millions of them (make bench-full covers
// that case: docs/BENCHMARKS-full.md).
const (
	introspectCaller = `r.i, c.tenant_id, tn.slug, ` + clientAuthenticated + `, c.introspect,
	r.origin = ANY (c.allowed_origins)`
	introspectFrom = `
FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[], $5::timestamptz[])
	WITH ORDINALITY AS r (client_id, secret, token, origin, now, i)
JOIN clients c ON c.id = r.client_id
JOIN tenants tn ON tn.id = c.tenant_id`
	introspectBatch = `SELECT ` + introspectCaller + `,
	t.id, t.client_id, t.user_id, t.session_id, t.username, t.scope, t.issued_at, t.expires_at,
	t.amr, t.auth_time` + introspectFrom + `
LEFT JOIN LATERAL (
	SELECT t.id, t.client_id, t.user_id, t.session_id, u.username, t.scope, t.issued_at, t.expires_at,
		ss.amr, COALESCE(ss.auth_time, ss.created_at) AS auth_time
	FROM (SELECT * FROM tokens WHERE hash = r.token OFFSET 0) t
	JOIN clients tc ON tc.tenant_id = t.tenant_id AND tc.id = t.client_id
	LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
	LEFT JOIN sessions ss ON ss.id = t.session_id
	WHERE t.tenant_id = c.tenant_id AND t.kind = 'a' AND t.revoked_at IS NULL
	  AND t.expires_at > r.now
	  AND tn.epoch = t.tenant_epoch AND NOT tn.disabled AND tn.deleted_at IS NULL
	  AND tc.epoch = t.client_epoch AND NOT tc.disabled
	  AND (t.user_id IS NULL OR (u.epoch = t.user_epoch AND NOT u.disabled))
	  AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id AND s.revoked_at IS NOT NULL)
) t ON true`
	// introspectCallerBatch serves requests without a well-formed token: their callers
	// alone, and not a single token row.
	introspectCallerBatch = `SELECT ` + introspectCaller + `,
	NULL::uuid, NULL::text, NULL::uuid, NULL::uuid, NULL::text, NULL::text, NULL::timestamptz,
	NULL::timestamptz, NULL::text[], NULL::timestamptz` + introspectFrom
)

// Introspect looks up the caller and the token of q in one statement, shared with the
// /introspect requests running concurrently (see introspectBatcher). The token is looked
// up in the caller's tenant. It returns a zero Caller for an unknown client_id, Active false
// for anything but a live access token of the caller's tenant, and an error only when the
// database failed or ctx ended first.
func (s *Store) Introspect(ctx context.Context, q IntrospectQuery) (IntrospectResult, error) {
	if q.CallerOnly {
		return s.callers.do(ctx, q)
	}
	return s.batch.do(ctx, q)
}

// maxIntrospectBatch bounds the requests in one statement.
const maxIntrospectBatch = 512

// A batch starts at once while no other runs, so a lone request waits for nothing; the
// requests that arrive while it runs make the next batch. More, up to the pool's size, run
// only while at least busyQueue requests are queued, enough to fill a batch worth its
// statement: a database slow to answer (one busy elsewhere) then gets more work in
// parallel, and a quiet one is not sent small batches whose fixed cost (the statement's
// own PostgreSQL CPU) would exceed the per-request work. A second statement always in
// flight (minBatches 2) only makes the batches smaller, and so costs throughput (make
// bench's introspect-live measures it: docs/BENCHMARKS.md).
const (
	minBatches = 1
	busyQueue  = 16
)

// introspectTimeout bounds one batch's statement, which runs on behalf of several
// requests and so under none of their contexts.
const introspectTimeout = 10 * time.Second

// introspectBatcher coalesces the lookups of concurrent /introspect requests: a request
// queues its query, and a worker takes whatever is queued and runs it as one statement,
// never waiting for more to arrive. Workers run as minBatches and busyQueue say, at most
// max (the pool's size) at once, so an idle server answers a lone request in one round trip
// and a busy one many per round trip. Workers end when the queue is empty, so a Store has no
// goroutine to stop.
type introspectBatcher struct {
	pool *pgxpool.Pool
	sql  string // introspectBatch or introspectCallerBatch
	max  int

	mu      sync.Mutex
	queue   []*introspectCall
	running int
}

// introspectCall is one queued request; done receives once, when res and err are set.
type introspectCall struct {
	q    IntrospectQuery
	res  IntrospectResult
	err  error
	done chan struct{}
}

var callPool = sync.Pool{New: func() any { return &introspectCall{done: make(chan struct{}, 1)} }}

func newIntrospectBatcher(pool *pgxpool.Pool, sql string) *introspectBatcher {
	return &introspectBatcher{pool: pool, sql: sql, max: max(int(pool.Config().MaxConns), 1)}
}

func (b *introspectBatcher) do(ctx context.Context, q IntrospectQuery) (IntrospectResult, error) {
	if err := ctx.Err(); err != nil {
		return IntrospectResult{}, translate("introspect", err)
	}
	c := callPool.Get().(*introspectCall)
	c.q = q
	b.mu.Lock()
	b.queue = append(b.queue, c)
	start := b.running < b.max && (b.running < minBatches || len(b.queue) >= busyQueue)
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.work()
	}
	select {
	case <-c.done:
		res, err := c.res, c.err
		*c = introspectCall{done: c.done}
		callPool.Put(c)
		return res, err
	case <-ctx.Done():
		// The worker still delivers to c, which is then garbage.
		return IntrospectResult{}, translate("introspect", ctx.Err())
	}
}

// work runs batches until the queue is empty, or holds too few requests for more than
// minBatches workers.
func (b *introspectBatcher) work() {
	var w batchBuffers
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxIntrospectBatch)
		if n == 0 || (b.running > minBatches && n < busyQueue) {
			b.running--
			b.mu.Unlock()
			return
		}
		w.calls = append(w.calls[:0], b.queue[:n]...)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		b.run(&w)
	}
}

// batchBuffers are a worker's statement arguments, reused from batch to batch.
type batchBuffers struct {
	calls   []*introspectCall
	clients []string
	secrets [][]byte
	tokens  [][]byte
	origins []string
	nows    []time.Time
}

// run runs one batch and delivers every call's result.
func (b *introspectBatcher) run(w *batchBuffers) {
	w.clients, w.secrets, w.tokens = w.clients[:0], w.secrets[:0], w.tokens[:0]
	w.origins, w.nows = w.origins[:0], w.nows[:0]
	// The hashes are slices of the calls' arrays: their requests wait until run returns.
	for _, c := range w.calls {
		w.clients = append(w.clients, c.q.ClientID)
		if c.q.HasSecret {
			w.secrets = append(w.secrets, c.q.SecretHash[:])
		} else {
			w.secrets = append(w.secrets, nil)
		}
		w.tokens = append(w.tokens, c.q.TokenHash[:])
		w.origins = append(w.origins, c.q.Origin)
		w.nows = append(w.nows, c.q.Now)
	}
	err := b.query(w)
	for i, c := range w.calls {
		if err != nil {
			c.err = err
		}
		c.done <- struct{}{}
		w.calls[i] = nil
	}
}

func (b *introspectBatcher) query(w *batchBuffers) (err error) {
	defer func() {
		// The batch's requests get an error, not a server without its worker.
		if r := recover(); r != nil {
			err = fmt.Errorf("introspect: panic: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), introspectTimeout)
	defer cancel()
	rows, err := b.pool.Query(ctx, b.sql, w.clients, w.secrets, w.tokens, w.origins, w.nows)
	if err != nil {
		return translate("introspect", err)
	}
	defer rows.Close()
	var (
		i                         int64
		cl                        IntrospectCaller
		tenant, id, user, session pgtype.UUID
		client, name, scope       pgtype.Text
		issued, expires, authTime pgtype.Timestamptz
		amr                       []string
	)
	dest := []any{&i, &tenant, &cl.Tenant, &cl.Authenticated, &cl.Introspect, &cl.OriginAllowed,
		&id, &client, &user, &session, &name, &scope, &issued, &expires, &amr, &authTime}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return translate("introspect", err)
		}
		if i < 1 || int(i) > len(w.calls) {
			return fmt.Errorf("introspect: row for request %d of %d", i, len(w.calls))
		}
		cl.Found, cl.TenantID = true, tenant.Bytes
		r := IntrospectResult{Caller: cl, Active: id.Valid}
		if id.Valid {
			// A NULL scans as the zero value: no user, no session, no username.
			r.Token = Introspection{ID: id.Bytes, ClientID: client.String, UserID: user.Bytes,
				SessionID: session.Bytes, Username: name.String, Scope: scope.String,
				IssuedAt: issued.Time, ExpiresAt: expires.Time, AMR: amr, AuthTime: authTime.Time}
		}
		w.calls[i-1].res = r
	}
	return translate("introspect", rows.Err())
}
