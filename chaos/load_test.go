package chaos

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// load is the steady traffic of one phase: cfg.workers goroutines logging in, refreshing,
// introspecting and revoking as the app and the resource server, and one admin.
type load struct {
	e       *env
	p       *phase
	targets []string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startLoad starts the workers and the admin against targets (instances, or the proxy).
func (e *env) startLoad(p *phase, targets []string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{e: e, p: p, targets: targets, cancel: cancel}
	for _, user := range e.seed.workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			w := &worker{l: l, user: user}
			w.run(ctx)
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		(&admin{l: l}).run(ctx)
	}()
	return l
}

// stop ends the load; each goroutine first settles what it left unanswered (a pending
// revocation), for at most 30 seconds.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// bound is the latency past which an OAuth answer is a hang.
const bound = requestTimeout + hangMargin

// adminBound is the same for the admin API.
const adminBound = adminTimeout + hangMargin

func (l *load) pick() string { return l.targets[randIntN(len(l.targets))] }

// others returns the targets other than b (b itself when there is only one).
func (l *load) others(b string) []string {
	var out []string
	for _, t := range l.targets {
		if t != b {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		out = []string{b}
	}
	return out
}

// settleFor is how long a goroutine keeps retrying what it started (a revocation, an
// admin change) after its phase ended: long enough for any recovery the suite waits for.
const settleFor = 30 * time.Second

// stopping reports whether ctx ended more than settleFor ago, as observed by the caller's
// own clock: since marks when the caller first saw it end.
func stopping(ctx context.Context, since *time.Time) bool {
	if ctx.Err() == nil {
		return false
	}
	if since.IsZero() {
		*since = time.Now()
	}
	return time.Since(*since) > settleFor
}

// worker is one client app with one user: it logs in, introspects its access tokens as
// the resource server, refreshes, and revokes now and then, checking each revocation on
// the other instances in the very next request.
type worker struct {
	l    *load
	user string
	sess *session
	// pending is a revocation sent without an answer, retried before anything else.
	pending *pendingRevoke
}

type pendingRevoke struct {
	token   string
	access  *access // set when revoking an access token alone
	session bool    // set when revoking the session's refresh token
}

// run steps until ctx ends, then settles a pending revocation. Requests run under a
// context that the phase's end does not cancel: a request cut off by the client would
// leave the client not knowing what happened, which is jeton's fault only when jeton cut
// it off.
func (w *worker) run(ctx context.Context) {
	rctx := context.WithoutCancel(ctx)
	// Spread the first logins (argon2id each) over a second rather than start with a burst.
	time.Sleep(time.Duration(randIntN(1000)) * time.Millisecond)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			continue
		case <-time.After(w.l.e.cfg.pace):
		}
		w.step(rctx)
	}
	var since time.Time
	for w.pending != nil && !stopping(ctx, &since) {
		w.revoke(rctx)
		if w.pending != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (w *worker) step(ctx context.Context) {
	switch r := randFloat(); {
	case w.pending != nil:
		w.revoke(ctx)
	case w.sess == nil || w.sess.dead != "" || w.sess.latest() == nil || r < 0.02:
		w.login(ctx)
	case r < 0.60:
		w.introspect(ctx)
	case r < 0.92:
		w.refresh(ctx)
	case r < 0.97:
		if a := w.liveAccess(); a != nil {
			w.pending = &pendingRevoke{token: a.token, access: a}
			a.unsure = true
			w.revoke(ctx)
		}
	default:
		w.pending = &pendingRevoke{token: w.sess.rt, session: true}
		w.sess.unsure = true
		w.revoke(ctx)
	}
}

func (w *worker) login(ctx context.Context) {
	b := w.l.pick()
	a := w.l.e.login(ctx, b, w.user, w.l.e.seed.password)
	c := classify(a, bound, status(http.StatusOK))
	w.l.p.add("login", b, a, c)
	if c == ok {
		s := w.l.e.adopt(nil, a)
		s.user = w.user
		w.sess = s
	}
}

// liveAccess returns a random access token of the session that is neither revoked nor
// being revoked.
func (w *worker) liveAccess() *access {
	var live []*access
	for _, a := range w.sess.ats {
		if !a.revoked && !a.unsure {
			live = append(live, a)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return live[randIntN(len(live))]
}

func (w *worker) introspect(ctx context.Context) {
	at := w.liveAccess()
	if at == nil {
		return
	}
	b := w.l.pick()
	a := w.l.e.call(ctx, b, "/introspect", w.l.e.seed.rs, url.Values{"token": {at.token}})
	c := classify(a, bound, func(a answer) bool { return a.status == http.StatusOK && a.body["active"] == true })
	w.l.p.add("introspect", b, a, c)
}

func (w *worker) refresh(ctx context.Context) {
	s := w.sess
	b := w.l.pick()
	a := w.l.e.call(ctx, b, "/token", w.l.e.seed.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.rt}})
	reuse := func(a answer) bool {
		return s.rtUnsure && a.status == http.StatusBadRequest && a.body["error"] == "invalid_grant"
	}
	c := classify(a, bound, func(a answer) bool { return a.status == http.StatusOK || reuse(a) })
	w.l.p.add("refresh", b, a, c)
	switch {
	case c == ok && a.status == http.StatusOK:
		s.rt, s.rtUnsure = a.body["refresh_token"].(string), false
		s.ats = append(s.ats, &access{token: a.body["access_token"].(string)})
	case c == ok:
		// The unanswered refresh had rotated: presenting its token again tripped reuse
		// detection, which revoked the session (the checkpoint looks for its event).
		s.kill("reuse")
		s.reused = s.rt
	default:
		if s.rtUnsure {
			// A second try of a refresh token that may be used: reuse detection may have
			// revoked the session by now, a 503 does not say it did not. The checkpoint
			// finds out; the client starts afresh.
			s.reuseUnsure = true
			w.sess = nil
		}
		s.rtUnsure = true
	}
}

// revoke sends the pending revocation; once answered 200 it checks, on every other
// target, that the token is refused in the very next request.
func (w *worker) revoke(ctx context.Context) {
	pr, s := w.pending, w.sess
	b := w.l.pick()
	a := w.l.e.call(ctx, b, "/revoke", w.l.e.seed.app, url.Values{"token": {pr.token}})
	c := classify(a, bound, status(http.StatusOK))
	w.l.p.add("revoke", b, a, c)
	if c != ok {
		return
	}
	w.pending = nil
	var check *access
	if pr.session {
		s.kill("revoked")
		s.unsure = false
		check = s.latest()
	} else {
		pr.access.revoked, pr.access.unsure = true, false
		check = pr.access
	}
	if check == nil {
		return
	}
	for _, o := range w.l.others(b) {
		a := w.l.e.call(ctx, o, "/introspect", w.l.e.seed.rs, url.Values{"token": {check.token}})
		c := classify(a, bound, func(a answer) bool { return a.status == http.StatusOK && a.body["active"] == false })
		w.l.p.add("introspect after revoke", o, a, c)
	}
}
