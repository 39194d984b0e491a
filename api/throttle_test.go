package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// loginForm is a password-grant body.
func loginForm(username, pw string) url.Values {
	return url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}
}

// postFrom sends a form to /token as c (nil: none) with extra header pairs.
func (e *env) postFrom(c *client, form url.Values, kv ...string) response {
	e.t.Helper()
	h := headers(append([]string{"Content-Type", formType}, kv...)...)
	if c != nil {
		h.Set("Authorization", basic(c.ID, c.Secret))
	}
	return e.send(http.MethodPost, "/token", h, form.Encode())
}

// wantThrottled checks the answer to a throttled login: 429 with Retry-After (the
// seconds want, or any when want is 0) and exactly {"error":"temporarily_unavailable"}.
func wantThrottled(t *testing.T, r response, want int) {
	t.Helper()
	wantError(t, r, http.StatusTooManyRequests, "temporarily_unavailable")
	if string(r.Body) != `{"error":"temporarily_unavailable"}` {
		t.Errorf("body %s", r.Body)
	}
	got, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || got < 1 || (want != 0 && got != want) {
		t.Errorf("Retry-After %q, want %d", r.Header.Get("Retry-After"), want)
	}
}

// mustTenantSettings applies change to tenant slug.
func (e *env) mustTenantSettings(slug string, change func(*db.Tenant)) {
	e.t.Helper()
	if _, err := e.svc.UpdateTenant(context.Background(), e.cli, slug, change); err != nil {
		e.t.Fatal(err)
	}
}

func intp(v int) *int { return &v }

// 50 concurrent wrong passwords for one username from one address run
// argon2 at most the back-off threshold's number of times; every other attempt is a 429,
// and the back-off then holds off even the right password until it lifts.
func TestWrongPasswordFloodHashesAtMostThreshold(t *testing.T) {
	for _, public := range []bool{false, true} {
		name := "confidential client"
		if public {
			name = "public client"
		}
		t.Run(name, func(t *testing.T) {
			w := newLoginWorld(t)
			c := w.app
			if public {
				c = w.pub
			}
			before := w.svc.HashRuns()
			rs := make([]response, 50)
			var wg sync.WaitGroup
			for i := range rs {
				wg.Go(func() { rs[i] = w.postFrom(&c, loginForm("alice", "not alice's password")) })
			}
			wg.Wait()
			runs := w.svc.HashRuns() - before
			threshold := service.DefaultThrottle().BackoffAfter
			if runs < 1 || runs > int64(threshold) {
				t.Errorf("argon2id ran %d times for 50 concurrent attempts, want 1 to %d", runs, threshold)
			}
			failed := 0
			for _, r := range rs {
				if r.Status == http.StatusBadRequest {
					wantError(t, r, http.StatusBadRequest, "invalid_grant")
					failed++
				} else {
					wantThrottled(t, r, 0)
				}
			}
			if int64(failed) != runs {
				t.Errorf("%d invalid_grant answers for %d verifications", failed, runs)
			}
			if failed == threshold {
				// In the back-off now: the right password waits too, then works.
				wantThrottled(t, w.postFrom(&c, loginForm("alice", testkit.AlicePassword)), 1)
				w.clock.Advance(time.Second)
				wantToken(t, w.postFrom(&c, loginForm("alice", testkit.AlicePassword)), "read write")
			}
		})
	}
}

// A throttled unknown username answers exactly as a throttled existing one,
// Retry-After included, and neither is verified.
func TestThrottledSameForUnknownUser(t *testing.T) {
	w := newWorld(t)
	throttled := func(username string) response {
		t.Helper()
		for range service.DefaultThrottle().BackoffAfter {
			wantError(t, w.post("/token", &w.app, loginForm(username, "wrong password")), http.StatusBadRequest, "invalid_grant")
		}
		before := w.svc.HashRuns()
		r := w.post("/token", &w.app, loginForm(username, "wrong password"))
		wantThrottled(t, r, 1)
		if n := w.svc.HashRuns() - before; n != 0 {
			t.Errorf("%s: %d verifications while throttled", username, n)
		}
		return r
	}
	alice, nobody := throttled("alice"), throttled("nobody")
	if string(alice.Body) != string(nobody.Body) {
		t.Errorf("bodies differ: %s and %s", alice.Body, nobody.Body)
	}
	if diff := cmp.Diff(stableHeaders(alice.Header), stableHeaders(nobody.Header)); diff != "" {
		t.Errorf("headers differ (-existing +unknown):\n%s", diff)
	}
}

// proxied is a world behind a trusted proxy (127.0.0.1), so each request names its
// address in X-Forwarded-For, with a public app.
func newProxiedWorld(t *testing.T) loginWorld {
	t.Helper()
	e := newEnv(t, withAPI(api.Config{TrustedProxies: []string{"127.0.0.1/32"}}))
	e.mustTenant("a")
	w := loginWorld{world: world{env: e}}
	w.app = e.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	w.pub = e.mustClient("a", service.ClientSpec{Name: "spa", Public: true, GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	w.alice = e.mustUser("a", "alice", testkit.AlicePassword)
	return w
}

// An attacker tripping the per-username limit from address X does not
// stop the user at her known address Y; every address without a recent success is refused.
func TestUserLimitSparesKnownAddress(t *testing.T) {
	const x, y, z = "203.0.113.5", "198.51.100.7", "192.0.2.200"
	w := newProxiedWorld(t)
	// A low username limit, and a back-off that will not trip first.
	w.mustTenantSettings("a", func(tn *db.Tenant) { tn.LoginUserLimit, tn.LoginBackoffAfter = intp(3), intp(20) })
	from := func(addr, pw string) response {
		return w.postFrom(&w.pub, loginForm("alice", pw), "X-Forwarded-For", addr)
	}
	wantToken(t, from(y, testkit.AlicePassword), "read")
	for range 3 {
		wantError(t, from(x, "guess"), http.StatusBadRequest, "invalid_grant")
	}
	wantThrottled(t, from(x, testkit.AlicePassword), 3600)
	wantThrottled(t, from(z, testkit.AlicePassword), 3600)
	wantToken(t, from(y, testkit.AlicePassword), "read")
	// Past the hour the username starts over.
	w.clock.Advance(time.Hour)
	wantToken(t, from(z, testkit.AlicePassword), "read")
}

// The per-address cap counts failures across usernames (spraying); an
// X-Forwarded-For from an untrusted peer changes nothing.
func TestAddressLimitStopsSpraying(t *testing.T) {
	w := newLoginWorld(t)
	w.mustTenantSettings("a", func(tn *db.Tenant) { tn.LoginIPLimit = intp(3) })
	for i, name := range []string{"user1", "user2", "user3"} {
		r := w.postFrom(&w.pub, loginForm(name, "Winter2026!"), "X-Forwarded-For", "10.0.0."+strconv.Itoa(i))
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
	}
	wantThrottled(t, w.postFrom(&w.pub, loginForm("user4", "Winter2026!"), "X-Forwarded-For", "10.9.9.9"), 3600)
	wantThrottled(t, w.postFrom(&w.pub, loginForm("alice", testkit.AlicePassword)), 3600)
	// The confidential app counts on (client_id, address), with a server-sized cap.
	wantToken(t, w.postFrom(&w.app, loginForm("alice", testkit.AlicePassword)), "read write")
}

// The shipped per-address cap (docs/SECURITY.md says why it is 100 an hour): failure 101
// from one address across usernames is refused, and so is every login from the address,
// the right password too, until the hour is over; a confidential client's own address has
// its server-sized cap.
func TestAddressLimitDefault(t *testing.T) {
	w := newLoginWorld(t)
	for i := range 100 {
		r := w.postFrom(&w.pub, loginForm(fmt.Sprintf("sprayed%d", i), "Winter2026!"))
		if r.Status != http.StatusBadRequest {
			t.Fatalf("failure %d: %d %s, want 400 invalid_grant", i+1, r.Status, r.Body)
		}
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
	}
	wantThrottled(t, w.postFrom(&w.pub, loginForm("sprayed100", "Winter2026!")), 3600)
	wantThrottled(t, w.postFrom(&w.pub, loginForm("alice", testkit.AlicePassword)), 3600)
	wantToken(t, w.postFrom(&w.app, loginForm("alice", testkit.AlicePassword)), "read write")
	w.clock.Advance(time.Hour)
	wantToken(t, w.postFrom(&w.pub, loginForm("alice", testkit.AlicePassword)), "read write")
}

// Jeton-Forwarded-For is read from a confidential client flagged
// forwards_user_ip alone, must be one address, and counts within its tenant.
func TestJetonForwardedFor(t *testing.T) {
	w := newLoginWorld(t)
	backend := w.mustClient("a", service.ClientSpec{Name: "backend", GrantTypes: []string{"password"},
		Scopes: []string{"read"}, ForwardsUserIP: true})
	w.mustTenantSettings("a", func(tn *db.Tenant) { tn.LoginIPLimit = intp(2) })

	t.Run("not one address", func(t *testing.T) {
		for _, v := range []string{"", "not-an-ip", "192.0.2.1, 192.0.2.2", "192.0.2.1:443", "fe80::1%eth0", "[2001:db8::1]", "192.0.2.256"} {
			r := w.postFrom(&backend, loginForm("alice", testkit.AlicePassword), "Jeton-Forwarded-For", v)
			wantError(t, r, http.StatusBadRequest, "invalid_request")
		}
		r := w.postFrom(&backend, loginForm("alice", testkit.AlicePassword), "Jeton-Forwarded-For", "192.0.2.1", "Jeton-Forwarded-For", "192.0.2.2")
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	})
	t.Run("ignored from other clients", func(t *testing.T) {
		for _, c := range []client{w.app, w.pub} {
			wantToken(t, w.postFrom(&c, loginForm("alice", testkit.AlicePassword), "Jeton-Forwarded-For", "not-an-ip"), "read write")
		}
	})
	t.Run("counted per forwarded address", func(t *testing.T) {
		for _, name := range []string{"user1", "user2"} {
			r := w.postFrom(&backend, loginForm(name, "guess"), "Jeton-Forwarded-For", "2001:db8:1:2::10")
			wantError(t, r, http.StatusBadRequest, "invalid_grant")
		}
		// The same /64, another interface identifier.
		wantThrottled(t, w.postFrom(&backend, loginForm("alice", testkit.AlicePassword), "Jeton-Forwarded-For", "2001:db8:1:2::99"), 3600)
		wantToken(t, w.postFrom(&backend, loginForm("alice", testkit.AlicePassword), "Jeton-Forwarded-For", "2001:db8:1:3::10"), "read")
		// The backend's own address, the peer, is not what was counted.
		wantToken(t, w.postFrom(&w.pub, loginForm("alice", testkit.AlicePassword)), "read write")
	})
	t.Run("events name the user's address", func(t *testing.T) {
		var ip, via string
		err := w.pool.QueryRow(context.Background(), `SELECT client_ip, detail->>'forwarded_by' FROM events
			WHERE kind = 'login_failure' ORDER BY id DESC LIMIT 1`).Scan(&ip, &via)
		if err != nil {
			t.Fatal(err)
		}
		if ip != "2001:db8:1:2::10" || via != "127.0.0.1" {
			t.Errorf("login_failure from %q via %q, want 2001:db8:1:2::10 via 127.0.0.1", ip, via)
		}
	})
}

// Refused attempts are one login_throttled event per tenant, username, address
// and window; only verified failures are events of their own.
func TestThrottledAttemptsAggregate(t *testing.T) {
	w := newWorld(t)
	for range 20 {
		w.post("/token", &w.app, loginForm("alice", "wrong password"))
	}
	counts := map[string]int{}
	rows, err := w.pool.Query(context.Background(), `SELECT kind, COALESCE((detail->>'attempts')::int, 1) FROM events
		WHERE kind IN ('login_failure', 'login_throttled')`)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for rows.Next() {
		var kind string
		var attempts int
		if err := rows.Scan(&kind, &attempts); err != nil {
			t.Fatal(err)
		}
		counts[kind] += attempts
		n++
	}
	want := map[string]int{"login_failure": 5, "login_throttled": 15}
	if diff := cmp.Diff(want, counts); diff != "" || n != 6 {
		t.Errorf("%d events; attempts by kind (-want +got):\n%s", n, diff)
	}
}

// A full hashing queue answers 503 with Retry-After before any work (before the
// client is even authenticated), counting nothing, and holds the answer for the refusal
// delay; a queued request whose client went away is dropped unhashed and its attempt
// given back.
func TestHashingPoolBounds(t *testing.T) {
	entered, release := make(chan struct{}, 10), make(chan struct{})
	var once sync.Once
	hold := func() {
		entered <- struct{}{}
		once.Do(func() { <-release })
	}
	const delay = 300 * time.Millisecond
	e := newEnv(t, withConfig(func(c *service.Config) { c.HashQueue = 1 }), withAPI(api.Config{RefusalDelay: delay}),
		withHookedHashers(1, hold, nil))
	e.mustTenant("a")
	w := world{env: e, app: e.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password"}})}
	failures := func(username string) int {
		t.Helper()
		n := -1
		_ = w.pool.QueryRow(context.Background(), `SELECT failures FROM login_throttles WHERE kind = 'u' AND username = $1`, username).Scan(&n)
		return n
	}

	first := make(chan response)
	go func() { first <- w.post("/token", &w.app, loginForm("alice", "wrong password")) }()
	<-entered // alice holds the only worker

	// bob queues; the client gives up.
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.srv.URL+"/token",
			strings.NewReader(loginForm("bob", "wrong password").Encode()))
		req.Header.Set("Content-Type", formType)
		req.Header.Set("Authorization", basic(w.app.ID, w.app.Secret))
		_, err := w.srv.Client().Do(req)
		gone <- err
	}()
	waitFor(t, "bob's attempt counted", func() bool { return failures("bob") == 1 })

	// The queue (one place) is full: carol is refused, after the refusal delay, and
	// counted nowhere.
	start := time.Now()
	r := w.post("/token", &w.app, loginForm("carol", "wrong password"))
	if took := time.Since(start); took < delay {
		t.Errorf("refused after %v, want the refusal delay of %v first", took, delay)
	}
	wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if r.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", r.Header.Get("Retry-After"))
	}
	if failures("carol") != -1 {
		t.Errorf("carol's refused attempt was counted")
	}
	// Refused before the client is authenticated: a wrong secret gets the same 503.
	wrong := w.app
	wrong.Secret = w.app.Secret[:len(w.app.Secret)-4] + "AAAA"
	wantError(t, w.post("/token", &wrong, loginForm("carol", "wrong password")), http.StatusServiceUnavailable, "temporarily_unavailable")

	cancel()
	<-gone
	waitFor(t, "bob's attempt given back", func() bool { return failures("bob") == 0 })
	close(release)
	wantError(t, <-first, http.StatusBadRequest, "invalid_grant")
	if n := w.svc.HashRuns(); n != 1 {
		t.Errorf("%d verifications, want alice's alone", n)
	}
	select {
	case <-entered:
		t.Error("bob's request was hashed after its client went away")
	default:
	}
}

// waitFor polls cond until it holds, failing after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A user's own concurrent logins from an address she logged in from do not trip
// the (username, address) back-off, although each counts until its verdict.
func TestConcurrentLoginsFromKnownAddress(t *testing.T) {
	w := newWorld(t)
	wantToken(t, w.post("/token", &w.app, loginForm("alice", testkit.AlicePassword)), "read write")
	rs := make([]response, 30)
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() { rs[i] = w.post("/token", &w.app, loginForm("alice", testkit.AlicePassword)) })
	}
	wg.Wait()
	for _, r := range rs {
		wantToken(t, r, "read write")
	}
}
