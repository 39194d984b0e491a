package chaos

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
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

// admin is the tenant's administrator: in turn it rotates a client secret, disables and
// re-enables a user, changes a password and revokes a user's tokens in bulk, each through
// one instance, and checks on the others that it holds in the very next request. Each
// change is retried until acknowledged; only then does the ledger expect it.
type admin struct {
	l    *load
	stop context.Context
}

// run cycles through the changes until ctx ends. Each change runs to its end under a
// context the phase's end does not cancel; stop is the phase's, for the retry loops.
func (m *admin) run(ctx context.Context) {
	m.stop = ctx
	ops := []func(context.Context){m.rotate, m.disable, m.password, m.bulk}
	for i := 0; ctx.Err() == nil; i++ {
		ops[i%len(ops)](context.WithoutCancel(ctx))
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// until sends an admin request until it is answered want (503s are retried; anything else
// is recorded and ends the attempt). Once ctx ends it keeps trying for a while under its
// own context: a change that was sent is settled, never left unknown.
func (m *admin) until(ctx context.Context, op, method, path string, body any, want int) (a answer, made string, done bool) {
	var since time.Time
	for !stopping(m.stop, &since) {
		b := m.l.pick()
		a := m.l.e.adminCall(ctx, b, method, path, body)
		c := classify(a, adminBound, status(want))
		m.l.p.add(op, b, a, c)
		if c == ok {
			return a, b, true
		}
		if c != unavailable {
			return a, b, false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return answer{}, "", false
}

// session logs victim v in (retrying 503s and a login back-off) and returns the session.
func (m *admin) session(ctx context.Context, v *victim) *session {
	for m.stop.Err() == nil {
		b := m.l.pick()
		a := m.l.e.login(ctx, b, v.name, v.password)
		c := classify(a, bound, status(http.StatusOK))
		if a.status == http.StatusTooManyRequests {
			secs, _ := strconv.Atoi(a.retryAfter)
			time.Sleep(time.Duration(max(secs, 1)) * time.Second)
			continue
		}
		m.l.p.add("victim login", b, a, c)
		if c == ok {
			return m.l.e.adopt(v, a)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// refused checks on every target but the one that made a change that tok is inactive
// now, and that v cannot log in with password.
func (m *admin) refused(ctx context.Context, made string, tok string, v *victim, password string) {
	for _, o := range m.l.others(made) {
		if tok != "" {
			a := m.l.e.call(ctx, o, "/introspect", m.l.e.seed.rs, url.Values{"token": {tok}})
			c := classify(a, bound, func(a answer) bool { return a.status == http.StatusOK && a.body["active"] == false })
			m.l.p.add("introspect after admin change", o, a, c)
		}
		if v != nil {
			a := m.l.e.login(ctx, o, v.name, password)
			c := classify(a, bound, func(a answer) bool {
				return a.status == http.StatusBadRequest || a.status == http.StatusTooManyRequests
			})
			m.l.p.add("login after admin change", o, a, c)
		}
	}
}

// killUser marks every session of v over.
func (m *admin) killUser(v *victim) {
	for _, s := range m.l.e.ledger.all() {
		if s.victim == v {
			s.mu.Lock()
			if s.dead == "" {
				s.kill("user")
			}
			s.unsure = false
			s.mu.Unlock()
		}
	}
}

// markUnsure marks every live session of v unsure while a change to v is unanswered.
func (m *admin) markUnsure(v *victim) {
	for _, s := range m.l.e.ledger.all() {
		if s.victim == v {
			s.mu.Lock()
			if s.dead == "" {
				s.unsure = true
			}
			s.mu.Unlock()
		}
	}
}

func (m *admin) rotate(ctx context.Context) {
	r := m.l.e.seed.rot
	r.mu.Lock()
	defer r.mu.Unlock()
	a, made, done := m.until(ctx, "rotate secret", http.MethodPost, "/admin/v1/tenants/"+tenant+"/clients/"+r.id+"/secret",
		map[string]any{"previous_valid_for": "0s"}, http.StatusOK)
	if !done {
		return
	}
	old := r.secret
	r.retired = append(r.retired, old)
	r.secret = a.body["client_secret"].(string)
	for _, o := range m.l.others(made) {
		b := m.l.e.call(ctx, o, "/token", clientCreds{r.id, old}, url.Values{"grant_type": {"client_credentials"}})
		c := classify(b, bound, status(http.StatusUnauthorized))
		m.l.p.add("old secret after rotation", o, b, c)
	}
}

func (m *admin) disable(ctx context.Context) {
	v := m.l.e.seed.victims[0]
	s := m.session(ctx, v)
	if s == nil {
		return
	}
	path := "/admin/v1/tenants/" + tenant + "/users/" + v.id
	m.markUnsure(v)
	_, made, done := m.until(ctx, "disable user", http.MethodPatch, path, map[string]any{"disabled": true}, http.StatusOK)
	if !done {
		return
	}
	v.disabled = true
	m.killUser(v)
	m.refused(ctx, made, s.latest().token, v, v.password)
	if _, _, done := m.until(ctx, "enable user", http.MethodPatch, path, map[string]any{"disabled": false}, http.StatusOK); !done {
		return
	}
	v.disabled = false
}

func (m *admin) password(ctx context.Context) {
	v := m.l.e.seed.victims[1]
	s := m.session(ctx, v)
	if s == nil {
		return
	}
	next := randomPassword()
	m.markUnsure(v)
	_, made, done := m.until(ctx, "set password", http.MethodPut, "/admin/v1/tenants/"+tenant+"/users/"+v.id+"/password",
		map[string]any{"password": next}, http.StatusNoContent)
	if !done {
		return
	}
	v.retired = append(v.retired, v.password)
	v.password = next
	m.killUser(v)
	m.refused(ctx, made, s.latest().token, v, v.retired[len(v.retired)-1])
}

func (m *admin) bulk(ctx context.Context) {
	v := m.l.e.seed.victims[2]
	s := m.session(ctx, v)
	if s == nil {
		return
	}
	m.markUnsure(v)
	_, made, done := m.until(ctx, "revoke user tokens", http.MethodPost, "/admin/v1/tenants/"+tenant+"/users/"+v.id+"/revoke",
		nil, http.StatusOK)
	if !done {
		return
	}
	m.killUser(v)
	m.refused(ctx, made, s.latest().token, nil, "")
}
