package service

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// throttleFootprint is the on-disk size (tables, indexes, TOAST) of what failed logins
// write: throttle counters, known addresses and events; and the bytes of the rows alive
// in them (without index entries and without row versions that VACUUM will reclaim).
const throttleFootprint = `SELECT pg_total_relation_size('login_throttles') + pg_total_relation_size('known_ips')
	+ pg_total_relation_size('events'),
	(SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM login_throttles t)
	+ (SELECT coalesce(sum(pg_column_size(k.*)), 0) FROM known_ips k)
	+ (SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM events e WHERE e.kind IN ('login_failure', 'login_throttled'))`

// A flood of failed logins cannot grow the database without bound. Each case runs
// 1,000 failed password logins against a fresh database and measures what they added on
// disk and in live rows; refused attempts are one event per username, address and window.
// The disk figure includes the row versions the counters' updates leave until
// (auto)VACUUM makes their space reusable. The figures are in docs/SECURITY.md:
// go test ./service -run TestFailedLoginStorage -v
func TestFailedLoginStorage(t *testing.T) {
	tests := []struct {
		name string
		// attempt i's username and address
		who func(i int) (string, string)
		// the most live bytes 1,000 such logins may leave
		max int64
	}{
		{"one username from one address (brute force)", func(int) (string, string) { return "alice", "192.0.2.1" }, 8 << 10},
		{"one username from 1,000 addresses", func(i int) (string, string) { return "alice", addr(i) }, 1 << 20},
		{"1,000 usernames from one address (spraying)", func(i int) (string, string) { return fmt.Sprint("user", i), "192.0.2.1" }, 1 << 20},
		{"1,000 usernames from 1,000 addresses", func(i int) (string, string) { return fmt.Sprint("user", i), addr(i) }, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := context.Background()
			pub, _, err := e.svc.CreateClient(ctx, testkit.Actor, "a", ClientSpec{Name: "spa", Public: true,
				GrantTypes: []string{GrantPassword}, Scopes: []string{"read", "write"}})
			if err != nil {
				t.Fatal(err)
			}
			ca, err := e.svc.AuthenticateClient(ctx, Credentials{ClientID: pub.ID})
			if err != nil {
				t.Fatal(err)
			}
			var before, after, live0, live int64
			if err := e.pool.QueryRow(ctx, throttleFootprint).Scan(&before, &live0); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			outcomes := map[string]int{}
			var wg sync.WaitGroup
			next := make(chan int)
			for range 8 {
				wg.Go(func() {
					for i := range next {
						username, ip := tt.who(i)
						_, err := e.svc.PasswordGrant(ctx, ca, PasswordLogin{Username: username, Password: "Winter2026!",
							Actor: db.Actor{Type: "client", ID: ca.Client.ID, Name: ca.Client.Name, IP: ip}})
						kind := fmt.Sprintf("%T", err)
						if err == ErrInvalidGrant {
							kind = "invalid_grant"
						}
						mu.Lock()
						outcomes[kind]++
						mu.Unlock()
					}
				})
			}
			for i := range 1000 {
				next <- i
			}
			close(next)
			wg.Wait()
			if err := e.pool.QueryRow(ctx, throttleFootprint).Scan(&after, &live); err != nil {
				t.Fatal(err)
			}
			var counters, events int
			if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM login_throttles),
				(SELECT count(*) FROM events WHERE kind IN ('login_failure', 'login_throttled'))`).Scan(&counters, &events); err != nil {
				t.Fatal(err)
			}
			t.Logf("1,000 failed logins, %s: %d bytes on disk, %d bytes of live rows (%d throttle counters, %d events); answers %v",
				tt.name, after-before, live-live0, counters, events, outcomes)
			if outcomes["invalid_grant"]+outcomes["*service.ThrottledError"] != 1000 {
				t.Errorf("answers %v, want only invalid_grant and throttled", outcomes)
			}
			if live-live0 > tt.max || after-before > 4<<20 {
				t.Errorf("%d bytes of live rows (want at most %d), %d on disk (want at most 4 MiB)", live-live0, tt.max, after-before)
			}
		})
	}
}

// addr is the i-th of 65,536 test addresses.
func addr(i int) string { return fmt.Sprintf("10.1.%d.%d", i>>8&255, i&255) }
