package service

// The internal tests' service: they reach unexported fields and hooks.

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/tokens"
)

// env is a service over a fresh database with a settable clock, tenant "a", an app
// client allowed password and refresh_token, and alice.
type env struct {
	t     *testing.T
	svc   *Service
	pool  *pgxpool.Pool
	app   db.ClientAuth
	clock *testkit.Clock
}

func newEnv(t *testing.T, configure func(*Config), opts ...Option) *env {
	t.Helper()
	e := &env{t: t, pool: dbtest.New(t), clock: testkit.NewClock(testkit.Start)}
	cfg := DefaultConfig()
	cfg.Hash = testkit.FastHash
	if configure != nil {
		configure(&cfg)
	}
	svc, err := New(db.New(e.pool), cfg, append([]Option{WithClock(e.clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	ctx := context.Background()
	if _, err := svc.CreateTenant(ctx, testkit.Actor, "a", "A"); err != nil {
		t.Fatal(err)
	}
	c, secret, err := svc.CreateClient(ctx, testkit.Actor, "a", ClientSpec{Name: "app",
		GrantTypes: []string{GrantPassword, GrantRefreshToken}, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.app, err = svc.AuthenticateClient(ctx, Credentials{ClientID: c.ID, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, testkit.Actor, "a", "alice", testkit.AlicePassword, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) login() TokenResponse {
	e.t.Helper()
	r, err := e.svc.PasswordGrant(context.Background(), e.app, PasswordLogin{Username: "alice", Password: testkit.AlicePassword, Actor: testkit.Actor})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) refresh(rt string) (TokenResponse, error) {
	return e.svc.RefreshGrant(context.Background(), e.app, rt, "", testkit.Actor)
}

func (e *env) mustSweep() SweepStats {
	e.t.Helper()
	st, err := e.svc.Sweep(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// stored returns the token's row, or nil when there is none.
func (e *env) stored(tok string) *db.Token {
	e.t.Helper()
	h := tokens.HashOf(tok)
	got, err := e.svc.store.TokenByHash(context.Background(), e.app.Tenant.ID, h[:])
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return &got
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}
