package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// sweepLockKey is the PostgreSQL advisory lock that elects the one instance sweeping at a
// time ("jetonsw"). Advisory locks are per database, so each deployment has its own.
const sweepLockKey int64 = 0x6a65746f6e7377

// defaultSweepBatch is used when Config.SweepBatch is not set.
const defaultSweepBatch = 1000

// SweepStats counts what one sweep pass deleted.
type SweepStats struct {
	// Skipped is true when another instance held the sweep lock, so this one did nothing.
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
}

// Sweep runs one cleanup pass, unless another instance is running one: it takes a
// PostgreSQL advisory lock and otherwise returns at once with Skipped set. A pass deletes,
// in batches of Config.SweepBatch rows until a batch comes back short: expired tokens
// (a used refresh token stays until its own expiry, as long as reuse detection needs it),
// sessions past their absolute lifetime, revoked sessions with no token left, events older
// than their tenant's retention (else Config.EventRetention), revocation log rows older
// than Config.FeedRetention, the rows of deleted
// tenants, login throttle counters past their window and known login addresses older than
// Throttle.KnownFor. Time is the service clock's at the start of the pass. It returns the counts so
// far with the first database error, or ctx's error.
func (s *Service) Sweep(ctx context.Context) (st SweepStats, err error) {
	start := time.Now()
	defer func() { s.obs.Swept(st, time.Since(start), err) }()
	batch := s.cfg.SweepBatch
	if batch <= 0 {
		batch = defaultSweepBatch
	}
	ran, err := s.store.WithAdvisoryLock(ctx, sweepLockKey, func(ctx context.Context) error {
		if s.duringSweep != nil {
			s.duringSweep()
		}
		now := s.Now()
		// Tokens first: once they are gone, deleting a session cascades into nothing.
		steps := []struct {
			count *int64
			run   func(context.Context) (int64, error)
		}{
			{&st.Tokens, func(ctx context.Context) (int64, error) { return s.store.SweepExpiredTokens(ctx, now, batch) }},
			{&st.Sessions, func(ctx context.Context) (int64, error) { return s.store.SweepExpiredSessions(ctx, now, batch) }},
			{&st.Sessions, func(ctx context.Context) (int64, error) { return s.store.SweepRevokedSessions(ctx, batch) }},
			{&st.Events, func(ctx context.Context) (int64, error) {
				return s.store.SweepEvents(ctx, now, s.cfg.EventRetention, batch)
			}},
			{&st.Revocations, func(ctx context.Context) (int64, error) {
				if s.cfg.FeedRetention <= 0 {
					return 0, nil
				}
				return s.store.SweepRevocations(ctx, now.Add(-s.cfg.FeedRetention), batch)
			}},
			{&st.TenantRows, func(ctx context.Context) (int64, error) { return s.store.PurgeDeletedTenants(ctx, batch) }},
			{&st.Throttles, func(ctx context.Context) (int64, error) { return s.store.SweepLoginThrottles(ctx, now, batch) }},
			{&st.Throttles, func(ctx context.Context) (int64, error) {
				return s.store.SweepKnownIPs(ctx, now.Add(-s.cfg.Throttle.KnownFor), batch)
			}},
		}
		for _, step := range steps {
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				n, err := step.run(ctx)
				*step.count += n
				if err != nil {
					return err
				}
				if n < int64(batch) {
					break
				}
			}
		}
		return nil
	})
	st.Skipped = !ran && err == nil
	if err != nil {
		return st, fmt.Errorf("sweep: %w", err)
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
