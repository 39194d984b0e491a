package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// loginFootprint is what failed logins write, measured before and after each shape: the
// on-disk size (tables, indexes, TOAST) of the throttle counters, known addresses and
// events, then the live rows of counters and login-failure events and their bytes (without
// index entries, and without row versions VACUUM will reclaim).
const loginFootprint = `SELECT pg_total_relation_size('login_throttles') + pg_total_relation_size('known_ips')
	+ pg_total_relation_size('events'),
	(SELECT count(*) FROM login_throttles),
	(SELECT count(*) FROM events WHERE kind IN ('login_failure', 'login_throttled')),
	(SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM login_throttles t)
	+ (SELECT coalesce(sum(pg_column_size(k.*)), 0) FROM known_ips k)
	+ (SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM events e WHERE e.kind IN ('login_failure', 'login_throttled'))`

type footprint struct{ disk, counters, events, live int64 }

func (b *bench) footprint(ctx context.Context) (footprint, error) {
	var f footprint
	err := b.pool.QueryRow(ctx, loginFootprint).Scan(&f.disk, &f.counters, &f.events, &f.live)
	return f, err
}

// storage measures what 1,000 failed logins leave in the database (bytes of state and
// events), in the four shapes an attacker can give them, through jeton's /token with the
// shipped throttles: refused attempts are counted on one event per username, address and
// window, so the database grows with the usernames and addresses tried, never with the
// attempts. Each shape uses usernames and forwarded addresses of its own, none of another
// scenario's.
func (b *bench) storage(ctx context.Context) error {
	const n = 1000
	shapes := []struct {
		name string
		who  func(i int) (username, ip string)
	}{
		{"one username from one address (brute force)", func(int) (string, string) { return "storage-a", floodIP(3 << 20) }},
		{"one username from 1,000 addresses", func(i int) (string, string) { return "storage-b", floodIP(3<<20 + 1<<12 + int64(i)) }},
		{"1,000 usernames from one address (spraying)", func(i int) (string, string) {
			return fmt.Sprintf("storage-c%d", i), floodIP(3<<20 + 2<<12)
		}},
		{"1,000 usernames from 1,000 addresses", func(i int) (string, string) {
			return fmt.Sprintf("storage-d%d", i), floodIP(3<<20 + 3<<12 + int64(i))
		}},
	}
	tr := newTransport(b.cfg.concurrency)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	for _, sh := range shapes {
		before, err := b.footprint(ctx)
		if err != nil {
			return err
		}
		statuses := map[int]int64{}
		var mu sync.Mutex
		next := make(chan int)
		var wg sync.WaitGroup
		for range b.cfg.concurrency {
			wg.Go(func() {
				for i := range next {
					username, ip := sh.who(i)
					req := formPost(b.main.base+"/token", b.w.app.Basic,
						"grant_type=password&username="+username+"&password=not+the+password+of+anyone", "X-Forwarded-For", ip)
					status, _, _ := do(client, req.WithContext(ctx), nil)
					mu.Lock()
					statuses[status]++
					mu.Unlock()
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		after, err := b.footprint(ctx)
		if err != nil {
			return err
		}
		b.addTarget(fmt.Sprintf("database growth, %s failed logins: %s", thousands(n), sh.name),
			fmt.Sprintf("%s of live rows (%d counters, %d events), %s on disk; answers %s",
				kib(after.live-before.live), after.counters-before.counters, after.events-before.events,
				kib(after.disk-before.disk), statusList(statuses)),
			"report only", "report only")
	}
	return nil
}

// kib formats a byte count in KiB.
func kib(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) }
