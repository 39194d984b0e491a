package service

// The webhook dispatcher (docs/WEBHOOKS.md). Every jeton serve runs one. It turns
// committed events into deliveries (db.TakeWebhookEvents, one instance at a time) and
// works endpoints' queues: an endpoint's queue is leased to one instance, which sends its
// deliveries one at a time, in order, and records each attempt before the next. A crash
// leaves the lease to expire; whichever instance claims the endpoint next retries the
// delivery that was in flight.

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/webhooks"
)

// DispatcherConfig configures a Dispatcher. Zero fields take DefaultDispatcherConfig's.
type DispatcherConfig struct {
	// Poll is how often the dispatcher looks for work without a notification: the pace of
	// retries coming due, and of everything in PollOnly mode.
	Poll time.Duration
	// PollOnly skips LISTEN, for connections that cannot hold one (pgbouncer in
	// transaction mode).
	PollOnly bool
	// Workers bounds the endpoints one instance works at once.
	Workers int
	// Lease is how long an instance holds an endpoint's queue without renewing it: after
	// a crash, the delivery in flight is retried this long afterwards.
	Lease time.Duration
	// Batch bounds the events read per round.
	Batch int
	// Gather is how long a wake-up waits for more commits before the round starts.
	Gather time.Duration
	// ListenCheck is how long the LISTEN self-check waits for its notification
	// (DefaultListenCheck when zero).
	ListenCheck time.Duration
	// Observer, when not nil, hears the outcome of each LISTEN self-check.
	Observer ListenObserver
}

// DefaultDispatcherConfig polls every second, works 16 endpoints at once, leases a queue
// for a minute, reads 500 events at a time and gathers wake-ups for 20 ms.
func DefaultDispatcherConfig() DispatcherConfig {
	return DispatcherConfig{Poll: time.Second, Workers: 16, Lease: time.Minute, Batch: 500, Gather: 20 * time.Millisecond}
}

// Retry schedule: about 5 s, 30 s, 2 min, 10 min and 1 h after the first failures, then
// every 6 h, each ±20 %, until the delivery has failed for GiveUpAfter.
var retryDelays = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}

const (
	retryEvery  = 6 * time.Hour
	GiveUpAfter = 72 * time.Hour
	maxErrorLen = 1024
)

// RetryDelay is the wait after the n-th failed attempt (n from 1), before jitter.
func RetryDelay(n int) time.Duration {
	if n >= 1 && n <= len(retryDelays) {
		return retryDelays[n-1]
	}
	return retryEvery
}

// Dispatcher delivers events to webhook endpoints.
type Dispatcher struct {
	store  *db.Store
	sender *webhooks.Sender
	cfg    DispatcherConfig
	log    *slog.Logger
	now    func() time.Time
	jitter func() float64 // in [0, 1)
	owner  uuid.UUID      // this instance, as lease owner

	slots    chan struct{}
	workers  sync.WaitGroup
	wake     chan struct{}
	listener *listener
}

// DispatcherOption adjusts a Dispatcher.
type DispatcherOption func(*Dispatcher)

// WithDispatcherClock makes the dispatcher read time from now.
func WithDispatcherClock(now func() time.Time) DispatcherOption {
	return func(d *Dispatcher) { d.now = now }
}

// WithJitter makes the dispatcher draw the retries' jitter from f, in [0, 1).
func WithJitter(f func() float64) DispatcherOption { return func(d *Dispatcher) { d.jitter = f } }

// NewDispatcher returns a dispatcher over store that sends with sender.
func NewDispatcher(store *db.Store, sender *webhooks.Sender, cfg DispatcherConfig, log *slog.Logger, opts ...DispatcherOption) *Dispatcher {
	def := DefaultDispatcherConfig()
	setDefault(&cfg.Poll, def.Poll)
	setDefault(&cfg.Workers, def.Workers)
	setDefault(&cfg.Lease, def.Lease)
	setDefault(&cfg.Batch, def.Batch)
	setDefault(&cfg.Gather, def.Gather)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{store: store, sender: sender, cfg: cfg, log: log, now: time.Now, jitter: rand.Float64,
		owner: uuid.New(), slots: make(chan struct{}, cfg.Workers), wake: make(chan struct{}, 1),
		listener: newListener(store, db.WebhookChannel, "webhooks", log, cfg.Observer, cfg.Poll, cfg.ListenCheck)}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Run dispatches until ctx ends, then waits for the deliveries in flight to end (they end
// with ctx). It wakes on every notification (unless PollOnly), every Poll, and whenever a
// worker finishes.
func (d *Dispatcher) Run(ctx context.Context) {
	if !d.cfg.PollOnly {
		go d.listen(ctx)
	}
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		if err := d.dispatch(ctx); err != nil && ctx.Err() == nil {
			d.log.LogAttrs(ctx, slog.LevelWarn, "webhooks: dispatch failed", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-d.wake:
			// Let a burst of commits gather, so one round takes them all: a busy server
			// wakes the dispatcher with every login.
			select {
			case <-ctx.Done():
			case <-time.After(d.cfg.Gather):
			}
		}
	}
	d.workers.Wait()
}

// Tick takes new events, works every queue that is due, and returns once those workers
// are done: Run's round, made synchronous for tests that move the clock.
func (d *Dispatcher) Tick(ctx context.Context) error {
	err := d.dispatch(ctx)
	d.workers.Wait()
	return err
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// listen pokes the loop on every notification, reconnecting with backoff.
func (d *Dispatcher) listen(ctx context.Context) {
	poke := func(context.Context) error { d.poke(); return nil }
	d.listener.run(ctx, listenHooks{
		connected: poke, // anything committed before LISTEN took effect
		notified:  func(ctx context.Context, _ string) error { return poke(ctx) },
	})
}

// dispatch takes the events committed since the last round, then starts a worker on each
// due queue while workers are free.
func (d *Dispatcher) dispatch(ctx context.Context) error {
	for more := true; more; {
		var err error
		if _, more, err = d.store.TakeWebhookEvents(ctx, d.now(), d.cfg.Batch); err != nil {
			return err
		}
	}
	for {
		select {
		case d.slots <- struct{}{}:
		default:
			return nil // all workers busy; a finishing one pokes the loop
		}
		w, err := d.store.ClaimWebhook(ctx, d.owner, d.now(), d.cfg.Lease)
		if err != nil {
			<-d.slots
			if errors.Is(err, db.ErrNotFound) {
				return nil
			}
			return err
		}
		d.workers.Add(1)
		go func() {
			defer func() { <-d.slots; d.workers.Done(); d.poke() }()
			d.work(ctx, w)
		}()
	}
}
