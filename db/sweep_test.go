package db_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is a store over a fresh database, with the pool for checks the store has no
// method for.
type fixture struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *db.Store
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	pool := dbtest.New(t)
	return fixture{t: t, pool: pool, store: db.New(pool)}
}

func ev(kind string) db.Event {
	return db.Event{At: t0, Kind: kind, Actor: db.Actor{Type: "system", ID: "test", Name: "test"}}
}

func randomHash(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (f fixture) mustTenant(slug string) db.Tenant {
	f.t.Helper()
	tn, err := f.store.CreateTenant(context.Background(), slug, slug, ev("tenant_created"))
	if err != nil {
		f.t.Fatal(err)
	}
	return tn
}

// mustClientUser creates a confidential client (with one secret), a user and an admin key
// in the tenant.
func (f fixture) mustClientUser(tenant uuid.UUID) (string, db.User) {
	f.t.Helper()
	ctx := context.Background()
	c, err := f.store.CreateClient(ctx, db.Client{TenantID: tenant, ID: "jc_" + uuid.NewString()[:8], Name: "app",
		GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{}}, randomHash(f.t), ev("client_created"))
	if err != nil {
		f.t.Fatal(err)
	}
	u, err := f.store.CreateUser(ctx, db.User{TenantID: tenant, Username: "u" + uuid.NewString()[:8],
		PasswordHash: "unused"}, ev("user_created"))
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `INSERT INTO admin_keys (id, hash, tenant_id, name, created_at)
		VALUES ($1, $2, $3, 'key', $4)`, uuid.New(), randomHash(f.t), tenant, t0); err != nil {
		f.t.Fatal(err)
	}
	return c.ID, u
}

// login is what mustLogin recorded.
type login struct {
	Session         uuid.UUID
	Access, Refresh []byte
}

// mustLogin records a login at at whose session and tokens expire at the given times.
func (f fixture) mustLogin(tenant uuid.UUID, clientID string, u db.User, at, sessionExp, accessExp, refreshExp time.Time) login {
	f.t.Helper()
	l := db.Login{TenantID: tenant, ClientID: clientID, UserID: u.ID, SessionID: uuid.New(), Scope: "",
		Now: at, SessionExpiresAt: sessionExp, Epochs: db.Epochs{Tenant: 1, Client: 1, User: &u.Epoch},
		Access:  db.NewToken{Hash: randomHash(f.t), ID: uuid.New(), ExpiresAt: accessExp},
		Refresh: &db.NewToken{Hash: randomHash(f.t), ID: uuid.New(), ExpiresAt: refreshExp},
		Event:   ev("login_success"), Counters: db.LoginCounters{TenantID: tenant, Username: u.Username, IP: "192.0.2.1"}}
	if err := f.store.IssueLogin(context.Background(), l); err != nil {
		f.t.Fatal(err)
	}
	return login{Session: l.SessionID, Access: l.Access.Hash, Refresh: l.Refresh.Hash}
}

// count runs a count(*) query.
func (f fixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// batches calls sweep until it deletes fewer than n rows and returns each call's count.
func batches(t *testing.T, n int, sweep func(n int) (int64, error)) []int64 {
	t.Helper()
	var got []int64
	for {
		k, err := sweep(n)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, k)
		if k < int64(n) {
			return got
		}
	}
}

func (f fixture) tokenExists(tenant uuid.UUID, hash []byte) bool {
	f.t.Helper()
	_, err := f.store.TokenByHash(context.Background(), tenant, hash)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		f.t.Fatal(err)
	}
	return err == nil
}

func TestSweepExpiredTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.mustTenant("a")
	cid, u := f.mustClientUser(tn.ID)
	day := 24 * time.Hour
	one := f.mustLogin(tn.ID, cid, u, t0, t0.Add(90*day), t0.Add(15*time.Minute), t0.Add(14*day))
	two := f.mustLogin(tn.ID, cid, u, t0, t0.Add(90*day), t0.Add(15*time.Minute), t0.Add(14*day))

	// Rotate one's refresh token an hour later: it is used up but not expired.
	old, err := f.store.TokenByHash(ctx, tn.ID, one.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	rot := db.Rotation{TenantID: tn.ID, Old: old, Now: t0.Add(time.Hour),
		Access:  db.NewToken{Hash: randomHash(t), ID: uuid.New(), ExpiresAt: t0.Add(time.Hour + 15*time.Minute)},
		Refresh: db.NewToken{Hash: randomHash(t), ID: uuid.New(), ExpiresAt: t0.Add(time.Hour + 14*day)},
		Event:   ev("token_refreshed")}
	if err := f.store.Rotate(ctx, rot); err != nil {
		t.Fatal(err)
	}

	// A day later the three access tokens are expired: batches of two take 2, then 1.
	got := batches(t, 2, func(n int) (int64, error) { return f.store.SweepExpiredTokens(ctx, t0.Add(day), n) })
	if diff := cmp.Diff([]int64{2, 1}, got); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		name string
		hash []byte
		want bool
	}{
		{"first access token", one.Access, false},
		{"second access token", two.Access, false},
		{"rotated access token", rot.Access.Hash, false},
		{"used refresh token, not expired", one.Refresh, true},
		{"new refresh token", rot.Refresh.Hash, true},
		{"unused refresh token", two.Refresh, true},
	} {
		if got := f.tokenExists(tn.ID, c.hash); got != c.want {
			t.Errorf("after a day, %s exists = %v, want %v", c.name, got, c.want)
		}
	}
	if kept, err := f.store.TokenByHash(ctx, tn.ID, one.Refresh); err != nil || kept.UsedAt == nil {
		t.Errorf("used refresh token: %+v, %v; want it kept with used_at", kept, err)
	}

	// Past fourteen days the refresh tokens issued at t0 go, the rotated one stays.
	got = batches(t, 2, func(n int) (int64, error) {
		return f.store.SweepExpiredTokens(ctx, t0.Add(14*day+time.Second), n)
	})
	if diff := cmp.Diff([]int64{2, 0}, got); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	if f.tokenExists(tn.ID, one.Refresh) || f.tokenExists(tn.ID, two.Refresh) || !f.tokenExists(tn.ID, rot.Refresh.Hash) {
		t.Error("after 14 days: want the t0 refresh tokens gone and the rotated one kept")
	}
}

func TestSweepSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.mustTenant("a")
	cid, u := f.mustClientUser(tn.ID)
	day := 24 * time.Hour
	live := f.mustLogin(tn.ID, cid, u, t0, t0.Add(90*day), t0.Add(15*time.Minute), t0.Add(14*day))
	ended := f.mustLogin(tn.ID, cid, u, t0, t0.Add(time.Hour), t0.Add(15*time.Minute), t0.Add(time.Hour))
	revoked := f.mustLogin(tn.ID, cid, u, t0, t0.Add(90*day), t0.Add(15*time.Minute), t0.Add(14*day))
	if ok, err := f.store.RevokeSession(ctx, tn.ID, revoked.Session, ev("session_revoked")); err != nil || !ok {
		t.Fatalf("revoke session: %v %v", ok, err)
	}
	exists := func(id uuid.UUID) bool {
		return f.count(`SELECT count(*) FROM sessions WHERE id = $1`, id) == 1
	}
	// sweep runs what a sweep pass runs, in its order, at now.
	sweep := func(now time.Time) {
		t.Helper()
		for _, step := range []func(int) (int64, error){
			func(n int) (int64, error) { return f.store.SweepExpiredTokens(ctx, now, n) },
			func(n int) (int64, error) { return f.store.SweepExpiredSessions(ctx, now, n) },
			func(n int) (int64, error) { return f.store.SweepRevokedSessions(ctx, n) },
		} {
			batches(t, 1, step)
		}
	}

	sweep(t0.Add(2 * time.Hour))
	if !exists(live.Session) || exists(ended.Session) || !exists(revoked.Session) {
		t.Errorf("after 2h: live %v, ended %v, revoked %v; want true, false, true (its refresh token is still there)",
			exists(live.Session), exists(ended.Session), exists(revoked.Session))
	}
	sweep(t0.Add(15 * day))
	if !exists(live.Session) || exists(revoked.Session) {
		t.Errorf("after 15 days: live %v, revoked %v; want true, false", exists(live.Session), exists(revoked.Session))
	}
	sweep(t0.Add(91 * day))
	if exists(live.Session) {
		t.Error("after 91 days the session past its lifetime still exists")
	}
	if n := f.count(`SELECT count(*) FROM tokens`); n != 0 {
		t.Errorf("%d tokens left", n)
	}
}

func TestSweepEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	short := f.mustTenant("short")
	dflt := f.mustTenant("default")
	day := 24 * time.Hour
	retention := day
	if _, err := f.store.UpdateTenant(ctx, short.ID, func(cur db.Tenant) (db.Tenant, db.Event, error) {
		cur.EventRetention = &retention
		return cur, ev("tenant_updated"), nil
	}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(365 * day)
	unknown := uuid.New()
	type event struct {
		name   string
		tenant *uuid.UUID
		age    time.Duration
	}
	events := []event{
		{"short 2d", &short.ID, 2 * day},
		{"short 12h", &short.ID, 12 * time.Hour},
		{"default 2d", &dflt.ID, 2 * day},
		{"default 89d", &dflt.ID, 89 * day},
		{"default 91d", &dflt.ID, 91 * day},
		{"global 89d", nil, 89 * day},
		{"global 91d", nil, 91 * day},
		{"unknown tenant 91d", &unknown, 91 * day},
	}
	for _, e := range events {
		x := ev("test")
		x.TenantID, x.At, x.SubjectName = e.tenant, now.Add(-e.age), e.name
		if err := f.store.RecordEvent(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	left := func() []string {
		t.Helper()
		rows, err := f.pool.Query(ctx, `SELECT subject_name FROM events WHERE kind = 'test' ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}

	// Without a default only the tenant override applies.
	batches(t, 2, func(n int) (int64, error) { return f.store.SweepEvents(ctx, now, 0, n) })
	want := []string{"short 12h", "default 2d", "default 89d", "default 91d", "global 89d", "global 91d", "unknown tenant 91d"}
	if diff := cmp.Diff(want, left()); diff != "" {
		t.Errorf("kept with no default (-want +got):\n%s", diff)
	}
	batches(t, 2, func(n int) (int64, error) { return f.store.SweepEvents(ctx, now, 90*day, n) })
	want = []string{"short 12h", "default 2d", "default 89d", "global 89d"}
	if diff := cmp.Diff(want, left()); diff != "" {
		t.Errorf("kept with a 90-day default (-want +got):\n%s", diff)
	}
}

func TestPurgeDeletedTenants(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	day := 24 * time.Hour
	gone, kept := f.mustTenant("gone"), f.mustTenant("kept")
	for _, tn := range []db.Tenant{gone, kept} {
		cid, u := f.mustClientUser(tn.ID)
		f.mustLogin(tn.ID, cid, u, t0, t0.Add(90*day), t0.Add(15*time.Minute), t0.Add(14*day))
	}
	if err := f.store.DeleteTenant(ctx, gone.ID, ev("tenant_deleted")); err != nil {
		t.Fatal(err)
	}
	tables := []string{"tokens", "sessions", "client_secrets", "clients", "users", "admin_keys"}
	rows := func(tenant uuid.UUID) map[string]int {
		out := map[string]int{}
		for _, table := range tables {
			// The table names are the constants above, not input.
			out[table] = f.count(`SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, tenant)
		}
		return out
	}
	before := rows(kept.ID)

	// 2 tokens, a session, a secret, a client, a user and an admin key: 7 rows in batches of 3.
	got := batches(t, 3, func(n int) (int64, error) { return f.store.PurgeDeletedTenants(ctx, n) })
	if diff := cmp.Diff([]int64{3, 3, 1}, got); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	want := map[string]int{"tokens": 0, "sessions": 0, "client_secrets": 0, "clients": 0, "users": 0, "admin_keys": 0}
	if diff := cmp.Diff(want, rows(gone.ID)); diff != "" {
		t.Errorf("deleted tenant's rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, rows(kept.ID)); diff != "" {
		t.Errorf("live tenant's rows changed (-before +after):\n%s", diff)
	}
	if n := f.count(`SELECT count(*) FROM tenants WHERE id = $1 AND deleted_at IS NOT NULL`, gone.ID); n != 1 {
		t.Error("the tombstone is gone")
	}
	if n := f.count(`SELECT count(*) FROM events WHERE tenant_id = $1`, gone.ID); n == 0 {
		t.Error("the deleted tenant's events were purged with it")
	}
}

// TestWithXactLock: while one transaction holds the lock another caller does not run;
// the locked Store's sweeps run in that transaction (a failure undoes them); and the lock
// ends with the transaction, also when fn fails on a cancelled context, so no session is
// left holding it.
func TestWithXactLock(t *testing.T) {
	f := newFixture(t)
	const key = 42
	bg := context.Background()
	tn := f.mustTenant("a")
	cid, u := f.mustClientUser(tn.ID)
	l := f.mustLogin(tn.ID, cid, u, t0, t0.Add(time.Hour), t0.Add(time.Minute), t0.Add(time.Hour))
	// Held on key, in this database (the server is shared), by any session.
	advisoryLocks := func() int {
		return f.count(`SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			WHERE l.locktype = 'advisory' AND d.datname = current_database() AND l.classid = 0 AND l.objid = $1::int`, key)
	}

	ran, err := f.store.WithXactLock(bg, key, func(ctx context.Context, locked *db.Store) error {
		if n := advisoryLocks(); n != 1 {
			t.Errorf("%d advisory locks held inside fn, want 1", n)
		}
		again, err := f.store.WithXactLock(ctx, key, func(context.Context, *db.Store) error {
			t.Error("ran while the lock was held")
			return nil
		})
		if again || err != nil {
			t.Errorf("second taker: ran %v, err %v; want false, nil", again, err)
		}
		return nil
	})
	if !ran || err != nil {
		t.Fatalf("first taker: ran %v, err %v", ran, err)
	}
	if n := advisoryLocks(); n != 0 {
		t.Errorf("%d advisory locks held after the transaction, want none", n)
	}

	// fn's sweep ran in the transaction: its failure undoes the delete.
	failed := errors.New("failed after sweeping")
	ran, err = f.store.WithXactLock(bg, key, func(ctx context.Context, locked *db.Store) error {
		if n, err := locked.SweepExpiredTokens(ctx, t0.Add(2*time.Hour), 10); n != 2 || err != nil {
			t.Errorf("sweep in the transaction: %d, %v; want 2 tokens", n, err)
		}
		return failed
	})
	if !ran || !errors.Is(err, failed) {
		t.Fatalf("failing taker: ran %v, err %v", ran, err)
	}
	if !f.tokenExists(tn.ID, l.Access) || !f.tokenExists(tn.ID, l.Refresh) {
		t.Error("the failed transaction's sweep was kept")
	}

	// The lock ends with the transaction after fn fails, even when its context was cancelled.
	ctx, cancel := context.WithCancel(bg)
	ran, err = f.store.WithXactLock(ctx, key, func(ctx context.Context, _ *db.Store) error {
		cancel()
		return ctx.Err()
	})
	if !ran || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled taker: ran %v, err %v", ran, err)
	}
	if ran, err := f.store.WithXactLock(bg, key, func(context.Context, *db.Store) error { return nil }); !ran || err != nil {
		t.Errorf("after release: ran %v, err %v; want true, nil", ran, err)
	}
	if n := advisoryLocks(); n != 0 {
		t.Errorf("%d advisory locks held at the end, want none", n)
	}
}
