package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
)

// login returns a password-grant login of u, counted on c, at at, by a new client.
func (f fixture) login(c db.LoginCounters, u db.User, at time.Time) db.Login {
	f.t.Helper()
	client, _ := f.mustClientUser(c.TenantID)
	return db.Login{TenantID: c.TenantID, ClientID: client, UserID: u.ID, SessionID: uuid.New(), Now: at,
		SessionExpiresAt: at.Add(time.Hour), Epochs: db.Epochs{Tenant: 1, Client: 1, User: &u.Epoch},
		Access: db.NewToken{Hash: randomHash(f.t), ID: uuid.New(), ExpiresAt: at.Add(time.Minute)},
		Event:  ev("login_success"), Counters: c}
}

// mustSucceed records a successful login of u counted on c at at.
func (f fixture) mustSucceed(c db.LoginCounters, u db.User, at time.Time) {
	f.t.Helper()
	if err := f.store.IssueLogin(context.Background(), f.login(c, u, at)); err != nil {
		f.t.Fatal(err)
	}
}

// A reservation reads the user it counts on; a login that turns out stale (the user's
// epoch moved since it was read) settles nothing, a written one settles its counters.
func TestIssueLoginSettlesItsReservation(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	u := f.mustUser(a)
	c := db.LoginCounters{TenantID: a, Username: u.Username, IP: "198.51.100.7"}
	r := f.mustReserve(c, t0)
	if r.Refused || r.User == nil || r.User.ID != u.ID || r.User.PasswordHash != u.PasswordHash {
		t.Fatalf("reservation: %+v, want user %s", r, u.ID)
	}
	nobody := c
	nobody.Username = "nobody"
	if r := f.mustReserve(nobody, t0); r.User != nil {
		t.Errorf("reservation for an unknown username read %+v", r.User)
	}
	counts := func() [3]int {
		return [3]int{f.failures(&a, "p", u.Username, c.IP), f.failures(&a, "u", u.Username, ""),
			f.failures(nil, "i", "", c.IP)}
	}
	known := func() int {
		return f.count(`SELECT count(*) FROM known_ips WHERE tenant_id = $1 AND user_id = $2`, a, u.ID)
	}
	stale := f.login(c, u, t0)
	moved := u.Epoch + 1
	stale.Epochs.User = &moved
	if err := f.store.IssueLogin(context.Background(), stale); !errors.Is(err, db.ErrStale) {
		t.Fatalf("stale login: %v, want ErrStale", err)
	}
	if got, want := counts(), [3]int{1, 1, 2}; got != want || known() != 0 {
		t.Errorf("after a stale login: counters %v, %d known addresses; want %v and none", got, known(), want)
	}
	f.mustSucceed(c, u, t0)
	if got, want := counts(), [3]int{-1, 0, 1}; got != want || known() != 1 {
		t.Errorf("after a login: counters %v, %d known addresses; want %v and one", got, known(), want)
	}
}

// A login whose settling fails (here a lock timeout on a counter another transaction
// holds) is not issued either: the session, its tokens and its event roll back with it.
func TestIssueLoginNotIssuedUnsettled(t *testing.T) {
	pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) { c.ConnConfig.RuntimeParams["lock_timeout"] = "200ms" })
	f := fixture{t: t, pool: pool, store: db.New(pool)}
	a := f.mustTenant("a").ID
	u := f.mustUser(a)
	c := db.LoginCounters{TenantID: a, Username: u.Username, IP: "198.51.100.7"}
	f.mustReserve(c, t0)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM login_throttles WHERE kind = 'p' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	l := f.login(c, u, t0)
	events := f.count(`SELECT count(*) FROM events WHERE kind = 'login_success'`)
	var pg *pgconn.PgError
	if err := f.store.IssueLogin(ctx, l); !errors.As(err, &pg) || pg.Code != "55P03" {
		t.Fatalf("login while its counter is held: %v, want lock_timeout", err)
	}
	if n := f.count(`SELECT count(*) FROM sessions WHERE id = $1`, l.SessionID); n != 0 {
		t.Errorf("%d sessions written by a login that was not settled, want none", n)
	}
	if n := f.count(`SELECT count(*) FROM tokens WHERE hash = $1`, l.Access.Hash); n != 0 {
		t.Errorf("%d access tokens written by a login that was not settled, want none", n)
	}
	if n := f.count(`SELECT count(*) FROM events WHERE kind = 'login_success'`); n != events {
		t.Errorf("%d login_success events after a login that was not settled, want %d", n, events)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.failures(&a, "u", u.Username, ""); got != 1 {
		t.Errorf("username counter after a login that was not settled: %d, want its unit still reserved (1)", got)
	}
	// Counters of another tenant are refused before anything is sent.
	other := c
	other.TenantID = f.mustTenant("b").ID
	l.Counters = other
	if err := f.store.IssueLogin(ctx, l); err == nil || f.count(`SELECT count(*) FROM sessions WHERE id = $1`, l.SessionID) != 0 {
		t.Errorf("login with another tenant's counters: %v, want refused and nothing written", err)
	}
}
