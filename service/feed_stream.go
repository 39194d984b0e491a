package service

// One subscription of the revocation feed: its replay from the log, then what the hub
// routes to it (feed.go).

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
)

// FeedEvent is one thing to send on a stream. ID is the revocation's id (FeedRevoke) or
// the position the stream continues from (FeedReset, FeedReady).
type FeedEvent struct {
	Type       string
	ID         int64
	Revocation db.Revocation
}

// Subscription is one open stream. Next and Close may be called from one goroutine.
type Subscription struct {
	f        *Feed
	tenant   uuid.UUID
	clientID string
	ch       chan []db.Revocation
	gone     chan struct{} // closed when the hub drops the subscription
	why      error         // why gone was closed; written before
	start    int64         // the hub's position at Subscribe: rows above it come through ch
	closed   sync.Once

	// Next's own state.
	sent    int64 // the largest id handed out (or the caller's lastID)
	resume  bool
	live    bool
	pending []FeedEvent
	recheck bool      // a client or tenant event went out: is the client still allowed?
	ending  bool      // access ended: pending holds the last revocations, then the stream ends
	secret  [32]byte  // SHA-256 of the secret the stream authenticated with
	checked time.Time // when the client's access was last checked
}

// Next returns the stream's next event: the replay (or a reset), then ready, then each new
// revocation in id order, and a ping after Heartbeat of silence. After a client event of
// the subscriber's own client, or a tenant event, it checks that the client may still
// follow the feed. It returns ErrFeedShutdown, ErrFeedTooSlow, ErrFeedAccessEnded, ctx's
// error or the database's; the stream is over then. A stream whose client lost access by a
// revocation (its client's or its tenant's) delivers the revocations up to that one first.
func (s *Subscription) Next(ctx context.Context) (FeedEvent, error) {
	if s.ending && len(s.pending) == 0 {
		return FeedEvent{}, ErrFeedAccessEnded
	}
	for len(s.pending) == 0 {
		select {
		case <-s.gone:
			return FeedEvent{}, s.why
		default:
		}
		if err := s.fill(ctx); err != nil {
			return FeedEvent{}, err
		}
	}
	// A client that lost introspect or had its secret rotated out writes no revocation, so
	// access is also checked at each heartbeat, and before events go out once
	// FeedConfig.Recheck has passed since the last check.
	if now := s.f.clock(); !s.ending && (s.recheck || now.Sub(s.checked) >= s.f.cfg.Recheck) {
		s.recheck, s.checked = false, now
		if err := s.f.allowed(ctx, s); err != nil {
			if !errors.Is(err, ErrFeedAccessEnded) {
				return FeedEvent{}, err
			}
			told, lerr := s.lastWords(ctx)
			if lerr != nil {
				return FeedEvent{}, lerr
			}
			if !told {
				return FeedEvent{}, err
			}
			s.ending = true
		}
	}
	ev := s.pending[0]
	if s.pending = s.pending[1:]; len(s.pending) == 0 {
		s.pending = nil
	}
	if !s.ending && s.endsAccess(ev) {
		s.recheck = true
	}
	return ev, nil
}

// endsAccess reports whether ev may have ended the subscriber's access: a revocation of its
// own client or of its tenant.
func (s *Subscription) endsAccess(ev FeedEvent) bool {
	r := ev.Revocation
	return ev.Type == FeedRevoke && (r.Kind == db.RevokedTenant || r.Kind == db.RevokedClient && r.Subject == s.clientID)
}

// lastWords runs when the client has lost access: of the revocations queued and those the
// log holds beyond them (committed, like the change the check saw), it keeps those up to
// the first that ended the access, so that the stream tells why before it ends; a check
// can come before that revocation reaches the stream (at a heartbeat, or once
// FeedConfig.Recheck has passed). It reports false when none of them did (introspect removed,
// secret rotated out): nothing more goes out then.
func (s *Subscription) lastWords(ctx context.Context) (bool, error) {
	var evs []FeedEvent
	for _, ev := range s.pending {
		if ev.Type == FeedRevoke {
			evs = append(evs, ev)
		}
	}
	p, err := s.f.store.TenantRevocations(ctx, s.tenant, s.sent, math.MaxInt64, feedPage)
	if err != nil {
		return false, err
	}
	for _, r := range p.Rows {
		evs = append(evs, FeedEvent{Type: FeedRevoke, ID: r.ID, Revocation: r})
	}
	for i, ev := range evs {
		if s.endsAccess(ev) {
			s.pending = evs[:i+1]
			s.sent = ev.ID
			return true, nil
		}
	}
	return false, nil
}

// fill queues the next events: a page of the replay, or what the hub sends.
func (s *Subscription) fill(ctx context.Context) error {
	if !s.live {
		return s.replay(ctx)
	}
	hb := time.NewTimer(s.f.cfg.Heartbeat)
	defer hb.Stop()
	select {
	case batch := <-s.ch:
		for _, r := range batch {
			if r.ID > s.sent {
				s.pending = append(s.pending, FeedEvent{Type: FeedRevoke, ID: r.ID, Revocation: r})
				s.sent = r.ID
			}
		}
	case <-s.gone:
		return s.why
	case <-ctx.Done():
		return ctx.Err()
	case <-hb.C:
		s.pending = append(s.pending, FeedEvent{Type: FeedPing})
		s.recheck = true
	}
	return nil
}

// replay queues one page of the tenant's log between the subscriber's position and the
// hub's position at Subscribe, or a reset when the log no longer reaches back to it (or
// never held it); the last page is followed by ready.
func (s *Subscription) replay(ctx context.Context) error {
	if !s.resume {
		s.sent = s.start
		s.goLive()
		return nil
	}
	p, err := s.f.store.TenantRevocations(ctx, s.tenant, s.sent, s.start, feedPage)
	if err != nil {
		return err
	}
	if s.sent < 0 || s.sent > p.Head || s.sent < p.Oldest-1 {
		s.sent = s.start
		s.pending = append(s.pending, FeedEvent{Type: FeedReset, ID: s.start})
		s.goLive()
		return nil
	}
	for _, r := range p.Rows {
		s.pending = append(s.pending, FeedEvent{Type: FeedRevoke, ID: r.ID, Revocation: r})
		s.sent = r.ID
	}
	if len(p.Rows) < feedPage {
		// A subscriber ahead of this hub (it came from a faster instance) skips what the
		// hub sends up to its own position.
		s.sent = max(s.sent, s.start)
		s.goLive()
	}
	return nil
}

func (s *Subscription) goLive() {
	s.live = true
	s.pending = append(s.pending, FeedEvent{Type: FeedReady, ID: s.sent})
}

// Close ends the subscription and frees its place under the caps.
func (s *Subscription) Close() {
	s.closed.Do(func() {
		f := s.f
		f.mu.Lock()
		defer f.mu.Unlock()
		f.dropLocked(s, ErrFeedShutdown)
		f.open--
		if f.perTenant[s.tenant]--; f.perTenant[s.tenant] == 0 {
			delete(f.perTenant, s.tenant)
		}
		if f.cfg.Gauge != nil {
			f.cfg.Gauge.Dec()
		}
		if f.draining && f.open == 0 {
			close(f.drained)
		}
	})
}
