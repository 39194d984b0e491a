// Package service holds jeton's business rules: the OAuth grants, introspection,
// revocation and the administration of tenants, clients and users. The CLI (cmd/jeton) and
// the HTTP API (api) both call it; neither validates input or talks SQL on its own.
package service

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/keyring"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/webhooks"
)

// Config holds the deployment-wide defaults that tenants and clients may override.
type Config struct {
	Hash              password.Params
	AccessTTL         time.Duration
	RefreshIdleTTL    time.Duration
	RefreshMaxTTL     time.Duration
	EventRetention    time.Duration // 0 keeps events of tenants without an override forever
	FeedRetention     time.Duration // revocation log kept for feed replay; 0 keeps it forever
	MinPasswordLength int
	SweepBatch        int // rows the sweeper deletes per statement

	// HashWorkers bounds concurrent argon2id computations (0: one per CPU, GOMAXPROCS);
	// HashQueue bounds the logins waiting for one (0: 32 per worker). HashMaxWait, when
	// positive, also refuses a login that could not expect its verification done within
	// it, judging by the queue ahead and how long verifications took lately: a queued
	// login must still be answered within the request's timeout, however slow the machine
	// is at the moment. A login refused either way gets ErrBusy before any work.
	HashWorkers int
	HashQueue   int
	HashMaxWait time.Duration
	// Throttle limits failed password logins; tenants may override its thresholds within
	// its maxima.
	Throttle Throttle
	// Keys seals the factor secrets of second factors (JETON_SECRET_KEYS or
	// --secret-keys-file); nil: none, and no tenant may have an mfa_policy but off.
	Keys *keyring.Ring
	// BreachCheckLogin checks a correct password at login against the breached list: a hit
	// makes the user change it (reason breached) before getting tokens.
	BreachCheckLogin bool

	// The maxima bound the lifetime and retention overrides of tenants and clients, so a
	// tenant's own admin key cannot stretch them past what the deployment allows. 0 means
	// no bound beyond ten years.
	MaxAccessTTL      time.Duration
	MaxRefreshIdleTTL time.Duration
	MaxRefreshMaxTTL  time.Duration
	MaxEventRetention time.Duration

	// AllowInsecureHooks lets a tenant's legacy-login hook be http and reach loopback and
	// private addresses (tests, private deployments).
	AllowInsecureHooks bool
}

// DefaultConfig is what jeton ships with: OWASP's argon2id floor, 15-minute access tokens,
// 14-day refresh idle and 90-day session lifetimes, 90 days of events, a day of the
// revocation log, 15-character
// passwords (NIST SP 800-63B-4 for single-factor passwords), sweeper batches of 1000 rows;
// overrides of at most 24 hours for access tokens, 90 days of refresh idleness, a year of
// session and a year of events; the login throttles of DefaultThrottle.
func DefaultConfig() Config {
	return Config{
		Throttle:          DefaultThrottle(),
		Hash:              password.OWASP,
		AccessTTL:         15 * time.Minute,
		RefreshIdleTTL:    14 * 24 * time.Hour,
		RefreshMaxTTL:     90 * 24 * time.Hour,
		EventRetention:    90 * 24 * time.Hour,
		FeedRetention:     24 * time.Hour,
		MinPasswordLength: 15,
		SweepBatch:        1000,
		MaxAccessTTL:      24 * time.Hour,
		MaxRefreshIdleTTL: 90 * 24 * time.Hour,
		MaxRefreshMaxTTL:  365 * 24 * time.Hour,
		MaxEventRetention: 365 * 24 * time.Hour,
	}
}

// Service runs jeton's operations on a store.
type Service struct {
	store *db.Store
	cfg   Config
	now   func() time.Time
	rand  io.Reader
	log   *slog.Logger
	dummy string // a hash no password matches: what unknown users are verified against

	hasher  *password.Pool // every argon2id computation runs on it
	clients *clientCache   // clients of past client_credentials grants (ClientCredentials)
	obs     Observer       // hears what happened, for metrics (WithObserver)
	pad     *failurePad    // pads failed verifications to the slowest parameters stored
	legacy  *legacyHooks   // calls tenants' legacy-login hooks (legacylogin.go)

	// duringSweep, when set by the package's tests, runs in a sweep pass's first batch
	// while it holds the lock.
	duringSweep func()
	// hashers, when set by WithHashers, are the hashing pool's workers.
	hashers []password.Hasher
	// keys seals and opens factor secrets (WithKeyRing); nil: none configured.
	keys *keyring.Ring
	// sender checks webhook URLs and sends test deliveries (WithWebhookSender).
	sender *webhooks.Sender
	// breached, when set by WithBreachList, is the breached-password filter.
	breached breachList
}

// Option adjusts a Service at construction.
type Option func(*Service)

// WithClock makes the service read time from now (tests move it without sleeping).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger gives the service a logger for its background work (the sweeper); by default
// it logs nothing.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithHashers runs the hashing pool's workers on hs (one worker each, so HashWorkers is
// ignored), e.g. password.ProcessWorkers; by default they are password.Local in this
// process. Close closes them.
func WithHashers(hs []password.Hasher) Option { return func(s *Service) { s.hashers = hs } }

// New returns a Service. It returns an error only if it cannot make the dummy hash.
func New(store *db.Store, cfg Config, opts ...Option) (*Service, error) {
	if cfg.Throttle == (Throttle{}) {
		cfg.Throttle = DefaultThrottle()
	}
	s := &Service{store: store, cfg: cfg, now: time.Now, rand: rand.Reader,
		log: slog.New(slog.DiscardHandler), pad: &failurePad{}, legacy: &legacyHooks{}, obs: NopObserver{},
		clients: newClientCache(), sender: webhooks.NewSender(webhooks.SenderConfig{UserAgent: "jeton"})}
	for _, o := range opts {
		o(s)
	}
	if s.keys == nil {
		s.keys = cfg.Keys
	}
	workers := cfg.HashWorkers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if s.hashers != nil {
		workers = len(s.hashers)
	}
	queue := cfg.HashQueue
	if queue <= 0 {
		queue = 32 * workers
	}
	hashers := s.hashers
	if hashers == nil {
		hashers = password.LocalWorkers(workers, s.rand)
	}
	s.hasher = password.NewPool(hashers, queue, cfg.HashMaxWait)
	dummy, err := password.Unmatchable(cfg.Hash, s.rand)
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	s.dummy = dummy
	return s, nil
}

// Close closes the hashing workers (see WithHashers), waiting for the computations
// running. The service must not be used afterwards.
func (s *Service) Close() error { return s.hasher.Close() }

// HashWorkers returns how many argon2id computations may run at once.
func (s *Service) HashWorkers() int { return s.hasher.Workers() }

// HashRuns returns how many times the hashing pool ran a password verification (with its
// rehash) or a password hash since the service started.
func (s *Service) HashRuns() int64 { return s.hasher.Runs() }

// HashLoad returns how many argon2id computations are running and how many admitted
// logins wait for a worker, right now.
func (s *Service) HashLoad() (running, waiting int) { return s.hasher.Load() }

// HashCapacity returns how many logins the hashing pool admits at most, running or
// waiting; more are refused with ErrBusy.
func (s *Service) HashCapacity() int { return s.hasher.Capacity() }

// Now returns the service clock's time, truncated to PostgreSQL's microseconds.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Ready reports whether the database answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// event starts an event of kind by actor at the service's now.
func (s *Service) event(kind string, actor db.Actor, tenant *db.Tenant) db.Event {
	e := db.Event{At: s.Now(), Kind: kind, Actor: actor}
	if tenant != nil {
		id := tenant.ID
		e.TenantID = &id
	}
	return e
}

// userEvent starts an event of kind about the tenant's user u, who is its subject.
func (s *Service) userEvent(kind string, actor db.Actor, t db.Tenant, u db.User) db.Event {
	ev := s.event(kind, actor, &t)
	ev.UserID, ev.SubjectType, ev.SubjectID, ev.SubjectName = u.ID.String(), "user", u.ID.String(), u.Username
	return ev
}

// setDefault replaces a config setting left at zero (or set negative) with def: the
// background workers' configs treat every count and duration they hold that way.
func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
