package service

// The revocation feed's hub (docs/FEED.md). One Feed per process holds one LISTEN
// connection; on each notification it reads the log once, for every tenant, from the
// last id it routed, and hands each tenant's rows to that tenant's subscriptions. A
// subscription replays what it missed from the log itself, then follows the hub. Ids are
// handed out in commit order (db.appendRevocation), so "everything above the last id seen"
// is exact: nothing committed later can carry a smaller id.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
)

// Feed event types, as the stream names them.
const (
	FeedRevoke = "revoke" // one revocation
	FeedReset  = "reset"  // the subscriber's position was trimmed away: drop everything
	FeedReady  = "ready"  // the replay is over: the stream is live
	FeedPing   = "ping"   // a heartbeat
)

var (
	// ErrFeedFull means the open streams are at a cap, the process's or the tenant's.
	ErrFeedFull = errors.New("too many revocation feed streams")
	// ErrFeedShutdown means the feed was drained because the server is shutting down.
	ErrFeedShutdown = errors.New("revocation feed shutting down")
	// ErrFeedTooSlow means the subscriber fell further behind than its buffer.
	ErrFeedTooSlow = errors.New("revocation feed subscriber too slow")
	// ErrFeedAccessEnded means the subscriber's client or tenant was disabled or deleted,
	// or the client lost the introspect permission.
	ErrFeedAccessEnded = errors.New("revocation feed client no longer allowed")
)

// FeedConfig bounds the feed. A zero field takes DefaultFeedConfig's value.
type FeedConfig struct {
	// MaxStreams caps the open streams of the process, MaxStreamsPerTenant those of one
	// tenant; more are refused with ErrFeedFull.
	MaxStreams          int
	MaxStreamsPerTenant int
	// Buffer is how many batches of new revocations a stream may have waiting before the
	// hub closes it as too slow (it reconnects and replays), rather than wait for it.
	Buffer int
	// Heartbeat is how long a stream stays silent before a ping.
	Heartbeat time.Duration
	// Poll is how often the hub reads the log without a notification: a safety net, and
	// the pace of delivery while the LISTEN connection is being re-established, while its
	// notifications do not arrive (a failed self-check), and with PollOnly.
	Poll time.Duration
	// PollOnly skips LISTEN, for deployments that cannot give each instance a direct
	// connection: revocations reach streams within Poll.
	PollOnly bool
	// ListenCheck is how long the LISTEN self-check waits for its notification
	// (DefaultListenCheck when zero).
	ListenCheck time.Duration
	// Observer, when not nil, hears the outcome of each LISTEN self-check.
	Observer ListenObserver
	// Recheck bounds how long a stream keeps delivering after its client lost access by a
	// change that writes no revocation (introspect removed, secret rotated out): once it
	// has passed since the last check, the next events wait for a check of their own.
	Recheck time.Duration
	// Gauge, when not nil, counts the open streams (metrics.Metrics.FeedStreams).
	Gauge Gauge
}

// Gauge is a number that goes up and down, such as a prometheus.Gauge.
type Gauge interface {
	Inc()
	Dec()
}

// DefaultFeedConfig is 1000 streams per process, 100 per tenant, 64 pending batches, a
// ping every 15 s, a poll every 30 s and an access recheck at least every second.
func DefaultFeedConfig() FeedConfig {
	return FeedConfig{MaxStreams: 1000, MaxStreamsPerTenant: 100, Buffer: 64,
		Heartbeat: 15 * time.Second, Poll: 30 * time.Second, Recheck: time.Second}
}

// FeedOption adjusts a Feed at construction.
type FeedOption func(*Feed)

// WithFeedClock makes the feed read time from now, as WithClock does for the Service (give
// both the same clock): when a subscriber's access was last checked, and which of its
// client's secrets are valid.
func WithFeedClock(now func() time.Time) FeedOption { return func(f *Feed) { f.now = now } }

const (
	feedPage       = 1000             // rows per read of the log
	feedStartWait  = 10 * time.Second // how long a subscriber waits for the hub's first read
	feedMinBackoff = 100 * time.Millisecond
	feedMaxBackoff = 10 * time.Second
	// feedConnectTimeout bounds opening the LISTEN connection.
	feedConnectTimeout = 10 * time.Second
)

// Feed fans the revocation log out to subscriptions, per tenant.
type Feed struct {
	store    *db.Store
	cfg      FeedConfig
	log      *slog.Logger
	now      func() time.Time
	listener *listener

	known chan struct{} // closed once last has been read from the log

	mu        sync.Mutex
	last      int64 // the largest id routed; rows above it reach subscriptions registered now
	subs      map[uuid.UUID]map[*Subscription]struct{}
	open      int // subscriptions not yet closed, routed or not
	perTenant map[uuid.UUID]int
	draining  bool
	drained   chan struct{} // closed when draining and open reaches 0
}

// NewFeed returns a feed over store's revocation log; it delivers nothing until Run runs.
func NewFeed(store *db.Store, cfg FeedConfig, log *slog.Logger, opts ...FeedOption) *Feed {
	d := DefaultFeedConfig()
	setDefault(&cfg.MaxStreams, d.MaxStreams)
	setDefault(&cfg.MaxStreamsPerTenant, d.MaxStreamsPerTenant)
	setDefault(&cfg.Buffer, d.Buffer)
	setDefault(&cfg.Heartbeat, d.Heartbeat)
	setDefault(&cfg.Poll, d.Poll)
	setDefault(&cfg.Recheck, d.Recheck)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{store: store, cfg: cfg, log: log, now: time.Now, known: make(chan struct{}),
		subs: map[uuid.UUID]map[*Subscription]struct{}{}, perTenant: map[uuid.UUID]int{}}
	f.listener = newListener(store, db.RevocationChannel, "revocation feed", log, cfg.Observer, cfg.Poll, cfg.ListenCheck)
	for _, o := range opts {
		o(f)
	}
	return f
}

// clock returns the feed clock's time, truncated to PostgreSQL's microseconds.
func (f *Feed) clock() time.Time { return f.now().UTC().Truncate(time.Microsecond) }

// Run follows the log until ctx ends: it LISTENs on a connection of its own, reads the log
// after every notification (and every Poll), and routes new rows. When the connection
// fails it reconnects with backoff, reading the log at each attempt, so nothing committed
// meanwhile is lost, only later. With PollOnly it only reads the log every Poll.
func (f *Feed) Run(ctx context.Context) {
	if f.cfg.PollOnly {
		f.poll(ctx)
		return
	}
	f.listener.run(ctx, listenHooks{
		connected: f.catchUp, // once listening, so nothing committed from then on is missed
		notified: func(ctx context.Context, payload string) error {
			if id := db.RevocationID(payload); id != 0 && id <= f.head() {
				return nil // routed already, by an earlier read
			}
			return f.catchUp(ctx)
		},
		idle: f.catchUp,
		lost: func(ctx context.Context) {
			if err := f.catchUp(ctx); err != nil && ctx.Err() == nil {
				f.log.LogAttrs(ctx, slog.LevelWarn, "revocation feed: read failed", slog.String("err", err.Error()))
			}
		},
	})
}

// poll reads the log every Poll until ctx ends.
func (f *Feed) poll(ctx context.Context) {
	for {
		if err := f.catchUp(ctx); err != nil && ctx.Err() == nil {
			f.log.LogAttrs(ctx, slog.LevelWarn, "revocation feed: read failed", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.cfg.Poll):
		}
	}
}

// Delivery says how new revocations reach this feed: DeliveryListening once its LISTEN
// self-check passed, DeliveryPolling when notifications do not arrive (or PollOnly),
// DeliveryStarting before the first check answered.
func (f *Feed) Delivery() string {
	if f.cfg.PollOnly {
		return DeliveryPolling
	}
	return f.listener.State()
}

// head returns the largest id routed.
func (f *Feed) head() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// catchUp routes every row above the last one routed; the first call only learns where
// the log ends. Only Run calls it, so reads never overlap.
func (f *Feed) catchUp(ctx context.Context) error {
	select {
	case <-f.known:
	default:
		head, err := f.store.RevocationHead(ctx)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.last = head
		f.mu.Unlock()
		close(f.known)
		return nil
	}
	for {
		rows, err := f.store.RevocationsAfter(ctx, f.head(), feedPage)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			f.route(rows)
		}
		if len(rows) < feedPage {
			return nil
		}
	}
}

// route hands rows, in id order, to the subscriptions of their tenants, one batch per
// tenant, without ever waiting: a subscription whose buffer is full is dropped.
func (f *Feed) route(rows []db.Revocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	batches := map[uuid.UUID][]db.Revocation{}
	var order []uuid.UUID
	for _, r := range rows {
		if len(f.subs[r.TenantID]) == 0 {
			continue
		}
		if _, seen := batches[r.TenantID]; !seen {
			order = append(order, r.TenantID)
		}
		batches[r.TenantID] = append(batches[r.TenantID], r)
	}
	for _, t := range order {
		for s := range f.subs[t] {
			select {
			case s.ch <- batches[t]:
			default:
				f.dropLocked(s, ErrFeedTooSlow)
			}
		}
	}
	f.last = rows[len(rows)-1].ID
}

// dropLocked stops routing to s and tells it why. f.mu is held.
func (f *Feed) dropLocked(s *Subscription, why error) {
	set := f.subs[s.tenant]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(f.subs, s.tenant)
	}
	s.why = why
	close(s.gone)
}

// Subscribe opens a stream of the revocations of ca's tenant for ca's client. With resume,
// it replays every revocation after lastID first, or starts with a reset when the log no
// longer reaches back to lastID or never held it (a negative lastID, one past the head);
// without, it starts at the head. It returns ErrFeedFull
// at a cap, ErrBusy while the feed is shutting down or has not yet read the log, or ctx's
// error. The caller must Close the subscription.
func (f *Feed) Subscribe(ctx context.Context, ca db.ClientAuth, secret string, lastID int64, resume bool) (*Subscription, error) {
	select {
	case <-f.known:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(feedStartWait):
		return nil, ErrBusy
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := ca.Tenant.ID
	switch {
	case f.draining:
		return nil, ErrBusy
	case f.open >= f.cfg.MaxStreams, f.perTenant[t] >= f.cfg.MaxStreamsPerTenant:
		return nil, ErrFeedFull
	}
	s := &Subscription{f: f, tenant: t, clientID: ca.Client.ID, secret: sha256.Sum256([]byte(secret)),
		ch: make(chan []db.Revocation, f.cfg.Buffer), gone: make(chan struct{}), start: f.last, sent: lastID,
		resume: resume, checked: f.clock()}
	if f.subs[t] == nil {
		f.subs[t] = map[*Subscription]struct{}{}
	}
	f.subs[t][s] = struct{}{}
	f.open++
	f.perTenant[t]++
	if f.cfg.Gauge != nil {
		f.cfg.Gauge.Inc()
	}
	return s, nil
}

// Streams returns how many subscriptions are open: the feed-streams gauge.
func (f *Feed) Streams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// Drain ends every subscription with ErrFeedShutdown, refuses new ones, and waits until
// all are closed or ctx ends. It returns ctx's error in the latter case.
func (f *Feed) Drain(ctx context.Context) error {
	f.mu.Lock()
	if !f.draining {
		f.draining = true
		f.drained = make(chan struct{})
		for _, set := range f.subs {
			for s := range set {
				f.dropLocked(s, ErrFeedShutdown)
			}
		}
		if f.open == 0 {
			close(f.drained)
		}
	}
	drained := f.drained
	f.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// allowed reports, as ErrFeedAccessEnded or the database's error, whether s's client may
// still follow the feed: the secret the stream was opened with still authenticates it
// (db.ClientAuth.Authenticates: it and its tenant enabled, the secret not rotated out),
// and it is still a resource server of the stream's tenant.
func (f *Feed) allowed(ctx context.Context, s *Subscription) error {
	a, err := f.store.ClientForAuth(ctx, s.clientID, f.clock())
	if errors.Is(err, db.ErrNotFound) {
		return ErrFeedAccessEnded
	}
	if err != nil {
		return fmt.Errorf("revocation feed: %w", err)
	}
	if !a.Authenticates(s.secret[:]) || !a.Client.Introspect || a.Tenant.ID != s.tenant {
		return ErrFeedAccessEnded
	}
	return nil
}
