package chaos

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

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
