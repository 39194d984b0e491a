package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jeton-auth/jeton/db"
)

// limits are small thresholds for these tests.
var limits = db.LoginLimits{BackoffAfter: 3, BackoffBase: time.Second, BackoffMax: 8 * time.Second,
	BackoffReset: 24 * time.Hour, UserLimit: 5, IPLimit: 7, Window: time.Hour, KnownFor: 30 * 24 * time.Hour}

func (f fixture) mustReserve(c db.LoginCounters, now time.Time) db.Reservation {
	f.t.Helper()
	return f.mustReserveWith(c, limits, now)
}

func (f fixture) mustReserveWith(c db.LoginCounters, l db.LoginLimits, now time.Time) db.Reservation {
	f.t.Helper()
	r, err := f.store.ReserveLogin(context.Background(), c, l, now)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// failures reads a counter's failures (-1 when it has no row).
func (f fixture) failures(tenant *uuid.UUID, kind, username, ip string) int {
	f.t.Helper()
	n := -1
	err := f.pool.QueryRow(context.Background(), `SELECT failures FROM login_throttles
		WHERE kind = $1 AND username = $2 AND ip = $3 AND tenant_id IS NOT DISTINCT FROM $4`,
		kind, username, ip, tenant).Scan(&n)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		f.t.Fatal(err)
	}
	return n
}

// The (username, address) back-off: BackoffAfter attempts go through, then one per
// back-off, which doubles up to BackoffMax; refused attempts neither count nor extend it.
func TestReserveLoginBackoff(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	c := db.LoginCounters{TenantID: a, Username: "alice", IP: "192.0.2.1"}
	l := limits
	l.UserLimit, l.IPLimit = 100, 100 // only the back-off here
	reserve := func(now time.Time) db.Reservation { t.Helper(); return f.mustReserveWith(c, l, now) }
	now := t0
	for i := range 3 {
		if r := reserve(now); r.Refused {
			t.Fatalf("attempt %d refused: %+v", i+1, r)
		}
	}
	// The third set a 1 s back-off.
	r := reserve(now)
	if diff := cmp.Diff(db.Reservation{Refused: true, Limits: []string{"backoff"}, RetryAt: now.Add(time.Second)}, r); diff != "" {
		t.Fatalf("fourth attempt (-want +got):\n%s", diff)
	}
	if err := f.store.RefuseLogin(context.Background(), c, db.Event{At: now, Actor: db.Actor{Type: "client", ID: "x", Name: "x", IP: c.IP},
		SubjectName: c.Username, TenantID: &a}, now); err != nil {
		t.Fatal(err)
	}
	if got := f.failures(&a, "p", "alice", c.IP); got != 3 {
		t.Errorf("pair failures after a refusal given back: %d, want 3", got)
	}
	for _, step := range []struct {
		wait time.Duration
		next time.Duration // the back-off the allowed attempt sets
	}{{time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second}, {4 * time.Second, 8 * time.Second}, {8 * time.Second, 8 * time.Second}} {
		if r := reserve(now.Add(step.wait - time.Microsecond)); !r.Refused {
			t.Fatalf("attempt %v early went through", step.wait)
		}
		f.mustReturn(c) // what the service does with a refusal's unit
		now = now.Add(step.wait)
		if r := reserve(now); r.Refused {
			t.Fatalf("attempt after %v refused: %+v", step.wait, r)
		}
		if r := reserve(now); !r.Refused || !r.RetryAt.Equal(now.Add(step.next)) {
			t.Fatalf("attempt right after: %+v, want refused until +%v", r, step.next)
		}
		f.mustReturn(c)
	}
	// A day without attempts forgets the pair.
	if r := reserve(now.Add(25 * time.Hour)); r.Refused {
		t.Errorf("after a day: %+v", r)
	}
	if got := f.failures(&a, "p", "alice", c.IP); got != 1 {
		t.Errorf("pair failures after a day: %d, want 1", got)
	}
}

func (f fixture) mustReturn(c db.LoginCounters) {
	f.t.Helper()
	if err := f.store.ReturnLogin(context.Background(), c); err != nil {
		f.t.Fatal(err)
	}
}

// Concurrent attempts are counted before any verdict, so at most BackoffAfter of
// them go through, and exactly that many.
func TestReserveLoginConcurrent(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	c := db.LoginCounters{TenantID: a, Username: "alice", IP: "192.0.2.1"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	through := 0
	for range 30 {
		wg.Go(func() {
			r, err := f.store.ReserveLogin(context.Background(), c, limits, t0)
			if err != nil {
				t.Error(err)
				return
			}
			if !r.Refused {
				mu.Lock()
				through++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if through != limits.BackoffAfter {
		t.Errorf("%d attempts went through, want %d", through, limits.BackoffAfter)
	}
}

// The username limit refuses addresses without a recent success only; a success clears
// the pair and gives the username and address units back.
func TestReserveLoginUserLimitSparesKnownAddress(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	u := f.mustUser(a)
	known := db.LoginCounters{TenantID: a, Username: u.Username, IP: "198.51.100.7"}
	if r := f.mustReserve(known, t0); r.Refused {
		t.Fatal(r)
	}
	f.mustSucceed(known, u, t0)
	if got := f.failures(&a, "p", u.Username, known.IP); got != -1 {
		t.Errorf("pair after a success: %d failures, want no row", got)
	}
	if got := f.failures(&a, "u", u.Username, ""); got != 0 {
		t.Errorf("username failures after a success: %d, want 0", got)
	}
	// Five failures from five addresses trip the username limit.
	for i := range 5 {
		c := known
		c.IP = fmt.Sprintf("203.0.113.%d", i)
		if r := f.mustReserve(c, t0); r.Refused {
			t.Fatalf("failure %d refused", i)
		}
	}
	stranger := known
	stranger.IP = "203.0.113.99"
	r := f.mustReserve(stranger, t0.Add(time.Minute))
	if diff := cmp.Diff(db.Reservation{Refused: true, Limits: []string{"user"}, RetryAt: t0.Add(time.Hour), User: &u}, r); diff != "" {
		t.Errorf("a new address (-want +got):\n%s", diff)
	}
	if r := f.mustReserve(known, t0.Add(time.Minute)); r.Refused {
		t.Errorf("the known address refused: %+v", r)
	}
	// Past the window the username starts over; past KnownFor the address is a stranger's.
	if r := f.mustReserve(stranger, t0.Add(time.Hour)); r.Refused {
		t.Errorf("after the window: %+v", r)
	}
	if n, err := f.store.SweepKnownIPs(context.Background(), t0.Add(time.Second), 10); err != nil || n != 1 {
		t.Errorf("sweep known addresses: %d, %v; want 1", n, err)
	}
}

// The address limit counts across usernames; a cross-tenant address (IPTenant nil) is one
// counter for every tenant, a forwarded one (IPTenant set) is its tenant's alone.
func TestReserveLoginAddressLimit(t *testing.T) {
	f := newFixture(t)
	a, b := f.mustTenant("a").ID, f.mustTenant("b").ID
	spray := func(tenant uuid.UUID, ipTenant *uuid.UUID, from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			c := db.LoginCounters{TenantID: tenant, Username: fmt.Sprintf("user%d", i), IP: "192.0.2.1", IPTenant: ipTenant}
			if r := f.mustReserve(c, t0); r.Refused {
				t.Fatalf("attempt %d refused: %+v", i, r)
			}
		}
	}
	// Peer addresses: four failures in a, three in b make seven.
	spray(a, nil, 0, 4)
	spray(b, nil, 4, 3)
	r := f.mustReserve(db.LoginCounters{TenantID: b, Username: "other", IP: "192.0.2.1"}, t0)
	if !r.Refused || r.Limits[0] != "ip" {
		t.Errorf("eighth failure from the address: %+v, want refused by the address limit", r)
	}
	// The same address forwarded by a's backend is counted in a alone.
	spray(a, &a, 0, 7)
	if r := f.mustReserve(db.LoginCounters{TenantID: a, Username: "x", IP: "192.0.2.1", IPTenant: &a}, t0); !r.Refused {
		t.Errorf("eighth forwarded failure in a: %+v, want refused", r)
	}
	if r := f.mustReserve(db.LoginCounters{TenantID: b, Username: "y", IP: "192.0.2.1", IPTenant: &b}, t0); r.Refused {
		t.Errorf("first forwarded failure in b: %+v, want through", r)
	}
	if got := f.failures(nil, "i", "", "192.0.2.1"); got != 8 {
		t.Errorf("cross-tenant counter %d, want 8 (7 and one refused)", got)
	}
}

// Refused attempts become one event per tenant, username, address and window.
func TestRefuseLoginAggregates(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	c := db.LoginCounters{TenantID: a, Username: "alice", IP: "192.0.2.1"}
	refuse := func(window time.Time, ip string) {
		t.Helper()
		if err := f.store.RefuseLogin(context.Background(), c, db.Event{TenantID: &a, At: t0,
			Actor:       db.Actor{Type: "client", ID: "jc_x", Name: "app", IP: ip},
			SubjectType: "username", SubjectName: "alice", Detail: map[string]any{"attempts": 1}}, window); err != nil {
			t.Fatal(err)
		}
	}
	w1, w2 := t0.Truncate(time.Hour), t0.Truncate(time.Hour).Add(time.Hour)
	for range 5 {
		refuse(w1, "192.0.2.1")
	}
	refuse(w2, "192.0.2.1")
	refuse(w1, "192.0.2.2")
	rows, err := f.pool.Query(context.Background(), `SELECT client_ip, to_char(window_start AT TIME ZONE 'UTC', 'HH24'),
		(detail->>'attempts')::int FROM events WHERE kind = 'login_throttled' ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var ip, w string
		var n int
		if err := rows.Scan(&ip, &w, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d", ip, w, n))
	}
	want := []string{"192.0.2.1 03 5", "192.0.2.1 04 1", "192.0.2.2 03 1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("throttle events (-want +got):\n%s", diff)
	}
}

// Counters of one tenant never answer for another's username.
func TestReserveLoginTenantIsolation(t *testing.T) {
	f := newFixture(t)
	a, b := f.mustTenant("a").ID, f.mustTenant("b").ID
	for range 3 {
		f.mustReserve(db.LoginCounters{TenantID: a, Username: "alice", IP: "192.0.2.1", IPTenant: &a}, t0)
	}
	if r := f.mustReserve(db.LoginCounters{TenantID: b, Username: "alice", IP: "192.0.2.1", IPTenant: &b}, t0); r.Refused {
		t.Errorf("alice of b refused for a's failures: %+v", r)
	}
	if got := f.failures(&b, "p", "alice", "192.0.2.1"); got != 1 {
		t.Errorf("b's pair: %d failures, want 1", got)
	}
}

// The throttle counters go once their window is over.
func TestSweepLoginThrottles(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	f.mustReserve(db.LoginCounters{TenantID: a, Username: "alice", IP: "192.0.2.1"}, t0)
	ctx := context.Background()
	if n, err := f.store.SweepLoginThrottles(ctx, t0.Add(time.Hour), 10); err != nil || n != 0 {
		t.Errorf("at the window's end: %d, %v; want nothing yet", n, err)
	}
	if n, err := f.store.SweepLoginThrottles(ctx, t0.Add(time.Hour+time.Second), 10); err != nil || n != 2 {
		t.Errorf("after the window: %d, %v; want the username and address counters", n, err)
	}
	// A row a login holds is skipped, not waited for (the sweep would otherwise lock rows
	// in another order than logins and could deadlock with them).
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM login_throttles WHERE kind = 'p' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	held, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if n, err := f.store.SweepLoginThrottles(held, t0.Add(25*time.Hour), 1); err != nil || n != 0 {
		t.Errorf("after a day, the pair held by a login: %d, %v; want it skipped", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := f.store.SweepLoginThrottles(ctx, t0.Add(25*time.Hour), 1); err != nil || n != 1 {
		t.Errorf("after a day: %d, %v; want the pair", n, err)
	}
}

// mustUser creates a user of the tenant.
func (f fixture) mustUser(tenant uuid.UUID) db.User {
	f.t.Helper()
	u, err := f.store.CreateUser(context.Background(), db.User{TenantID: tenant, Username: "u" + uuid.NewString()[:8],
		PasswordHash: "unused"}, ev("user_created"))
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// At an address the user logged in from, the pair's back-off starts after
// BackoffAfterKnown failures instead of BackoffAfter.
func TestReserveLoginKnownAddressBacksOffLater(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	u := f.mustUser(a)
	l := limits
	l.BackoffAfterKnown, l.UserLimit, l.IPLimit = 10, 100, 100
	known := db.LoginCounters{TenantID: a, Username: u.Username, IP: "198.51.100.7"}
	f.mustSucceed(known, u, t0)
	stranger := known
	stranger.IP = "203.0.113.1"
	for _, tt := range []struct {
		c    db.LoginCounters
		want int
	}{{known, 10}, {stranger, 3}} {
		through := 0
		for range 15 {
			if r := f.mustReserveWith(tt.c, l, t0); !r.Refused {
				through++
			}
		}
		if through != tt.want {
			t.Errorf("from %s: %d of 15 went through, want %d", tt.c.IP, through, tt.want)
		}
	}
}
