package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// webhookRate is the synthetic source's steady rate, in events per second.
const webhookRate = 500

// receiver is the local HTTPS endpoint the webhook scenario delivers to: it notes when each
// event (by its webhook-id) first arrived.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  map[string]time.Time
	hits atomic.Int64
}

func newReceiver() *receiver {
	r := &receiver{got: map[string]time.Time{}}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		r.hits.Add(1)
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		if _, ok := r.got[id]; !ok {
			r.got[id] = at
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	return r
}

func (r *receiver) received(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.got[id]
	return at, ok
}

// webhooks measures delivery on an instance of its own that trusts the receiver's
// certificate (the main instance is stopped meanwhile, so that its dispatcher does not
// take the endpoint's queue): commit-to-receipt latency of events inserted at a steady
// webhookRate by a synthetic source, and password-login throughput with a "*" subscription
// of the logins' tenant against without one, in the same run.
func (b *bench) webhooks(ctx context.Context) error {
	rcv := newReceiver()
	defer rcv.srv.Close()
	caFile := filepath.Join(b.tmp, "webhook-receiver.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rcv.srv.Certificate().Raw})
	if err := os.WriteFile(caFile, cert, 0o600); err != nil {
		return err
	}
	if b.main != nil {
		b.main.stop()
		b.main = nil
	}
	p, err := b.startJeton(ctx, "webhooks", b.dbURL, "JETON_TRUSTED_PROXY=127.0.0.1/32", "JETON_SWEEP_INTERVAL=0",
		"JETON_SECRET_KEYS="+benchKeys, "JETON_WEBHOOK_ALLOW_PRIVATE=true", "SSL_CERT_FILE="+caFile)
	if err != nil {
		return err
	}
	defer p.stop()

	forms := make([]string, len(b.w.logins))
	for i, l := range b.w.logins {
		forms[i] = b.passwordForm(l)
	}
	logins := func(name string) result {
		r := runLoads(ctx, b.cfg.warmup, b.cfg.duration, load{name: name, concurrency: b.cfg.concurrency,
			build: func(w int, _ *rand.Rand) *http.Request {
				return formPost(p.base+"/token", b.w.app.Basic, forms[w%len(forms)])
			},
			check: statusIs(http.StatusOK, `"access_token":"jat_`)})[0]
		b.addResult(r)
		quiesce(p, 2*time.Minute)
		return r
	}
	without := logins("password, no webhook subscription")

	var ep struct {
		ID string `json:"id"`
	}
	if err := b.cliJSON(ctx, []string{"JETON_WEBHOOK_ALLOW_PRIVATE=true"}, "", &ep, "webhook", "create",
		"--tenant", b.w.tenant, "--url", rcv.srv.URL+"/hook", "--event", "*"); err != nil {
		return err
	}
	defer func() {
		if _, err := b.cli(context.WithoutCancel(ctx), nil, "", "webhook", "delete", "--tenant", b.w.tenant, ep.ID); err != nil {
			b.note("webhook scenario: deleting the endpoint: %v", err)
		}
	}()

	// The synthetic source: one event per transaction, committed at a steady rate; the
	// latency runs from the commit's return to the receiver's first receipt.
	type sent struct {
		id string
		at time.Time
	}
	var (
		mu    sync.Mutex
		sents []sent
	)
	tick := time.NewTicker(time.Second / webhookRate)
	end := time.Now().Add(b.cfg.duration)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for time.Now().Before(end) && gctx.Err() == nil {
		<-tick.C
		g.Go(func() error {
			var id int64
			err := b.pool.QueryRow(gctx, `INSERT INTO events (tenant_id, at, kind, actor_type, actor_id, actor_name)
				VALUES ($1, now(), 'bench_synthetic', 'bench', 'bench', 'jeton-bench') RETURNING id`, b.w.tenantID).Scan(&id)
			if err != nil {
				return err
			}
			at := time.Now()
			mu.Lock()
			sents = append(sents, sent{strconv.FormatInt(id, 10), at})
			mu.Unlock()
			return nil
		})
	}
	tick.Stop()
	if err := g.Wait(); err != nil {
		return fmt.Errorf("synthetic events: %w", err)
	}
	// Wait for the last deliveries, then read each event's latency.
	var last time.Time
	pending := len(sents)
	for deadline := time.Now().Add(time.Minute); pending > 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		pending = 0
		for _, s := range sents {
			if at, ok := rcv.received(s.id); !ok {
				pending++
			} else if at.After(last) {
				last = at
			}
		}
	}
	lat := make([]time.Duration, 0, len(sents))
	for _, s := range sents {
		if at, ok := rcv.received(s.id); ok {
			lat = append(lat, max(at.Sub(s.at), 0))
		}
	}
	slices.Sort(lat)
	first := sents[0].at
	delivered := float64(len(lat)) / last.Sub(first).Seconds()
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	b.addTarget("webhook commit-to-receipt latency",
		fmt.Sprintf("p50 %s ms, p99 %s ms at %d events/s for %v (%d events; %d delivered, %.0f events/s delivered, %d not delivered within a minute)",
			ms(p50), ms(p99), webhookRate, b.cfg.duration, len(sents), len(lat), delivered, pending),
		"p99 < 1 s", metStr(p99 < time.Second && pending == 0))

	before := rcv.hits.Load()
	with := logins(`password, "*" webhook subscription`)
	ratio := with.RPS / without.RPS
	b.addTarget(`password logins with a "*" webhook subscription vs without`,
		fmt.Sprintf("%.2f× (%s vs %s per s; %d deliveries received during the logins)", ratio, rate(with.RPS),
			rate(without.RPS), rcv.hits.Load()-before), "≥ 0.95×", metStr(ratio >= 0.95))
	return nil
}
