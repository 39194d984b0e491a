package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jeton-auth/jeton/db"
)

// sweepLockKey is the PostgreSQL advisory lock each sweep batch's transaction takes, so
// that one instance sweeps at a time ("jetonsw"). Advisory locks are per database, so
// each deployment has its own.
const sweepLockKey int64 = 0x6a65746f6e7377

// defaultSweepBatch is used when Config.SweepBatch is not set.
const defaultSweepBatch = 1000

// sweepPause is how many times a batch's duration the sweep waits before the next batch.
const sweepPause = 3

// SweepStats counts what one sweep pass deleted.
type SweepStats struct {
	// Skipped is true when another instance held the sweep lock at this pass's first
	// batch, so this one did nothing.
	Skipped bool
	// Tokens counts expired access and refresh tokens.
	Tokens int64
	// Sessions counts sessions past their absolute lifetime and revoked sessions with no
	// token left.
	Sessions int64
	// Events counts events older than their tenant's retention.
	Events int64
	// Revocations counts rows of the revocation log older than Config.FeedRetention.
	Revocations int64
	// TenantRows counts rows of deleted tenants (tokens, sessions, client secrets, clients,
	// users, admin keys).
	TenantRows int64
	// Throttles counts login throttle counters past their window, and known addresses
	// without a successful login within Throttle.KnownFor.
	Throttles int64
	// WebhookDeliveries counts finished entries of webhook delivery logs whose event is gone.
	WebhookDeliveries int64
}

// Sweep runs one cleanup pass, unless another instance is running one. Each batch runs in
// a transaction that first takes a PostgreSQL transaction-level advisory lock, so no two
// instances ever delete at once, and the lock needs no session that outlives a
// transaction (a pooler in transaction mode keeps none): a batch that finds the lock
// taken ends the pass, which is Skipped if it had done nothing yet. A pass deletes, in
// batches of Config.SweepBatch rows until a batch comes back short: expired tokens (a
// used refresh token stays until its own expiry, as long as reuse detection needs it),
// sessions past their absolute lifetime, revoked sessions with no token left, events older
// than their tenant's retention (else Config.EventRetention), revocation log rows older
// than Config.FeedRetention, the rows of deleted tenants, login throttle counters past
// their window and known login addresses older than Throttle.KnownFor. Time is the service
// clock's at the start of the pass. After a full batch the pass waits sweepPause times
// as long as that batch took before the next one. It returns the counts so far with the first database
// error, or ctx's error.
func (s *Service) Sweep(ctx context.Context) (st SweepStats, err error) {
	start := time.Now()
	defer func() { s.obs.Swept(st, time.Since(start), err) }()
	batch := s.cfg.SweepBatch
	if batch <= 0 {
		batch = defaultSweepBatch
	}
	now := s.Now()
	// Tokens first: once they are gone, deleting a session cascades into nothing.
	steps := []struct {
		count *int64
		run   func(context.Context, *db.Store) (int64, error)
	}{
		{&st.Tokens, func(ctx context.Context, l *db.Store) (int64, error) { return l.SweepExpiredTokens(ctx, now, batch) }},
		{&st.Sessions, func(ctx context.Context, l *db.Store) (int64, error) { return l.SweepExpiredSessions(ctx, now, batch) }},
		{&st.Sessions, func(ctx context.Context, l *db.Store) (int64, error) { return l.SweepRevokedSessions(ctx, batch) }},
		{&st.Events, func(ctx context.Context, l *db.Store) (int64, error) {
			return l.SweepEvents(ctx, now, s.cfg.EventRetention, batch)
		}},
		{&st.Revocations, func(ctx context.Context, l *db.Store) (int64, error) {
			if s.cfg.FeedRetention <= 0 {
				return 0, nil
			}
			return l.SweepRevocations(ctx, now.Add(-s.cfg.FeedRetention), batch)
		}},
		{&st.WebhookDeliveries, func(ctx context.Context, l *db.Store) (int64, error) { return l.SweepWebhookDeliveries(ctx, batch) }},
		{&st.TenantRows, func(ctx context.Context, l *db.Store) (int64, error) { return l.PurgeDeletedTenants(ctx, batch) }},
		{&st.Throttles, func(ctx context.Context, l *db.Store) (int64, error) { return l.SweepLoginThrottles(ctx, now, batch) }},
		{&st.Throttles, func(ctx context.Context, l *db.Store) (int64, error) {
			return l.SweepKnownIPs(ctx, now.Add(-s.cfg.Throttle.KnownFor), batch)
		}},
		{&st.Tokens, func(ctx context.Context, l *db.Store) (int64, error) { return l.SweepMFATokens(ctx, now, batch) }},
		{&st.Throttles, func(ctx context.Context, l *db.Store) (int64, error) { return l.SweepMFAFailures(ctx, now, batch) }},
		{&st.Tokens, func(ctx context.Context, l *db.Store) (int64, error) {
			return l.SweepAuthCodes(ctx, now.Add(-AuthCodeReuseWindow), batch)
		}},
	}
	first := true
	for _, step := range steps {
		for {
			if err := ctx.Err(); err != nil {
				return st, fmt.Errorf("sweep: %w", err)
			}
			var n int64
			began := time.Now()
			ran, err := s.store.WithXactLock(ctx, sweepLockKey, func(ctx context.Context, locked *db.Store) error {
				if first && s.duringSweep != nil {
					s.duringSweep()
				}
				var err error
				n, err = step.run(ctx, locked)
				return err
			})
			*step.count += n
			if err != nil {
				return st, fmt.Errorf("sweep: %w", err)
			}
			if !ran {
				// Another instance is sweeping; it goes on where this pass stops.
				st.Skipped = first
				return st, nil
			}
			first = false
			if n < int64(batch) {
				break
			}
			// Paced: the next batch waits three times as long as this one took, so a long
			// sweep works at most a quarter of the time and leaves the rest to the
			// requests beside it (and to the vacuums its deletes bring).
			Wait(ctx, sweepPause*time.Since(began))
		}
	}
	return st, nil
}

// RunSweeper runs Sweep at once and then every interval until ctx is done. A failed pass
// is logged and tried again at the next tick; the log carries counts and error messages,
// never token material. every must be positive.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		st, err := s.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.LogAttrs(ctx, slog.LevelError, "sweep failed", slog.String("err", err.Error()),
				slog.Int64("tokens", st.Tokens), slog.Int64("sessions", st.Sessions),
				slog.Int64("events", st.Events), slog.Int64("tenant_rows", st.TenantRows),
				slog.Int64("throttles", st.Throttles))
		case st.Skipped:
			s.log.LogAttrs(ctx, slog.LevelDebug, "sweep skipped: another instance holds the lock")
		default:
			s.log.LogAttrs(ctx, slog.LevelInfo, "sweep done",
				slog.Int64("tokens", st.Tokens), slog.Int64("sessions", st.Sessions),
				slog.Int64("events", st.Events), slog.Int64("tenant_rows", st.TenantRows),
				slog.Int64("throttles", st.Throttles))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
