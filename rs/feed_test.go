package rs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestSSEReader(t *testing.T) {
	stream := ": ping\n" +
		"id: 1\nevent: revoke\ndata: {\"kind\":\"tenant\"}\n\n" +
		"id: 2\r\nevent: reset\r\ndata:{}\r\n\r\n" + // CRLF, no space after the colon
		"id: 3\revent: x\rdata: a\rdata: b\r\r" + // CR, two data lines
		"event: nodata\nid: 9\n\n" + // no data: not dispatched
		"retry: 1500\n" +
		"data: plain\n\n" + // no event name: "message"
		"data: unterminated\n"
	var lines int
	r := newSSEReader(strings.NewReader(stream), func() { lines++ })
	want := []sseEvent{
		{name: "revoke", data: `{"kind":"tenant"}`, id: "1", hasID: true},
		{name: "reset", data: "{}", id: "2", hasID: true},
		{name: "x", data: "a\nb", id: "3", hasID: true},
		{name: "message", data: "plain"},
	}
	for i, w := range want {
		got, err := r.next()
		if err != nil || got != w {
			t.Fatalf("event %d: %+v, %v; want %+v", i, got, err, w)
		}
	}
	if got, err := r.next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last event: %+v, %v; want io.EOF", got, err)
	}
	if r.retry != 1500*time.Millisecond {
		t.Errorf("retry %s, want 1.5s", r.retry)
	}
	if lines != 21 {
		t.Errorf("onLine called %d times, want 21", lines)
	}
	// A CRLF split across reads is one line end.
	r = newSSEReader(iotest.OneByteReader(strings.NewReader("data: a\r\n\r\ndata: b\r\n\r\n")), nil)
	for _, w := range []string{"a", "b"} {
		if got, err := r.next(); err != nil || got.data != w {
			t.Errorf("one byte at a time: %+v, %v; want data %q", got, err, w)
		}
	}
}

// After a broken stream the client reconnects with Last-Event-ID and applies what it
// missed, in order.
func TestReconnectReplays(t *testing.T) {
	f := newFakeJeton(t)
	clk := &clock{now: epoch}
	c, _ := newTestClient(t, f, Config{Now: clk.Now})
	runLive(t, c)
	head := c.AppliedEventID()
	t1, t2 := mint(t), mint(t)
	f.live(t1, "u1", "s1", "c1", epoch.Add(time.Hour), "read")
	f.live(t2, "u2", "s2", "c1", epoch.Add(time.Hour), "read")
	mustIntrospect(t, c, t1)
	mustIntrospect(t, c, t2)

	f.set(func(f *fakeJeton) { f.feedStatus = http.StatusServiceUnavailable })
	f.dropStreams()
	waitDown(t, c)
	id1 := f.push("revoke", `{"kind":"user","sub":"u1"}`)
	f.push("revoke", `{"kind":"session","sid":"nobody"}`)
	f.set(func(f *fakeJeton) { f.feedStatus = 0 })
	waitApplied(t, c, id1)

	subs := f.subs()
	if subs[0] != "none" || subs[len(subs)-1] != "100" || head != 100 {
		t.Errorf("Last-Event-IDs %v (head %d), want none first and 100 last", subs, head)
	}
	waitCtx(t, c.WaitHealthy)
	mustIntrospect(t, c, t1)
	mustIntrospect(t, c, t2)
	if n1, n2 := f.callsOf(t1), f.callsOf(t2); n1 != 2 || n2 != 1 {
		t.Errorf("calls %d and %d, want t1 asked again (2) and t2 still cached (1)", n1, n2)
	}
}

// A new subscriber cannot know what it missed: what it cached before its stream was live
// is dropped.
func TestFreshSubscriptionDropsCache(t *testing.T) {
	f := newFakeJeton(t)
	clk := &clock{now: epoch}
	c, _ := newTestClient(t, f, Config{Now: clk.Now})
	tok := mint(t)
	f.live(tok, "u1", "s1", "c1", epoch.Add(time.Hour), "read")
	mustIntrospect(t, c, tok) // cached for the fallback TTL: the clock stands still
	mustIntrospect(t, c, tok)
	if n := f.callsOf(tok); n != 1 {
		t.Fatalf("%d calls before the feed, want 1", n)
	}
	runLive(t, c)
	mustIntrospect(t, c, tok)
	if n := f.callsOf(tok); n != 2 {
		t.Errorf("%d calls, want 2: the entry cached before the feed was live survived", n)
	}
}

// When the feed is down, answers are cached for FallbackTTL at most, entries cached while
// it was live included, the client says so in its log and FeedHealthy; once it is back,
// answers are cached for their full TTL again.
func TestFeedDownFallback(t *testing.T) {
	f := newFakeJeton(t)
	f.set(func(f *fakeJeton) { f.feedStatus = http.StatusServiceUnavailable })
	clk := &clock{now: epoch}
	c, logs := newTestClient(t, f, Config{Now: clk.Now, FallbackTTL: 2 * time.Second})
	run(t, c)
	eventually(t, "the outage to be logged", func() bool {
		return strings.Contains(logs.String(), "revocation feed down") && strings.Contains(logs.String(), "fallback_ttl=2s")
	})
	if c.FeedHealthy() {
		t.Fatal("FeedHealthy with the feed refused")
	}
	tok := mint(t)
	f.live(tok, "u1", "s1", "c1", epoch.Add(time.Hour), "read")
	wantCalls := func(n int, when string) {
		t.Helper()
		mustIntrospect(t, c, tok)
		if got := f.callsOf(tok); got != n {
			t.Fatalf("%s: %d calls, want %d", when, got, n)
		}
	}
	wantCalls(1, "first lookup")
	clk.Advance(1999 * time.Millisecond)
	wantCalls(1, "feed down, 1.999s later")
	clk.Advance(time.Millisecond)
	wantCalls(2, "feed down, 2s later")

	f.set(func(f *fakeJeton) { f.feedStatus = 0 })
	waitCtx(t, c.WaitHealthy)
	eventually(t, "the recovery to be logged", func() bool { return strings.Contains(logs.String(), "revocation feed live") })
	wantCalls(3, "feed live again") // the stream is new: what was cached before is dropped
	clk.Advance(time.Minute)
	wantCalls(3, "feed live, a minute later")

	f.set(func(f *fakeJeton) { f.feedStatus = http.StatusServiceUnavailable })
	f.dropStreams()
	waitDown(t, c)
	wantCalls(4, "feed down again, entry a minute old")
	clk.Advance(time.Second)
	wantCalls(4, "feed down, fresh entry 1s old")
}

// A stream that goes silent for FeedIdleTimeout is replaced.
func TestFeedIdleTimeout(t *testing.T) {
	f := newFakeJeton(t)
	c, logs := newTestClient(t, f, Config{FeedIdleTimeout: 50 * time.Millisecond})
	run(t, c)
	eventually(t, "a reconnection", func() bool { return len(f.subs()) >= 2 })
	eventually(t, "the silence to be logged", func() bool { return strings.Contains(logs.String(), "nothing received for 50ms") })
	if subs := f.subs(); subs[1] != "100" {
		t.Errorf("second subscription's Last-Event-ID %q, want 100", subs[1])
	}
}

// WaitApplied waits for the event, not for time; Run refuses to run twice.
func TestWaitAppliedAndRunTwice(t *testing.T) {
	f := newFakeJeton(t)
	c, _ := newTestClient(t, f, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.WaitApplied(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitApplied before any event: %v", err)
	}
	runLive(t, c)
	if err := c.Run(context.Background()); err == nil {
		t.Error("a second Run started")
	}
	ids := []int64{f.push("revoke", `{"kind":"tenant"}`), f.push("revoke", `{"kind":"user","sub":"x"}`)}
	waitApplied(t, c, ids[1])
	if got := c.AppliedEventID(); got != ids[1] {
		t.Errorf("AppliedEventID %d, want %d", got, ids[1])
	}
	if !slices.Equal(f.subs(), []string{"none"}) {
		t.Errorf("subscriptions %v", f.subs())
	}
}

// A client with wrong credentials is refused by the feed and says so.
func TestFeedWrongCredentials(t *testing.T) {
	f := newFakeJeton(t)
	logs := &logBuffer{}
	c, err := New(Config{URL: f.srv.URL, ClientID: rsID, ClientSecret: "wrong", Logger: newLogger(logs),
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	eventually(t, "the refusal to be logged", func() bool { return strings.Contains(logs.String(), "401 Unauthorized invalid_client") })
	if c.FeedHealthy() {
		t.Error("FeedHealthy with the feed refused")
	}
}
