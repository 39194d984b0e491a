package rs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"slices"
)

func TestWellFormed(t *testing.T) {
	good := mint(t)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"minted", good, true},
		{"refresh token", mintKind(t, "jrt_"), false},
		{"client secret", mintKind(t, "jcs_"), false},
		{"upper-case prefix", "JAT_" + good[4:], false},
		{"one character short", good[:52], false},
		{"one character long", good + "0", false},
		{"random part changed", flip(good, 10), false},
		{"checksum changed", flip(good, 50), false},
		{"not base62", good[:20] + "-" + good[21:], false},
		{"not base62 in checksum", good[:50] + "+" + good[51:], false},
		{"empty", "", false},
		{"checksum above 2^32", good[:47] + "zzzzzz", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wellFormed(tt.token); got != tt.want {
				t.Errorf("wellFormed(%q) = %v, want %v", tt.token, got, tt.want)
			}
		})
	}
}

// Entries are never kept past the token's exp nor MaxTTL; negative answers live
// NegativeTTL; an answer already past its exp (clock skew) is served but not kept.
func TestCacheExpiry(t *testing.T) {
	tests := []struct {
		name       string
		exp        time.Duration // from now; 0: the token is not active
		maxTTL     time.Duration
		stillValid time.Duration // cached at this age
		expired    time.Duration // asked again at this age
	}{
		{name: "at exp", exp: 30 * time.Second, maxTTL: 10 * time.Minute, stillValid: 29 * time.Second, expired: 30 * time.Second},
		{name: "at max TTL", exp: time.Hour, maxTTL: time.Minute, stillValid: 59 * time.Second, expired: time.Minute},
		{name: "negative", maxTTL: time.Minute, stillValid: 4 * time.Second, expired: 5 * time.Second},
		{name: "exp already past", exp: -time.Second, maxTTL: time.Minute, stillValid: -1, expired: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeJeton(t)
			clk := &clock{now: epoch}
			c, _ := newTestClient(t, f, Config{Now: clk.Now, MaxTTL: tt.maxTTL, NegativeTTL: 5 * time.Second})
			runLive(t, c)
			tok := mint(t)
			if tt.exp != 0 {
				f.live(tok, "u1", "s1", "c1", epoch.Add(tt.exp), "read")
			}
			ask := func() {
				t.Helper()
				_, err := c.Introspect(context.Background(), tok)
				if tt.exp != 0 && err != nil {
					t.Fatalf("introspect: %v", err)
				}
				if tt.exp == 0 && !errors.Is(err, ErrInactive) {
					t.Fatalf("introspect: %v, want ErrInactive", err)
				}
			}
			ask()
			if tt.stillValid >= 0 {
				clk.Advance(tt.stillValid)
				ask()
				if n := f.callsOf(tok); n != 1 {
					t.Fatalf("%d calls at age %s, want 1 (cached)", n, tt.stillValid)
				}
				clk.Advance(tt.expired - tt.stillValid)
			}
			ask()
			if n := f.callsOf(tok); n != 2 {
				t.Errorf("%d calls at age %s, want 2 (expired)", n, tt.expired)
			}
		})
	}
}

// A negative NegativeTTL turns negative caching off.
func TestNegativeCachingOff(t *testing.T) {
	f := newFakeJeton(t)
	c, _ := newTestClient(t, f, Config{NegativeTTL: -1})
	runLive(t, c)
	tok := mint(t)
	for range 3 {
		if _, err := c.Introspect(context.Background(), tok); !errors.Is(err, ErrInactive) {
			t.Fatalf("introspect: %v", err)
		}
	}
	if n := f.callsOf(tok); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}

// Concurrent lookups of one token make one call, and the first caller giving up does not
// end it for the others.
func TestSingleflight(t *testing.T) {
	f := newFakeJeton(t)
	clk := &clock{now: epoch}
	c, _ := newTestClient(t, f, Config{Now: clk.Now})
	runLive(t, c)
	tok := mint(t)
	f.live(tok, "u1", "s1", "c1", epoch.Add(time.Hour), "read write")
	release := f.holdCalls()

	firstCtx, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := c.Introspect(firstCtx, tok)
		firstErr <- err
	}()
	f.waitArrival(tok)
	const n = 20
	var wg sync.WaitGroup
	results := make([]Token, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = c.Introspect(context.Background(), tok) })
	}
	h := hashOf(tok)
	eventually(t, "every lookup to join the call", func() bool {
		c.cache.mu.Lock()
		defer c.cache.mu.Unlock()
		cl := c.cache.inflight[h]
		return cl != nil && cl.waiters == n+1
	})
	cancelFirst()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: %v, want context.Canceled", err)
	}
	release()
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i].Sub != "u1" || !slices.Equal(results[i].Scope, []string{"read", "write"}) {
			t.Errorf("lookup %d: %+v, %v", i, results[i], errs[i])
		}
	}
	if got := f.callsOf(tok); got != 1 {
		t.Errorf("%d introspection calls, want 1", got)
	}
	results[0].Scope[0] = "admin" // callers get their own copy of the cached answer
	if got := mustIntrospect(t, c, tok); got.Scope[0] != "read" {
		t.Errorf("a caller's change reached the cache: %v", got.Scope)
	}
}

// An answer is cached only if no matching feed event arrived while its call was in
// flight; the request that made the call is served either way.
func TestEventInFlightPreventsCaching(t *testing.T) {
	tok := mint(t)
	other := mint(t)
	tests := []struct {
		name, event, data string
		cached            bool
	}{
		{"token", "revoke", `{"kind":"token","token_hash":"` + hexHash(tok) + `"}`, false},
		{"session", "revoke", `{"kind":"session","sid":"s1"}`, false},
		{"user", "revoke", `{"kind":"user","sub":"u1"}`, false},
		{"client", "revoke", `{"kind":"client","client_id":"c1"}`, false},
		{"tenant", "revoke", `{"kind":"tenant"}`, false},
		{"reset", "reset", `{}`, false},
		{"unknown kind", "revoke", `{"kind":"scope","scope":"read"}`, false},
		{"other token", "revoke", `{"kind":"token","token_hash":"` + hexHash(other) + `"}`, true},
		{"other session", "revoke", `{"kind":"session","sid":"s2"}`, true},
		{"other user", "revoke", `{"kind":"user","sub":"u2"}`, true},
		{"other client", "revoke", `{"kind":"client","client_id":"c2"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeJeton(t)
			clk := &clock{now: epoch}
			c, _ := newTestClient(t, f, Config{Now: clk.Now})
			runLive(t, c)
			f.live(tok, "u1", "s1", "c1", epoch.Add(time.Hour), "read")
			release := f.holdCalls()
			done := make(chan error, 1)
			go func() {
				_, err := c.Introspect(context.Background(), tok)
				done <- err
			}()
			f.waitArrival(tok)
			waitApplied(t, c, f.push(tt.event, tt.data))
			release()
			if err := <-done; err != nil {
				t.Fatalf("the request in flight was not served: %v", err)
			}
			mustIntrospect(t, c, tok)
			want := 2
			if tt.cached {
				want = 1
			}
			if n := f.callsOf(tok); n != want {
				t.Errorf("%d calls, want %d (cached: %v)", n, want, tt.cached)
			}
		})
	}
}

// A lookup that starts after an event was applied never joins a call made before it: it
// makes its own, and sees the revocation.
func TestLookupAfterEventMakesItsOwnCall(t *testing.T) {
	f := newFakeJeton(t)
	c, _ := newTestClient(t, f, Config{})
	runLive(t, c)
	tok := mint(t)
	f.live(tok, "u1", "s1", "c1", time.Now().Add(time.Hour), "read")
	release := f.holdCalls()
	before := make(chan error, 1)
	go func() {
		_, err := c.Introspect(context.Background(), tok)
		before <- err
	}()
	f.waitArrival(tok)
	f.revoke(tok)
	waitApplied(t, c, f.push("revoke", `{"kind":"session","sid":"s1"}`))
	after := make(chan error, 1)
	go func() {
		_, err := c.Introspect(context.Background(), tok)
		after <- err
	}()
	f.waitArrival(tok)
	release()
	if err := <-before; err != nil {
		t.Errorf("lookup before the event: %v, want the answer of its call", err)
	}
	if err := <-after; !errors.Is(err, ErrInactive) {
		t.Errorf("lookup after the event: %v, want ErrInactive", err)
	}
	if n := f.callsOf(tok); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// Each kind of event evicts exactly the entries it names.
func TestEvictionPerEvent(t *testing.T) {
	t1, t2, t3 := mint(t), mint(t), mint(t)
	all := []string{"t1", "t2", "t3"}
	tests := []struct {
		name, event, data string
		evicted           []string
	}{
		{"token", "revoke", `{"kind":"token","token_hash":"` + hexHash(t1) + `"}`, []string{"t1"}},
		{"session", "revoke", `{"kind":"session","sid":"s2"}`, []string{"t2"}},
		{"user", "revoke", `{"kind":"user","sub":"u1"}`, []string{"t1", "t2"}},
		{"client", "revoke", `{"kind":"client","client_id":"c1"}`, []string{"t1", "t3"}},
		{"tenant", "revoke", `{"kind":"tenant"}`, all},
		{"reset", "reset", `{}`, all},
		{"unknown token", "revoke", `{"kind":"token","token_hash":"` + strings.Repeat("0", 64) + `"}`, nil},
		{"unknown kind", "revoke", `{"kind":"scope"}`, all},
		{"token without hash", "revoke", `{"kind":"token"}`, all},
		{"bad hash", "revoke", `{"kind":"token","token_hash":"xyz"}`, all},
		{"bad JSON", "revoke", `{"kind":`, all},
		{"unknown event with an id", "purge", `{}`, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeJeton(t)
			clk := &clock{now: epoch}
			c, _ := newTestClient(t, f, Config{Now: clk.Now})
			runLive(t, c)
			exp := epoch.Add(time.Hour)
			f.live(t1, "u1", "s1", "c1", exp, "read")
			f.live(t2, "u1", "s2", "c2", exp, "read")
			f.live(t3, "u2", "s3", "c1", exp, "read")
			toks := map[string]string{"t1": t1, "t2": t2, "t3": t3}
			for _, name := range all {
				mustIntrospect(t, c, toks[name])
			}
			waitApplied(t, c, f.push(tt.event, tt.data))
			for _, name := range all {
				mustIntrospect(t, c, toks[name])
				want := 1
				if slices.Contains(tt.evicted, name) {
					want = 2
				}
				if n := f.callsOf(toks[name]); n != want {
					t.Errorf("%s: %d calls, want %d", name, n, want)
				}
			}
		})
	}
}

// The cache stays within MaxEntries.
func TestMaxEntries(t *testing.T) {
	f := newFakeJeton(t)
	clk := &clock{now: epoch}
	c, _ := newTestClient(t, f, Config{Now: clk.Now, MaxEntries: 10})
	runLive(t, c)
	for i := range 25 {
		tok := mint(t)
		f.live(tok, fmt.Sprint("u", i), fmt.Sprint("s", i), "c1", epoch.Add(time.Hour), "read")
		mustIntrospect(t, c, tok)
		if n := c.cache.len(); n > 10 {
			t.Fatalf("%d entries, want at most 10", n)
		}
	}
	// The indexes follow the entries: a client event leaves nothing behind.
	waitApplied(t, c, f.push("revoke", `{"kind":"client","client_id":"c1"}`))
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	if len(c.cache.entries)+len(c.cache.bySid)+len(c.cache.bySub)+len(c.cache.byClient) != 0 {
		t.Errorf("left after evicting everything: %d entries, %d sids, %d subs, %d clients",
			len(c.cache.entries), len(c.cache.bySid), len(c.cache.bySub), len(c.cache.byClient))
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "", ClientID: "a", ClientSecret: "b"},
		{URL: "127.0.0.1:8080", ClientID: "a", ClientSecret: "b"},
		{URL: "ftp://x", ClientID: "a", ClientSecret: "b"},
		{URL: "http://x", ClientID: "a"},
		{URL: "http://x", ClientSecret: "b"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
