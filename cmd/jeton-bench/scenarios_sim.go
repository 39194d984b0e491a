package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/tokens"
)

// sessions simulates 90 days of one session refreshing every 15 minutes and counts the
// rows it leaves. jeton has no clock flag, so the bench drives jeton's own service layer
// in-process with an injected clock (as its tests do), in a database of its own (the
// sweeper deletes across tenants), running a sweeper pass every simulated hour.
func (b *bench) sessions(ctx context.Context) error {
	name := b.dbName + "_sessions"
	if err := createDatabase(ctx, b.server, name); err != nil {
		return err
	}
	defer dropDatabase(b.server, name)
	c, userID, err := b.simIdentities(ctx, name)
	if err != nil {
		return err
	}
	// Commits need not wait for the disk here: this counts rows, it times nothing.
	simURL, _ := withDatabase(b.server, name, "synchronous_commit", "off", "application_name", "jeton-bench-sim")
	pool, err := pgxpool.New(ctx, simURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	clock := &simClock{t: time.Now().UTC().Truncate(time.Second).Add(time.Minute)}
	cfg := service.DefaultConfig()
	svc, err := service.New(db.New(pool), cfg, service.WithClock(clock.now))
	if err != nil {
		return err
	}
	ca, err := svc.AuthenticateClient(ctx, service.Credentials{ClientID: c.ClientID, Secret: c.ClientSecret})
	if err != nil {
		return err
	}
	sid, rt, err := b.simLogin(ctx, pool, cfg, ca.Tenant.ID, c.ClientID, userID, clock.now())
	if err != nil {
		return err
	}
	t0 := time.Now()
	steps := int(cfg.RefreshMaxTTL/(15*time.Minute)) - 1 // the last refresh before the session's end
	actor := db.Actor{Type: "client", ID: c.ClientID, Name: "app", IP: "127.0.0.1"}
	for k := 1; k <= steps; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		clock.t = clock.t.Add(15 * time.Minute)
		resp, err := svc.RefreshGrant(ctx, ca, rt, "", actor)
		if err != nil {
			return fmt.Errorf("refresh %d (day %.1f): %w", k, float64(k)/96, err)
		}
		rt = resp.RefreshToken
		if k%4 == 0 {
			if _, err := svc.Sweep(ctx); err != nil {
				return err
			}
		}
	}
	if _, err := svc.Sweep(ctx); err != nil {
		return err
	}
	if err := b.simCount(ctx, pool, cfg, ca.Tenant.ID, sid); err != nil {
		return err
	}
	b.simNotes = append(b.simNotes, fmt.Sprintf("%d refreshes through jeton's service layer with an injected clock, "+
		"15 simulated minutes apart (%.1f days), a sweeper pass every simulated hour, in %v of real time.",
		steps, float64(steps)/96, time.Since(t0).Round(time.Second)))
	return nil
}

// simClock is the simulation's clock, which jeton's service layer reads and the
// simulation moves forward.
type simClock struct{ t time.Time }

func (c *simClock) now() time.Time { return c.t }

// simIdentities migrates the simulation's database and creates its tenant, its app
// client and its user through the CLI, as an operator would.
func (b *bench) simIdentities(ctx context.Context, dbName string) (createdClient, uuid.UUID, error) {
	url, err := withDatabase(b.server, dbName)
	if err != nil {
		return createdClient{}, uuid.UUID{}, err
	}
	env := []string{"JETON_DATABASE_URL=" + url}
	if _, err := b.cliEnv(ctx, env, "", "migrate", "up"); err != nil {
		return createdClient{}, uuid.UUID{}, err
	}
	if _, err := b.cliEnv(ctx, env, "", "tenant", "create", "sim", "--json"); err != nil {
		return createdClient{}, uuid.UUID{}, err
	}
	var c createdClient
	if err := b.cliJSONEnv(ctx, env, "", &c, "client", "create", "--tenant", "sim", "--name", "app",
		"--grant", "password", "--grant", "refresh_token", "--scope", "read write"); err != nil {
		return createdClient{}, uuid.UUID{}, err
	}
	var u userJSON
	if err := b.cliJSONEnv(ctx, env, "simulated user password\n", &u, "user", "create", "--tenant", "sim",
		"--username", "alice", "--password-stdin"); err != nil {
		return createdClient{}, uuid.UUID{}, err
	}
	userID, err := uuid.Parse(u.ID)
	if err != nil {
		return createdClient{}, uuid.UUID{}, err
	}
	return c, userID, nil
}

// simLogin writes the login the simulation starts from, as the password grant writes it:
// a session with its access and refresh token. It returns the session and the refresh
// token.
func (b *bench) simLogin(ctx context.Context, pool *pgxpool.Pool, cfg service.Config, tenant uuid.UUID, client string,
	user uuid.UUID, now time.Time) (uuid.UUID, string, error) {
	g := tokenGen{seed: b.cfg.seed, stream: "sim"}
	sid := uuid.New()
	rt := g.token(tokens.Refresh, 0)
	if _, err := pool.Exec(ctx, `INSERT INTO sessions (tenant_id, id, client_id, user_id, scope, created_at, expires_at)
		VALUES ($1, $2, $3, $4, 'read write', $5, $6)`, tenant, sid, client, user, now, now.Add(cfg.RefreshMaxTTL)); err != nil {
		return uuid.UUID{}, "", err
	}
	for _, t := range []struct {
		kind byte
		tok  string
		exp  time.Time
	}{{'a', g.token(tokens.Access, 0), now.Add(cfg.AccessTTL)}, {'r', rt, now.Add(cfg.RefreshIdleTTL)}} {
		if _, err := pool.Exec(ctx, `INSERT INTO tokens (hash, id, kind, tenant_id, client_id, user_id, session_id, scope,
			issued_at, expires_at, tenant_epoch, client_epoch, user_epoch)
			SELECT $1, $2, $3, $4, $5, $6, $7, 'read write', $8, $9, tn.epoch, c.epoch, u.epoch
			FROM tenants tn, clients c, users u WHERE tn.id = $4 AND c.id = $5 AND u.id = $6`,
			hashOf(t.tok), uuid.New(), t.kind, tenant, client, user, sid, now, t.exp); err != nil {
			return uuid.UUID{}, "", err
		}
	}
	return sid, rt, nil
}

// simCount counts the rows the simulated session left and reports them as a target.
func (b *bench) simCount(ctx context.Context, pool *pgxpool.Pool, cfg service.Config, tenant, sid uuid.UUID) error {
	var access, refreshLive, refreshUsed, sessions, events int64
	if err := pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE kind = 'a'),
			count(*) FILTER (WHERE kind = 'r' AND used_at IS NULL),
			count(*) FILTER (WHERE kind = 'r' AND used_at IS NOT NULL)
		FROM tokens WHERE session_id = $1`, sid).Scan(&access, &refreshLive, &refreshUsed); err != nil {
		return err
	}
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE id = $1`, sid).Scan(&sessions)
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE tenant_id = $1 AND kind = 'token_refreshed'`, tenant).Scan(&events)
	total := access + refreshLive + refreshUsed + sessions
	b.addTarget("stored rows per session after 90 days of refreshes every 15 min",
		fmt.Sprintf("%d rows (%d access, %d live + %d used refresh tokens, %d session) plus %d token_refreshed events kept for the %v event retention",
			total, access, refreshLive, refreshUsed, sessions, events, cfg.EventRetention),
		"report only", "report only")
	return nil
}

type userJSON struct {
	ID string `json:"id"`
}
