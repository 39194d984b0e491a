package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/tokens"
)

// cred is a client's credentials with its HTTP Basic header ready (RFC 6749 §2.3.1).
type cred struct {
	ID, Secret string
	Basic      string
}

func newCred(id, secret string) cred {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return cred{ID: id, Secret: secret, Basic: "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))}
}

// login is a user who can log in with the password grant.
type login struct{ Username, Password string }

// world is what the seeding created and the scenarios use.
type world struct {
	tenant        string // the main tenant's slug
	tenantID      uuid.UUID
	app, rs, svc  cred // password+refresh app, resource server, client_credentials service
	logins        []login
	live          tokenGen // tokens of the main tenant and, in --full, of the other tenants
	mainTokens    int64    // live tokens [0, mainTokens) belong to the main tenant
	revokeFrom    int64    // [revokeFrom, mainTokens) are kept for the revoke scenario
	extra         []cred   // per other tenant, its resource server (also the tokens' client)
	extraTokens   int64    // live tokens [mainTokens, mainTokens+extraTokens) in other tenants
	extraReady    bool     // the other tenants' tokens are seeded
	bulkUserCount int64
}

type createdClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// createClient creates a client of tenant through the CLI.
func (b *bench) createClient(ctx context.Context, tenant, name string, flags ...string) (cred, error) {
	var c createdClient
	args := append([]string{"client", "create", "--tenant", tenant, "--name", name}, flags...)
	if err := b.cliJSON(ctx, nil, "", &c, args...); err != nil {
		return cred{}, err
	}
	return newCred(c.ClientID, c.ClientSecret), nil
}

// seedIdentities creates the main tenant, its clients and a login user through the CLI,
// as an operator would, and more login users beside it.
func (b *bench) seedIdentities(ctx context.Context) error {
	w := &b.w
	w.tenant = "bench"
	w.live = tokenGen{seed: b.cfg.seed, stream: "live"}
	if _, err := b.cli(ctx, nil, "", "tenant", "create", w.tenant, "--json"); err != nil {
		return err
	}
	var err error
	if w.app, err = b.createClient(ctx, w.tenant, "app", "--grant", "password", "--grant", "refresh_token",
		"--scope", "read write"); err != nil {
		return err
	}
	if w.rs, err = b.createClient(ctx, w.tenant, "api", "--introspect"); err != nil {
		return err
	}
	if w.svc, err = b.createClient(ctx, w.tenant, "batch", "--grant", "client_credentials", "--scope", "read write"); err != nil {
		return err
	}
	// One user through the CLI (hashed by jeton with its shipped parameters); the other
	// login users share its hash, so each worker logs in as a user of its own, as
	// different people do (concurrent attempts of one username from one address count
	// against its back-off until they settle).
	pw := "bench login password " + b.cfg.seed
	if _, err := b.cli(ctx, nil, pw+"\n", "user", "create", "--tenant", w.tenant, "--username", "login-cli",
		"--password-stdin", "--json"); err != nil {
		return err
	}
	if err := b.pool.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = $1`, w.tenant).Scan(&w.tenantID); err != nil {
		return err
	}
	n := int64(max(b.cfg.concurrency, 64))
	if _, err := b.seedBulkUsers(ctx, w.tenantID, "login", n, "login-cli"); err != nil {
		return err
	}
	for i := range n {
		w.logins = append(w.logins, login{Username: fmt.Sprintf("login-%07d", i), Password: pw})
	}
	return nil
}

// seedBulkUsers inserts n users named prefix-NNNNNNN into the tenant, all with the PHC
// string of an existing user (they never log in: they own seeded sessions), and returns
// their ids in name order.
func (b *bench) seedBulkUsers(ctx context.Context, tenant uuid.UUID, prefix string, n int64, hashOf string) ([]uuid.UUID, error) {
	now := time.Now()
	_, err := b.pool.Exec(ctx, `INSERT INTO users (tenant_id, id, username, password_hash, created_at, updated_at)
		SELECT $1, gen_random_uuid(), $2 || lpad(g::text, 7, '0'), u.password_hash, $4, $4
		FROM generate_series(0, $3 - 1) g, (SELECT password_hash FROM users WHERE username = $5 LIMIT 1) u`,
		tenant, prefix+"-", n, now, hashOf)
	if err != nil {
		return nil, fmt.Errorf("seed users: %w", err)
	}
	rows, err := b.pool.Query(ctx, `SELECT id FROM users WHERE tenant_id = $1 AND starts_with(username, $2) ORDER BY username`,
		tenant, prefix+"-")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// tokenBatch describes live tokens [from, to) of one client, each in its own session of
// one of users (round robin), live until expires.
type tokenBatch struct {
	tenant      uuid.UUID
	client      string
	users       []uuid.UUID
	tenantOf    func(i int64) (uuid.UUID, string, uuid.UUID) // overrides tenant, client, user per token
	from, to    int64
	issued, exp time.Time
}

// seedLiveTokens writes the batch's sessions and access tokens with COPY: rows as jeton's
// password grant writes them, under the current epochs (1, as nothing was revoked yet).
// Only SHA-256 of each token string is stored, as jeton does. Sessions and two halves of
// the tokens are copied at once on three connections.
func (b *bench) seedLiveTokens(ctx context.Context, tb tokenBatch) error {
	who := func(i int64) (uuid.UUID, string, uuid.UUID) {
		if tb.tenantOf != nil {
			return tb.tenantOf(i)
		}
		return tb.tenant, tb.client, tb.users[i%int64(len(tb.users))]
	}
	g := b.w.live
	sessions := func(i int64) []any {
		t, c, u := who(i)
		return []any{t, g.id(uint64(i)), c, u, "read write", tb.issued, tb.issued.Add(90 * 24 * time.Hour)}
	}
	toks := func(i int64) []any {
		t, c, u := who(i)
		tok := g.token(tokens.Access, uint64(i))
		return []any{hashOf(tok), g.id(uint64(i) | 1<<62), byte('a'), t, c, u, g.id(uint64(i)), "read write",
			tb.issued, tb.exp, int64(1), int64(1), int64(1)}
	}
	sessionCols := []string{"tenant_id", "id", "client_id", "user_id", "scope", "created_at", "expires_at"}
	tokenCols := []string{"hash", "id", "kind", "tenant_id", "client_id", "user_id", "session_id", "scope", "issued_at",
		"expires_at", "tenant_epoch", "client_epoch", "user_epoch"}
	mid := tb.from + (tb.to-tb.from)/2
	parts := []struct {
		table    string
		cols     []string
		from, to int64
		row      func(int64) []any
	}{
		{"sessions", sessionCols, tb.from, tb.to, sessions},
		{"tokens", tokenCols, tb.from, mid, toks},
		{"tokens", tokenCols, mid, tb.to, toks},
	}
	errs := make(chan error, len(parts))
	for _, p := range parts {
		go func() { errs <- b.copyRows(ctx, p.table, p.cols, rangeSource(p.from, p.to, p.row)) }()
	}
	var first error
	for range parts {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// copyRows COPYs src into table on a connection of its own. The rows satisfy the foreign
// keys by construction, and they are written in parallel (sessions beside their tokens),
// so the per-row foreign-key triggers are off for this connection: a superuser setting,
// so --pg-url must name a superuser.
func (b *bench) copyRows(ctx context.Context, table string, cols []string, src pgx.CopyFromSource) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		return fmt.Errorf("seeding needs a superuser (SET session_replication_role): %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET session_replication_role`)
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
		return fmt.Errorf("seed %s: %w", table, err)
	}
	return nil
}

// seedExpiredTokens writes n access tokens of a client_credentials client (no user, no
// session) whose expiry times are spread over the day before the last hour, as a day of
// issuance leaves them, for the sweeper to delete.
func (b *bench) seedExpiredTokens(ctx context.Context, tenant uuid.UUID, client string, round int, n int64) error {
	g := tokenGen{seed: b.cfg.seed, stream: fmt.Sprintf("expired-%d", round)}
	last := time.Now().Add(-time.Hour)
	step := 23 * time.Hour / time.Duration(n)
	row := func(i int64) []any {
		m := g.material(uint64(i))
		exp := last.Add(-time.Duration(i) * step).Truncate(time.Microsecond)
		return []any{m[:], g.id(uint64(i)), byte('a'), tenant, client, "read", exp.Add(-15 * time.Minute), exp, int64(1), int64(1)}
	}
	cols := []string{"hash", "id", "kind", "tenant_id", "client_id", "scope", "issued_at", "expires_at",
		"tenant_epoch", "client_epoch"}
	// Two halves at once on two connections.
	errs := make(chan error, 2)
	for _, r := range [][2]int64{{0, n / 2}, {n / 2, n}} {
		go func() { errs <- b.copyRows(ctx, "tokens", cols, rangeSource(r[0], r[1], row)) }()
	}
	return errors.Join(<-errs, <-errs)
}

// rangeSource is a pgx.CopyFromSource of row(i) for i in [from, to).
func rangeSource(from, to int64, row func(int64) []any) pgx.CopyFromSource {
	return &rangeSrc{next: from, to: to, row: row}
}

type rangeSrc struct {
	next, to int64
	cur      []any
	row      func(int64) []any
}

func (r *rangeSrc) Next() bool {
	if r.next >= r.to {
		return false
	}
	r.cur = r.row(r.next)
	r.next++
	return true
}

func (r *rangeSrc) Values() ([]any, error) { return r.cur, nil }
func (r *rangeSrc) Err() error             { return nil }
