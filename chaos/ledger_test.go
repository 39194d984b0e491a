package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ledger is the clients' own record of what jeton gave them and what they revoked, with
// acknowledgement: a token is in it once its response arrived, a revocation once it was
// answered 200. Everything the checks expect comes from here.
type ledger struct {
	mu       sync.Mutex
	sessions []*session

	reuseKills      int // sessions lost to reuse detection after a refresh without an answer
	deliberateReuse int // reuse detections the instances scenario caused on purpose
}

func newLedger() *ledger { return &ledger{} }

// session is one password-grant login and its refreshes, as its client holds it. Its
// owner (one worker, the admin, or the checkpoint) holds mu while using it.
type session struct {
	mu     sync.Mutex
	user   string
	victim *victim // nil for a load user's session
	rt     string  // the current refresh token
	// rtUnsure: the last refresh with rt got no answer, or a 503; it may have committed, so
	// presenting rt again may trip reuse detection.
	rtUnsure bool
	// reuseUnsure: rt was presented again, while unsure, without an answer: reuse detection
	// may have revoked the session. The checkpoint finds out before expecting anything.
	reuseUnsure bool
	ats         []*access
	// dead says why the session is over: "revoked" (its refresh token was revoked),
	// "user" (a user-wide revocation), "reuse" (reuse detection; reused is the refresh
	// token presented, whose hash the refresh_reuse_detected event must carry).
	dead   string
	reused string
	// unsure: a revocation of the session (or of the user) was sent without an answer: the
	// checks cannot tell what to expect of it.
	unsure bool
}

// access is one access token and whether its revocation was acknowledged.
type access struct {
	token   string
	revoked bool
	unsure  bool // a revocation was sent and not answered
}

func (l *ledger) add(s *session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sessions = append(l.sessions, s)
}

func (l *ledger) all() []*session {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*session(nil), l.sessions...)
}

// expect says what introspection must answer for a: active or not, or nothing
// (known=false) while a revocation is unanswered. s.mu is held.
func (s *session) expect(a *access) (active, known bool) {
	if a.unsure || s.reuseUnsure || (s.unsure && s.dead == "") {
		return false, false
	}
	return !a.revoked && s.dead == "", true
}

// kill marks the session over, and every access token of it revoked. s.mu is held.
func (s *session) kill(why string) {
	s.dead = why
	for _, a := range s.ats {
		a.revoked = true
	}
}

// latest returns the newest access token, nil when there is none.
func (s *session) latest() *access {
	if len(s.ats) == 0 {
		return nil
	}
	return s.ats[len(s.ats)-1]
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// checkpoint runs with the load stopped and every instance ready: every token any client
// was given is live unless its revocation was acknowledged (or reuse detection killed its
// session, with its event); no revoked token is active on any instance; every live
// session's refresh token still refreshes; the admin's acknowledged changes hold.
func (e *env) checkpoint(ctx context.Context, p *phase) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := e.waitAllReady(ctx); err != nil {
		p.violate("checkpoint: %v", err)
		return
	}
	bases := e.bases()
	sessions := e.ledger.all()
	var (
		mu                                      sync.Mutex
		live, revoked, refreshed, deadRTRefused int
	)
	jobs := make(chan *session)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := w
			for s := range jobs {
				s.mu.Lock()
				if s.reuseUnsure && s.dead == "" {
					if e.refreshSure(ctx, p, bases[n%len(bases)], s) || s.dead != "" {
						s.reuseUnsure = false
					}
					n++
				}
				for _, a := range s.ats {
					active, known := s.expect(a)
					if !known {
						continue
					}
					targets := []string{bases[n%len(bases)]}
					if !active {
						targets = bases // refused everywhere
					}
					n++
					for _, b := range targets {
						got, ok := e.introspectSure(ctx, p, b, a.token)
						if !ok {
							continue
						}
						if got != active {
							if active {
								p.violate("checkpoint: a live access token of %s (session %s) is inactive on %s", s.user, s.dead, b)
							} else {
								p.violate("checkpoint: a revoked access token of %s is active on %s", s.user, b)
							}
						}
					}
					mu.Lock()
					if active {
						live++
					} else {
						revoked++
					}
					mu.Unlock()
				}
				b := bases[n%len(bases)]
				n++
				switch {
				case s.unsure:
				case s.dead == "":
					if e.refreshSure(ctx, p, b, s) {
						mu.Lock()
						refreshed++
						mu.Unlock()
					}
				case s.dead != "reuse":
					// Presenting a used refresh token would trip reuse detection again; a
					// revoked session's last one is unused and simply refused.
					a := e.call(ctx, b, "/token", e.seed.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.rt}})
					if c := classify(a, requestTimeout+hangMargin, status(http.StatusBadRequest)); c == ok && a.body["error"] == "invalid_grant" {
						mu.Lock()
						deadRTRefused++
						mu.Unlock()
					} else if c != unavailable {
						p.violate("checkpoint: the refresh token of a revoked session of %s was not refused on %s: %d %v", s.user, b, a.status, a.body)
					}
				}
				s.mu.Unlock()
			}
		}()
	}
	for _, s := range sessions {
		jobs <- s
	}
	close(jobs)
	wg.Wait()

	// Reuse detection counts as an explicit revocation only with its event.
	events, err := e.reuseEvents(ctx)
	if err != nil {
		p.violate("checkpoint: %v", err)
	}
	kills := 0
	for _, s := range sessions {
		if s.dead == "reuse" {
			kills++
			if events != nil && !events[tokenHash(s.reused)] {
				p.violate("checkpoint: a session of %s died by reuse detection without a refresh_reuse_detected event", s.user)
			}
		}
	}
	e.checkAdminState(ctx, p)
	e.ledger.mu.Lock()
	deliberate := e.ledger.deliberateReuse
	e.ledger.mu.Unlock()
	p.note("checkpoint: %d sessions; %d live access tokens introspected on one instance, %d revoked ones on all %d; "+
		"%d refresh tokens rotated, %d revoked ones refused; since the start, %d sessions ended by reuse detection after an "+
		"unanswered refresh (each with its refresh_reuse_detected event), %d on purpose", len(sessions), live, revoked, len(bases),
		refreshed, deadRTRefused, kills-deliberate, deliberate)
}

// introspectSure introspects tok on base, retrying 503s for a while: at a checkpoint the
// database is back. It returns the active flag, or false when no answer came.
func (e *env) introspectSure(ctx context.Context, p *phase, base, tok string) (active, answered bool) {
	for try := 0; ; try++ {
		a := e.call(ctx, base, "/introspect", e.seed.rs, url.Values{"token": {tok}})
		c := classify(a, requestTimeout+hangMargin, status(http.StatusOK))
		if c == ok {
			return a.body["active"] == true, true
		}
		if c != unavailable || try == 20 || ctx.Err() != nil {
			p.add("checkpoint introspect", base, a, c)
			if c == unavailable {
				p.violate("checkpoint: %s still answers 503 to introspection", base)
			}
			return false, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// refreshSure refreshes s (its mu held) on base. A refresh token whose last refresh went
// unanswered may have been used by it: then reuse detection ends the session, which the
// event check verifies. It reports whether the session was rotated.
func (e *env) refreshSure(ctx context.Context, p *phase, base string, s *session) bool {
	for try := 0; ; try++ {
		a := e.call(ctx, base, "/token", e.seed.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.rt}})
		c := classify(a, requestTimeout+hangMargin, func(a answer) bool {
			return a.status == http.StatusOK || a.status == http.StatusBadRequest && a.body["error"] == "invalid_grant"
		})
		switch {
		case c == ok && a.status == http.StatusOK:
			s.rt, s.rtUnsure = a.body["refresh_token"].(string), false
			s.ats = append(s.ats, &access{token: a.body["access_token"].(string)})
			return true
		case c == ok && s.rtUnsure:
			s.kill("reuse")
			s.reused = s.rt
			return false
		case c == ok:
			p.violate("checkpoint: the live refresh token of %s was refused on %s: %v", s.user, base, a.body)
			return false
		case c == unavailable && try < 20 && ctx.Err() == nil:
			s.rtUnsure = true
			time.Sleep(100 * time.Millisecond)
			continue
		}
		p.add("checkpoint refresh", base, a, c)
		if c == unavailable {
			p.violate("checkpoint: %s still answers 503 to refresh", base)
		}
		s.rtUnsure = true
		return false
	}
}

// checkAdminState checks what the admin's acknowledged changes promise: each victim logs
// in with its current password unless disabled, never with its last retired one; the
// rotated client authenticates with its current secret, never with its last retired one.
func (e *env) checkAdminState(ctx context.Context, p *phase) {
	bases := e.bases()
	for i, v := range e.seed.victims {
		b := bases[i%len(bases)]
		a := e.login(ctx, b, v.name, v.password)
		switch {
		case v.disabled && (a.status == http.StatusBadRequest || a.status == http.StatusTooManyRequests):
		case !v.disabled && a.status == http.StatusOK:
			e.adopt(v, a)
		default:
			p.violate("checkpoint: login of %s (disabled %v) on %s: %d %v", v.name, v.disabled, b, a.status, a.body)
		}
		if n := len(v.retired); n > 0 {
			a := e.login(ctx, bases[(i+1)%len(bases)], v.name, v.retired[n-1])
			if a.status != http.StatusBadRequest && a.status != http.StatusTooManyRequests {
				p.violate("checkpoint: %s logged in with a retired password: %d %v", v.name, a.status, a.body)
			}
		}
	}
	r := e.seed.rot
	r.mu.Lock()
	defer r.mu.Unlock()
	a := e.call(ctx, bases[0], "/token", clientCreds{r.id, r.secret}, url.Values{"grant_type": {"client_credentials"}})
	if a.status != http.StatusOK {
		p.violate("checkpoint: the rotated client's current secret is refused: %d %v", a.status, a.body)
	}
	if n := len(r.retired); n > 0 {
		a := e.call(ctx, bases[len(bases)-1], "/token", clientCreds{r.id, r.retired[n-1]}, url.Values{"grant_type": {"client_credentials"}})
		if a.status != http.StatusUnauthorized {
			p.violate("checkpoint: the rotated client's retired secret is accepted: %d %v", a.status, a.body)
		}
	}
}

// login runs a password grant as the app client.
func (e *env) login(ctx context.Context, base, user, password string) answer {
	return e.call(ctx, base, "/token", e.seed.app, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}})
}

// adopt records a successful login's tokens as a new session of victim v (nil for a load
// user) and returns it.
func (e *env) adopt(v *victim, a answer) *session {
	s := &session{victim: v, rt: a.body["refresh_token"].(string)}
	if v != nil {
		s.user = v.name
	}
	s.ats = []*access{{token: a.body["access_token"].(string)}}
	e.ledger.add(s)
	return s
}
