package service

// The LISTEN loop the revocation feed and the webhook dispatcher share: a connection of
// its own (db.Store.Listen, on --listen-database-url), re-opened with backoff when it
// fails, and a self-check after each (re)connection. Behind a pooler in transaction mode a
// LISTEN made through it succeeds, yet its notifications never arrive (pgbouncer hands the
// backend that listened to other clients); the self-check sends a notification through the
// main pool, the way real ones travel, and reports when it does not come back.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jeton-auth/jeton/db"
)

// Delivery states of a LISTEN connection, as Feed.Delivery reports them (and /readyz shows
// the feed's).
const (
	// DeliveryStarting: the first self-check has not answered yet.
	DeliveryStarting = "starting"
	// DeliveryListening: the latest self-check's notification arrived.
	DeliveryListening = "listening"
	// DeliveryPolling: notifications do not arrive (the self-check's did not, the
	// connection is down, or poll-only mode): what they would bring waits for the next poll.
	DeliveryPolling = "polling"
)

// ListenObserver hears the outcome of each LISTEN self-check (metrics.Metrics implements
// it). channel is db.RevocationChannel or db.WebhookChannel; ok says whether the
// notification arrived in time.
type ListenObserver interface {
	ListenChecked(channel string, ok bool)
}

const (
	// probePrefix starts the payload of a self-check; every instance's listener hears every
	// instance's probes, and ignores them.
	probePrefix = "jeton-probe:"
	// DefaultListenCheck is how long a self-check waits for its notification.
	DefaultListenCheck = 5 * time.Second
	// listenRecheck is how long after a failed self-check the next one is sent.
	listenRecheck = time.Minute
)

// listenHooks are what a listener's user does at each step; nil ones are skipped.
type listenHooks struct {
	connected func(ctx context.Context) error // LISTEN took effect: catch up on what came before
	notified  func(ctx context.Context, payload string) error
	idle      func(ctx context.Context) error // no notification for the listener's idle interval
	lost      func(ctx context.Context)       // the connection failed; runs before each retry
}

// listener keeps one LISTEN connection open and checks that its notifications arrive.
type listener struct {
	store   *db.Store
	channel string
	what    string // the user, for logs: "revocation feed", "webhooks"
	log     *slog.Logger
	obs     ListenObserver // nil: none
	idle    time.Duration  // how often hooks.idle runs, or the user polls by itself (for logs)
	check   time.Duration  // how long a self-check waits
	state   atomic.Pointer[string]
	failing bool // the latest self-check failed; only run's goroutine uses it
}

func newListener(store *db.Store, channel, what string, log *slog.Logger, obs ListenObserver, idle, check time.Duration) *listener {
	if check <= 0 {
		check = DefaultListenCheck
	}
	l := &listener{store: store, channel: channel, what: what, log: log, obs: obs, idle: idle, check: check}
	l.setState(DeliveryStarting)
	return l
}

func (l *listener) setState(s string) { l.state.Store(&s) }

// State returns the delivery state: DeliveryStarting, DeliveryListening or DeliveryPolling.
func (l *listener) State() string { return *l.state.Load() }

// run listens until ctx ends, reconnecting with backoff when the connection fails.
func (l *listener) run(ctx context.Context, h listenHooks) {
	backoff := feedMinBackoff
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, feedConnectTimeout)
		c, err := l.store.Listen(cctx, l.channel)
		cancel()
		if err == nil {
			backoff = feedMinBackoff
			err = l.follow(ctx, c, h)
			_ = c.Close(context.WithoutCancel(ctx))
		}
		if ctx.Err() != nil {
			return
		}
		l.setState(DeliveryPolling)
		l.log.LogAttrs(ctx, slog.LevelWarn, l.what+": listen failed", slog.String("err", err.Error()),
			slog.Duration("retry_in", backoff))
		if h.lost != nil {
			h.lost(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, feedMaxBackoff)
	}
}

// follow hands c's notifications to h until c or a hook fails, sending self-checks: one
// at once, and after a failed one another every listenRecheck.
func (l *listener) follow(ctx context.Context, c *db.Listener, h listenHooks) error {
	if h.connected != nil {
		if err := h.connected(ctx); err != nil {
			return err
		}
	}
	probe, checkAt := l.probe(ctx), time.Now().Add(l.check) // checkAt: the probe's deadline, else the next probe
	var nextIdle time.Time
	if h.idle != nil && l.idle > 0 {
		nextIdle = time.Now().Add(l.idle)
	}
	for {
		until := checkAt
		if !nextIdle.IsZero() && (until.IsZero() || nextIdle.Before(until)) {
			until = nextIdle
		}
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if !until.IsZero() {
			wctx, cancel = context.WithDeadline(ctx, until)
		}
		payload, err := c.Wait(wctx)
		cancel()
		now := time.Now()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			if !checkAt.IsZero() && !now.Before(checkAt) {
				if probe != "" {
					l.checked(ctx, false)
					probe, checkAt = "", now.Add(listenRecheck)
				} else {
					probe, checkAt = l.probe(ctx), now.Add(l.check)
				}
			}
			if !nextIdle.IsZero() && !now.Before(nextIdle) {
				if err := h.idle(ctx); err != nil {
					return err
				}
				nextIdle = time.Now().Add(l.idle)
			}
			continue
		case err != nil:
			return err
		case probe != "" && payload == probe:
			l.checked(ctx, true)
			probe, checkAt = "", time.Time{}
			continue
		case strings.HasPrefix(payload, probePrefix):
			continue // another instance's, or an earlier one of ours
		}
		if h.notified != nil {
			if err := h.notified(ctx, payload); err != nil {
				return err
			}
		}
		if !nextIdle.IsZero() {
			nextIdle = time.Now().Add(l.idle) // what the notification brought was just read
		}
	}
}

// probe sends a self-check through the main pool and returns its payload. A failure to
// send is logged: the check then fails when its time is up.
func (l *listener) probe(ctx context.Context) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	payload := probePrefix + hex.EncodeToString(b)
	if err := l.store.Notify(ctx, l.channel, payload); err != nil && ctx.Err() == nil {
		l.log.LogAttrs(ctx, slog.LevelWarn, l.what+": listen self-check not sent", slog.String("err", err.Error()))
	}
	return payload
}

// checked records a self-check's outcome: the state, the observer, and a log line when
// the state changes.
func (l *listener) checked(ctx context.Context, ok bool) {
	// The log first, then the state, then the observer: whoever sees the state or hears
	// the observer finds the log line written.
	was := l.failing
	l.failing = !ok
	state := DeliveryListening
	switch {
	case ok && was:
		l.log.LogAttrs(ctx, slog.LevelInfo, l.what+": LISTEN self-check passed: notifications arrive again", slog.String("channel", l.channel))
	case !ok:
		state = DeliveryPolling
		if !was {
			l.log.LogAttrs(ctx, slog.LevelWarn, l.what+": LISTEN self-check failed: a notification sent through the database pool did not arrive; delivery waits for polls (give --listen-database-url a direct connection to PostgreSQL, not through a pooler in transaction mode)",
				slog.String("channel", l.channel), slog.Duration("waited", l.check), slog.Duration("poll", l.idle))
		}
	}
	l.setState(state)
	if l.obs != nil {
		l.obs.ListenChecked(l.channel, ok)
	}
}
