package db_test

import (
	"context"
	"encoding/hex"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
)

// newRevocations returns the tenant's log rows above after, failing the test on error.
func (f fixture) newRevocations(tenant uuid.UUID, after int64) []db.Revocation {
	f.t.Helper()
	p, err := f.store.TenantRevocations(context.Background(), tenant, after, math.MaxInt64, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return p.Rows
}

func (f fixture) head() int64 {
	f.t.Helper()
	h, err := f.store.RevocationHead(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

// discard keeps only the error of a call.
func discard[T any](_ T, err error) error { return err }

// TestRevocationsAppended: every kind of revocation appends exactly its row to the tenant's
// log, in the same transaction; a change that revokes nothing appends none.
func TestRevocationsAppended(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.mustTenant("a"), f.mustTenant("b")
	clientID, u := f.mustClientUser(a.ID)
	other, _ := f.mustClientUser(a.ID)
	l := f.mustLogin(a.ID, clientID, u, t0, t0.Add(time.Hour), t0.Add(time.Minute), t0.Add(time.Hour))
	bClient, _ := f.mustClientUser(b.ID)

	user := func(change func(*db.User)) func() error {
		return func() error {
			_, err := f.store.UpdateUser(ctx, a.ID, u.ID, func(cur db.User) (db.User, db.Event, error) {
				change(&cur)
				return cur, ev("user_updated"), nil
			})
			return err
		}
	}
	client := func(id string, change func(*db.Client)) func() error {
		return func() error {
			_, err := f.store.UpdateClient(ctx, a.ID, id, func(cur db.Client) (db.Client, db.Event, error) {
				change(&cur)
				return cur, ev("client_updated"), nil
			})
			return err
		}
	}
	tenant := func(change func(*db.Tenant)) func() error {
		return func() error {
			_, err := f.store.UpdateTenant(ctx, a.ID, func(cur db.Tenant) (db.Tenant, db.Event, error) {
				change(&cur)
				return cur, ev("tenant_updated"), nil
			})
			return err
		}
	}
	tok := func(h []byte) db.Revocation { return db.Revocation{Kind: "token", Subject: hex.EncodeToString(h)} }
	userRow := db.Revocation{Kind: "user", Subject: u.ID.String()}
	clientRow := db.Revocation{Kind: "client", Subject: clientID}
	tenantRow := db.Revocation{Kind: "tenant"}

	// In order: each step starts from the state the previous ones left.
	steps := []struct {
		name string
		do   func() error
		want []db.Revocation
	}{
		{"revoke access token", func() error { return discard(f.store.RevokeToken(ctx, a.ID, l.Access, ev("token_revoked"))) },
			[]db.Revocation{tok(l.Access)}},
		{"revoke it again", func() error { return discard(f.store.RevokeToken(ctx, a.ID, l.Access, ev("token_revoked"))) }, nil},
		{"revoke another tenant's token", func() error {
			return discard(f.store.RevokeToken(ctx, b.ID, l.Refresh, ev("token_revoked")))
		}, nil},
		{"revoke session", func() error { return discard(f.store.RevokeSession(ctx, a.ID, l.Session, ev("session_revoked"))) },
			[]db.Revocation{{Kind: "session", Subject: l.Session.String()}}},
		{"revoke session again", func() error {
			return discard(f.store.RevokeSession(ctx, a.ID, l.Session, ev("session_revoked")))
		}, nil},
		{"change user scopes", user(func(u *db.User) { u.Scopes = []string{"read"} }), nil},
		{"disable user", user(func(u *db.User) { u.Disabled = true }), []db.Revocation{userRow}},
		{"disable user again", user(func(u *db.User) { u.Disabled = true }), nil},
		{"enable user", user(func(u *db.User) { u.Disabled = false }), nil},
		{"set password", func() error { return discard(f.store.SetPassword(ctx, a.ID, u.ID, "new", ev("user_password_set"))) },
			[]db.Revocation{userRow}},
		{"revoke user tokens", func() error { return discard(f.store.BumpUserEpoch(ctx, a.ID, u.ID, ev("user_tokens_revoked"))) },
			[]db.Revocation{userRow}},
		{"rename client", client(clientID, func(c *db.Client) { c.Name = "renamed" }), nil},
		{"disable client", client(clientID, func(c *db.Client) { c.Disabled = true }), []db.Revocation{clientRow}},
		{"disable client again", client(clientID, func(c *db.Client) { c.Disabled = true }), nil},
		{"revoke client tokens", func() error {
			return discard(f.store.BumpClientEpoch(ctx, a.ID, clientID, ev("client_tokens_revoked")))
		}, []db.Revocation{clientRow}},
		{"rotate secret", func() error {
			return f.store.RotateSecret(ctx, a.ID, clientID, randomHash(t), t0, ev("client_secret_rotated"))
		}, nil},
		{"rename tenant", tenant(func(tn *db.Tenant) { tn.Name = "renamed" }), nil},
		{"disable tenant", tenant(func(tn *db.Tenant) { tn.Disabled = true }), []db.Revocation{tenantRow}},
		{"disable tenant again", tenant(func(tn *db.Tenant) { tn.Disabled = true }), nil},
		{"revoke tenant tokens", func() error { return discard(f.store.BumpTenantEpoch(ctx, a.ID, ev("tenant_tokens_revoked"))) },
			[]db.Revocation{tenantRow}},
		{"delete user", func() error { return f.store.DeleteUser(ctx, a.ID, u.ID, ev("user_deleted")) }, []db.Revocation{userRow}},
		{"delete client", func() error { return f.store.DeleteClient(ctx, a.ID, other, ev("client_deleted")) },
			[]db.Revocation{{Kind: "client", Subject: other}}},
		{"delete tenant", func() error { return f.store.DeleteTenant(ctx, a.ID, ev("tenant_deleted")) }, []db.Revocation{tenantRow}},
	}
	head := f.head()
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := f.newRevocations(a.ID, head)
		for i, r := range got {
			if r.TenantID != a.ID || !r.At.Equal(t0) || r.ID <= head {
				t.Errorf("%s: row %+v: want tenant %s, at %s, id above %d", s.name, r, a.ID, t0, head)
			}
			got[i].ID, got[i].TenantID, got[i].At = 0, uuid.Nil, time.Time{}
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: appended (-want +got):\n%s", s.name, diff)
		}
		head = f.head()
	}
	// Tenant b's log saw none of it, and revoking in b lands in b only.
	if got := f.newRevocations(b.ID, 0); len(got) != 0 {
		t.Fatalf("tenant b's log holds %+v", got)
	}
	if _, err := f.store.BumpClientEpoch(ctx, b.ID, bClient, ev("client_tokens_revoked")); err != nil {
		t.Fatal(err)
	}
	if got := f.newRevocations(b.ID, 0); len(got) != 1 || got[0].Subject != bClient {
		t.Fatalf("tenant b's log: %+v", got)
	}
	if got := f.newRevocations(a.ID, head); len(got) != 0 {
		t.Fatalf("tenant b's revocation reached a's log: %+v", got)
	}
}

// revokeIn runs an UPDATE that revokes a token in tx, as RevokeToken's does.
func revokeIn(t *testing.T, tx pgx.Tx, tenant uuid.UUID, hash []byte) {
	t.Helper()
	if _, err := tx.Exec(context.Background(), `UPDATE tokens SET revoked_at = $3 WHERE tenant_id = $1 AND hash = $2`,
		tenant, hash, t0); err != nil {
		t.Fatal(err)
	}
}

// TestRevocationIDsFollowCommitOrder: ids are handed out in commit order, so a reader that
// has seen id N has seen every id below it for good, and reading "everything above the last
// id seen" never skips a revocation that committed late.
func TestRevocationIDsFollowCommitOrder(t *testing.T) {
	ctx := context.Background()

	// A revocation that started first, and would take the lower id if ids came with its
	// row, commits last; a reader that saw the other one and reads again from there gets it.
	t.Run("first started commits last", func(t *testing.T) {
		f := newFixture(t)
		a := f.mustTenant("a")
		clientID, u := f.mustClientUser(a.ID)
		l1 := f.mustLogin(a.ID, clientID, u, t0, t0.Add(time.Hour), t0.Add(time.Minute), t0.Add(time.Hour))
		l2 := f.mustLogin(a.ID, clientID, u, t0, t0.Add(time.Hour), t0.Add(time.Minute), t0.Add(time.Hour))
		start := f.head()

		first, err := f.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Rollback(ctx)
		revokeIn(t, first, a.ID, l1.Access)

		if _, err := f.store.RevokeToken(ctx, a.ID, l2.Access, ev("token_revoked")); err != nil {
			t.Fatal(err)
		}
		seen := f.newRevocations(a.ID, start) // the reader, between the commits
		if len(seen) != 1 || seen[0].Subject != hex.EncodeToString(l2.Access) {
			t.Fatalf("between the commits the log holds %+v", seen)
		}

		if err := f.store.AppendRevocation(ctx, first, db.Revocation{TenantID: a.ID, Kind: "token",
			Subject: hex.EncodeToString(l1.Access), At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := first.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		again := f.newRevocations(a.ID, seen[0].ID) // reconnecting with the last id seen
		if len(again) != 1 || again[0].Subject != hex.EncodeToString(l1.Access) {
			t.Fatalf("after the last commit, reading above %d gives %+v", seen[0].ID, again)
		}
	})

	// A transaction that has its id holds the log until it commits: a later one cannot
	// take a higher id and commit first, so the lower id never commits last.
	t.Run("lower id never commits last", func(t *testing.T) {
		f := newFixture(t)
		a := f.mustTenant("a")
		start := f.head()
		first, err := f.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Rollback(ctx)
		if err := f.store.AppendRevocation(ctx, first, db.Revocation{TenantID: a.ID, Kind: "tenant", At: t0}); err != nil {
			t.Fatal(err)
		}
		second := make(chan error, 1)
		go func() {
			second <- pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
				return f.store.AppendRevocation(ctx, tx, db.Revocation{TenantID: a.ID, Kind: "user", Subject: "x", At: t0})
			})
		}()
		// The second waits for the first's lock (seen in pg_locks, not guessed from time).
		deadline := time.Now().Add(30 * time.Second)
		for f.count(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the second append never waited for the first's lock")
			}
			select {
			case err := <-second:
				t.Fatalf("the second append committed while the first held its id: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		if got := f.newRevocations(a.ID, start); len(got) != 0 {
			t.Fatalf("uncommitted rows visible: %+v", got)
		}
		if err := first.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-second; err != nil {
			t.Fatal(err)
		}
		got := f.newRevocations(a.ID, start)
		if len(got) != 2 || got[0].Kind != "tenant" || got[1].Kind != "user" || got[0].ID >= got[1].ID {
			t.Fatalf("log after both commits: %+v; want the first committed with the lower id", got)
		}
	})
}

// TestRevocationLogTrim: the sweeper trims the oldest ids, never the newest row, and the
// bounds a page reports tell a reader whether rows it needed were trimmed.
func TestRevocationLogTrim(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.mustTenant("a"), f.mustTenant("b")
	// Rows appended an hour apart; the third's clock ran behind (another instance), which
	// must not let a trim leave a hole.
	ats := []time.Time{t0, t0.Add(time.Hour), t0.Add(30 * time.Minute), t0.Add(3 * time.Hour), t0.Add(4 * time.Hour)}
	var ids []int64
	for i, at := range ats {
		tenant := a.ID
		if i == 3 {
			tenant = b.ID
		}
		if err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			return f.store.AppendRevocation(ctx, tx, db.Revocation{TenantID: tenant, Kind: "tenant", At: at})
		}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.head())
	}
	page := func(after int64) db.RevocationPage {
		t.Helper()
		p, err := f.store.TenantRevocations(ctx, a.ID, after, math.MaxInt64, 10)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := page(0); p.Oldest != ids[0] || p.Head != ids[4] || len(p.Rows) != 4 {
		t.Fatalf("before trimming: %+v", p)
	}

	// Before t0+2h: the first two rows, and the third too (it is older than the first
	// row kept, whatever its clock said).
	got := batches(t, 2, func(n int) (int64, error) { return f.store.SweepRevocations(ctx, t0.Add(2*time.Hour), n) })
	if diff := cmp.Diff([]int64{2, 1}, got); diff != "" {
		t.Errorf("trim batches (-want +got):\n%s", diff)
	}
	p := page(ids[1])
	if p.Oldest != ids[3] || p.Head != ids[4] {
		t.Fatalf("after trimming: oldest %d head %d, want %d %d", p.Oldest, p.Head, ids[3], ids[4])
	}
	if ids[1] >= p.Oldest-1 {
		t.Fatalf("a reader at %d cannot tell that %d was trimmed", ids[1], ids[2])
	}
	if p := page(ids[2]); ids[2] < p.Oldest-1 || len(p.Rows) != 1 || p.Rows[0].ID != ids[4] {
		t.Fatalf("a reader at %d missed nothing, yet: %+v", ids[2], p)
	}

	// Everything is old: all but the newest row goes, so the head survives.
	if _, err := f.store.SweepRevocations(ctx, t0.Add(100*time.Hour), 10); err != nil {
		t.Fatal(err)
	}
	if p := page(0); p.Oldest != ids[4] || p.Head != ids[4] || len(p.Rows) != 1 {
		t.Fatalf("after trimming everything: %+v", p)
	}
	if h := f.head(); h != ids[4] {
		t.Fatalf("head %d, want %d", h, ids[4])
	}
}

// TestListener: a listener hears each committed revocation's id, and a wait that times
// out leaves it usable.
func TestListener(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustTenant("a")
	l, err := f.store.Listen(ctx, db.RevocationChannel)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = l.Wait(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with nothing to hear: %v", err)
	}
	if _, err := f.store.BumpTenantEpoch(ctx, a.ID, ev("tenant_tokens_revoked")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	payload, err := l.Wait(wctx)
	if id := db.RevocationID(payload); err != nil || id != f.head() {
		t.Fatalf("heard %d, %v; want %d", id, err, f.head())
	}
}

// TestListenConfig: WithListenConfig's connection, not the main pool's, LISTENs, and
// Notify reaches it through the main pool: a self-check's payload arrives as it was sent.
// With the listen connection on another database, nothing sent through the pool arrives.
func TestListenConfig(t *testing.T) {
	ctx := context.Background()
	main, other := dbtest.New(t), dbtest.New(t)
	for _, tc := range []struct {
		name   string
		listen *pgxpool.Pool
		hears  bool
	}{
		{"same database", main, true},
		{"another database", other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := db.New(main, db.WithListenConfig(dbtest.ListenConfig(tc.listen)))
			l, err := s.Listen(ctx, db.WebhookChannel)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close(ctx)
			if err := s.Notify(ctx, db.WebhookChannel, "probe-1"); err != nil {
				t.Fatal(err)
			}
			// A notification on the listener's own database ends the wait either way, so
			// the case that hears nothing still ends on an outcome, not on the deadline.
			if err := db.New(tc.listen).Notify(ctx, db.WebhookChannel, "marker"); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			got, err := l.Wait(wctx)
			want := map[bool]string{true: "probe-1", false: "marker"}[tc.hears]
			if err != nil || got != want {
				t.Fatalf("heard %q, %v; want %q", got, err, want)
			}
		})
	}
	s := db.New(main, db.WithListenConfig(mustConnConfig(t, "postgres://jeton@"+closedPort(t)+"/jeton?sslmode=disable&connect_timeout=5")))
	if _, err := s.Listen(ctx, db.RevocationChannel); !errors.Is(err, db.ErrUnavailable) {
		t.Fatalf("listen on a closed port, main pool up: %v, want ErrUnavailable", err)
	}
}

func mustConnConfig(t *testing.T, url string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
