package chaos

import (
	"context"
	"net/http"
	"net/url"
)

// crossInstance checks, beside the load's own revoke-then-check and the admin's
// change-then-check, what holds across instances: reuse detection (a refresh through one
// instance, the reuse through another) and the login throttle (failures through all three
// add up).
func (e *env) crossInstance(ctx context.Context, p *phase) {
	b := e.bases()
	a := e.login(ctx, b[0], "reuse", e.seed.password)
	if a.status != http.StatusOK {
		p.violate("reuse: login: %d %v", a.status, a.body)
		return
	}
	s := e.adopt(nil, a)
	s.user = "reuse"
	first := s.rt
	r := e.call(ctx, b[1], "/token", e.seed.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}})
	if r.status != http.StatusOK {
		p.violate("reuse: refresh on %s: %d %v", b[1], r.status, r.body)
		return
	}
	s.rt = r.body["refresh_token"].(string)
	s.ats = append(s.ats, &access{token: r.body["access_token"].(string)})
	again := e.call(ctx, b[2], "/token", e.seed.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}})
	if again.status != http.StatusBadRequest || again.body["error"] != "invalid_grant" {
		p.violate("reuse: the used refresh token was not refused on %s: %d %v", b[2], again.status, again.body)
	}
	s.mu.Lock()
	s.kill("reuse")
	s.reused = first
	s.mu.Unlock()
	e.ledger.mu.Lock()
	e.ledger.deliberateReuse++
	e.ledger.mu.Unlock()
	if in, _ := e.introspectSure(ctx, p, b[1], s.latest().token); in {
		p.violate("reuse: the session's access token is still active on %s", b[1])
	}
	next := e.call(ctx, b[0], "/token", e.seed.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.rt}})
	if next.status != http.StatusBadRequest {
		p.violate("reuse: the session's newest refresh token still works on %s: %d", b[0], next.status)
	}

	// Five failures of one username from one address start its back-off, wherever they
	// were counted.
	throttled := false
	for i := range 8 {
		a := e.login(ctx, b[i%len(b)], "throttle", "not the password at all")
		if a.status == http.StatusTooManyRequests {
			if i < 5 || a.retryAfter == "" {
				p.violate("throttle: 429 after %d failures (Retry-After %q)", i, a.retryAfter)
			}
			throttled = true
			p.note("throttle: failures through three instances add up: attempt %d refused with 429 on %s", i+1, b[i%len(b)])
			break
		}
		if a.status != http.StatusBadRequest {
			p.violate("throttle: attempt %d on %s: %d %v", i+1, b[i%len(b)], a.status, a.body)
		}
	}
	if !throttled {
		p.violate("throttle: eight failures through three instances were never throttled")
	}
	e.disableAcross(ctx, p)
}

// disableAcross disables the other tenant's client through one instance, then the tenant
// through another, and checks through the remaining ones in the very next request that
// its tokens are dead and its client refused, and stay dead once enabled again.
func (e *env) disableAcross(ctx context.Context, p *phase) {
	b := e.bases()
	slug, app, rs := e.seed.other.id, e.seed.otherApp, e.seed.otherRS
	login := func(base string) answer {
		return e.call(ctx, base, "/token", app, url.Values{"grant_type": {"password"}, "username": {"someone"},
			"password": {e.seed.password}})
	}
	active := func(base, tok string) any {
		return e.call(ctx, base, "/introspect", rs, url.Values{"token": {tok}}).body["active"]
	}
	patch := func(base, path string, disabled bool) bool {
		a := e.adminCall(ctx, base, http.MethodPatch, path, map[string]any{"disabled": disabled})
		if a.status != http.StatusOK {
			p.violate("PATCH %s disabled=%v on %s: %d %v", path, disabled, base, a.status, a.body)
		}
		return a.status == http.StatusOK
	}
	clientPath, tenantPath := "/admin/v1/tenants/"+slug+"/clients/"+app.id, "/admin/v1/tenants/"+slug

	first := login(b[0])
	if first.status != http.StatusOK {
		p.violate("other tenant: login: %d %v", first.status, first.body)
		return
	}
	tok := first.body["access_token"].(string)
	if !patch(b[1], clientPath, true) {
		return
	}
	if a := login(b[2]); a.status != http.StatusUnauthorized {
		p.violate("a client disabled through %s still logs in on %s: %d", b[1], b[2], a.status)
	}
	if got := active(b[2], tok); got != false {
		p.violate("a token of a client disabled through %s is active on %s: %v", b[1], b[2], got)
	}
	if !patch(b[0], clientPath, false) {
		return
	}
	if got := active(b[1], tok); got != false {
		p.violate("a token of a re-enabled client is active again on %s: %v", b[1], got)
	}
	second := login(b[1])
	if second.status != http.StatusOK {
		p.violate("a client enabled through %s cannot log in on %s: %d %v", b[0], b[1], second.status, second.body)
		return
	}
	tok = second.body["access_token"].(string)
	if !patch(b[2], tenantPath, true) {
		return
	}
	for _, o := range b[:2] {
		if a := login(o); a.status != http.StatusUnauthorized {
			p.violate("a client of a tenant disabled through %s still logs in on %s: %d", b[2], o, a.status)
		}
	}
	if !patch(b[0], tenantPath, false) {
		return
	}
	if got := active(b[1], tok); got != false {
		p.violate("a token of a re-enabled tenant is active again on %s: %v", b[1], got)
	}
	if a := login(b[2]); a.status != http.StatusOK {
		p.violate("a tenant enabled through %s cannot log in on %s: %d", b[0], b[2], a.status)
	}
	p.note("disable: a client, then a tenant, disabled through one instance were refused through the others, " +
		"and their tokens stayed dead once enabled again")
}
