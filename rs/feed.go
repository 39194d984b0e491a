package rs

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Run follows jeton's revocation feed (GET /revocations, docs/FEED.md) until ctx is done: it
// evicts cached answers on every event and reconnects with Last-Event-ID after a failure,
// with jittered exponential backoff. Until the stream is live, and whenever it is down,
// answers are used for FallbackTTL at most, FeedHealthy reports false and the Logger is told
// once per outage. Run returns ctx's error, or an error at once if it is already running.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("rs: Run is already running")
	}
	defer c.running.Store(false)
	backoff := c.cfg.BackoffMin
	reported := false // this outage has been logged
	for {
		live, hint, err := c.follow(ctx)
		c.setDown()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if live {
			backoff, reported = c.cfg.BackoffMin, false
		}
		if !reported {
			c.cfg.Logger.Warn("rs: jeton revocation feed down; caching introspection answers briefly until it is back",
				"fallback_ttl", c.cfg.FallbackTTL.String(), "err", err)
			reported = true
		} else {
			c.cfg.Logger.Debug("rs: jeton revocation feed still down", "err", err)
		}
		delay := hint
		if delay <= 0 {
			delay = backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, c.cfg.BackoffMax)
		}
		t := time.NewTimer(min(delay, c.cfg.BackoffMax))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// FeedHealthy reports whether the revocation feed is live: connected, replayed, and not
// silent for longer than FeedIdleTimeout. While it is not, answers are cached for
// FallbackTTL at most.
func (c *Client) FeedHealthy() bool {
	c.feed.Lock()
	defer c.feed.Unlock()
	return c.healthy
}

// AppliedEventID returns the id of the last feed event whose evictions have been applied
// (the `ready` event counts, with its head), 0 before any. Requests that start after it
// returned N never get an answer that an event with id ≤ N revoked.
func (c *Client) AppliedEventID() int64 {
	c.feed.Lock()
	defer c.feed.Unlock()
	return c.applied
}

// WaitApplied returns nil once an event with id ≥ id has been applied (see AppliedEventID),
// or ctx's error. It is the hook that lets a test check ordering, not speed: after jeton
// committed revocation N and WaitApplied(ctx, N) returned, the token is refused.
func (c *Client) WaitApplied(ctx context.Context, id int64) error {
	return c.waitFeed(ctx, func() bool { return c.hasPos && c.applied >= id })
}

// WaitHealthy returns nil once the feed is live (see FeedHealthy), or ctx's error.
func (c *Client) WaitHealthy(ctx context.Context) error {
	return c.waitFeed(ctx, func() bool { return c.healthy })
}

// waitFeed waits until cond, evaluated under c.feed, holds.
func (c *Client) waitFeed(ctx context.Context, cond func() bool) error {
	for {
		c.feed.Lock()
		ok, changed := cond(), c.changed
		c.feed.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// advance records that the event id has been applied, and that the stream is live.
func (c *Client) advance(id int64, live bool) {
	c.feed.Lock()
	defer c.feed.Unlock()
	if !c.hasPos || id > c.applied {
		c.applied, c.hasPos = id, true
	}
	if live && !c.healthy {
		c.healthy = true
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Client) setDown() {
	c.feed.Lock()
	defer c.feed.Unlock()
	if c.healthy {
		c.healthy = false
		close(c.changed)
		c.changed = make(chan struct{})
	}
}

// follow makes one feed request and applies its events until it fails. It reports whether
// the stream went live, and the delay jeton asked for before the next attempt (0: none).
func (c *Client) follow(ctx context.Context) (live bool, hint time.Duration, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var silent atomic.Bool
	idle := time.AfterFunc(c.cfg.FeedIdleTimeout, func() { silent.Store(true); cancel() })
	defer idle.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.feedURL, nil)
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", c.authorization)
	c.feed.Lock()
	fresh, pos := !c.hasPos, c.applied
	c.feed.Unlock()
	if !fresh {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(pos, 10))
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return false, 0, fmt.Errorf("feed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // only for the error code
		return false, retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("feed: jeton answered %s %s", resp.Status, oauthError(body))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, 0, fmt.Errorf("feed: jeton answered %q, not text/event-stream", resp.Header.Get("Content-Type"))
	}
	r := newSSEReader(resp.Body, func() { idle.Reset(c.cfg.FeedIdleTimeout) })
	for {
		ev, err := r.next()
		if err != nil {
			if silent.Load() {
				err = fmt.Errorf("feed: nothing received for %s", c.cfg.FeedIdleTimeout)
			} else if errors.Is(err, io.EOF) {
				err = errors.New("feed: jeton closed the stream")
			}
			return live, r.retry, err
		}
		if c.apply(ev, fresh) {
			live = true
			c.cfg.Logger.Info("rs: jeton revocation feed live", "event_id", c.AppliedEventID())
		}
	}
}

// apply evicts what the event names and records its id. It reports whether the event made
// the stream live (ready). Anything it cannot read safely drops the whole cache.
func (c *Client) apply(ev sseEvent, fresh bool) (ready bool) {
	var id int64
	if ev.hasID {
		var err error
		if id, err = strconv.ParseInt(ev.id, 10, 64); err != nil || id < 0 {
			c.cfg.Logger.Warn("rs: feed event id is not a number; dropping the cache", "id", ev.id)
			c.cache.evict(eviction{kind: evictAll})
			c.feed.Lock()
			c.hasPos = false // reconnect as a new subscriber
			c.feed.Unlock()
			return false
		}
	}
	switch ev.name {
	case "revoke":
		c.cache.evict(revokeEviction(ev.data))
	case "reset":
		c.cfg.Logger.Info("rs: jeton reset the revocation feed; dropping the cache")
		c.cache.evict(eviction{kind: evictAll})
	case "ready":
		var d struct {
			Head *int64 `json:"head"`
		}
		if !ev.hasID {
			if json.Unmarshal([]byte(ev.data), &d) != nil || d.Head == nil {
				c.cfg.Logger.Warn("rs: feed ready event without a head", "data", ev.data)
				return false
			}
			id = *d.Head
		}
		if fresh {
			// A new subscriber missed whatever happened before: what it cached is unknown.
			c.cache.evict(eviction{kind: evictAll})
		}
		c.advance(id, true)
		return true
	default:
		if !ev.hasID {
			return false // not a revocation
		}
		c.cache.evict(eviction{kind: evictAll}) // a kind of revocation this package predates
	}
	if ev.hasID {
		c.advance(id, false)
	}
	return false
}

// revokeEviction reads a revoke event's data; what it cannot read evicts everything.
func revokeEviction(data string) eviction {
	var d struct {
		Kind      string `json:"kind"`
		TokenHash string `json:"token_hash"`
		Sid       string `json:"sid"`
		Sub       string `json:"sub"`
		ClientID  string `json:"client_id"`
	}
	if json.Unmarshal([]byte(data), &d) != nil {
		return eviction{kind: evictAll}
	}
	switch {
	case d.Kind == "token":
		var h hash
		if b, err := hex.DecodeString(d.TokenHash); err == nil && len(b) == len(h) {
			copy(h[:], b)
			return eviction{kind: evictToken, hash: h}
		}
	case d.Kind == "session" && d.Sid != "":
		return eviction{kind: evictSession, key: d.Sid}
	case d.Kind == "user" && d.Sub != "":
		return eviction{kind: evictUser, key: d.Sub}
	case d.Kind == "client" && d.ClientID != "":
		return eviction{kind: evictClient, key: d.ClientID}
	}
	return eviction{kind: evictAll}
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3): seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 31); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
