package service_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks/webhookstest"
)

// receipts records when each webhook-id first arrived and signals when n have.
type receipts struct {
	mu   sync.Mutex
	at   map[string]time.Time
	n    int
	done chan struct{}
}

func newReceipts(r *webhookstest.Receiver, n int) *receipts {
	rc := &receipts{at: map[string]time.Time{}, n: n, done: make(chan struct{})}
	r.Answer = func(_ int, d webhookstest.Delivery) int {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if _, ok := rc.at[d.ID()]; !ok {
			rc.at[d.ID()] = time.Now()
			if len(rc.at) == rc.n {
				close(rc.done)
			}
		}
		return 204
	}
	return rc
}

// benchDispatch runs a dispatcher on the real clock, LISTENing, with one "*" endpoint.
func benchDispatch(b *testing.B) (*hookEnv, *webhookstest.Receiver, func()) {
	e := newHookEnv(b)
	r := webhookstest.NewReceiver(b)
	e.mustEndpoint(&e.tenant.ID, r, "*")
	e.settle(e.dispatcher(), r)
	d := e.dispatcher(service.WithDispatcherClock(time.Now))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	return e, r, func() { cancel(); <-done }
}

// BenchmarkWebhookThroughput: b.N events committed at once, delivered to one endpoint;
// events/s is from the first commit to the last receipt.
func BenchmarkWebhookThroughput(b *testing.B) {
	e, r, stop := benchDispatch(b)
	defer stop()
	rc := newReceipts(r, b.N)
	b.ResetTimer()
	start := time.Now()
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO events (tenant_id, at, kind, actor_type, actor_id, actor_name)
		SELECT $1, $2, 'login_success', 'user', 'u', 'alice' FROM generate_series(1, $3)`, e.tenant.ID, start, b.N); err != nil {
		b.Fatal(err)
	}
	<-rc.done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkWebhookLatency500: b.N events committed one by one at a steady 500 per second;
// the commit-to-receipt latency's p50 and p99.
func BenchmarkWebhookLatency500(b *testing.B) {
	e, r, stop := benchDispatch(b)
	defer stop()
	rc := newReceipts(r, b.N)
	committed := make(map[string]time.Time, b.N)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for range b.N {
		<-tick.C
		var id int64
		if err := e.pool.QueryRow(context.Background(), `INSERT INTO events (tenant_id, at, kind, actor_type, actor_id, actor_name)
			VALUES ($1, $2, 'login_success', 'user', 'u', 'alice') RETURNING id`, e.tenant.ID, time.Now()).Scan(&id); err != nil {
			b.Fatal(err)
		}
		committed[strconv.FormatInt(id, 10)] = time.Now()
	}
	<-rc.done
	b.StopTimer()
	var lat []time.Duration
	rc.mu.Lock()
	for id, at := range committed {
		lat = append(lat, rc.at[id].Sub(at))
	}
	rc.mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkLoginWebhooks: password logins (cheap argon2id parameters, so the database work,
// webhooks' included, dominates) without any endpoint and with a "*" endpoint whose
// dispatcher delivers every event as it goes.
func BenchmarkLoginWebhooks(b *testing.B) {
	for _, star := range []bool{false, true} {
		name := "none"
		if star {
			name = "star"
		}
		b.Run(name, func(b *testing.B) {
			e := newHookEnv(b)
			cfg := service.DefaultConfig()
			cfg.Hash = testkit.FastHash
			svc, err := service.New(e.store, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer svc.Close()
			ctx := context.Background()
			actor := db.Actor{Type: "cli", ID: "bench"}
			c, secret, err := svc.CreateClient(ctx, actor, "acme", service.ClientSpec{Name: "app", GrantTypes: []string{service.GrantPassword}})
			if err != nil {
				b.Fatal(err)
			}
			app, err := svc.AuthenticateClient(ctx, service.Credentials{ClientID: c.ID, Secret: secret})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.CreateUser(ctx, actor, "acme", "alice", "correct horse battery staple", nil); err != nil {
				b.Fatal(err)
			}
			if star {
				r := webhookstest.NewReceiver(b)
				e.mustEndpoint(&e.tenant.ID, r, "*")
				d := e.dispatcher(service.WithDispatcherClock(time.Now))
				dctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { d.Run(dctx); close(done) }()
				defer func() { cancel(); <-done }()
			}
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.PasswordGrant(ctx, app, service.PasswordLogin{Username: "alice",
						Password: "correct horse battery staple", Actor: actor}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
		})
	}
}
