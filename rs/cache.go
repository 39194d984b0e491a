package rs

import (
	"sync"
	"time"
)

// evictKind is what a feed event names: one token, or every token of a session, a user or a
// client, or everything.
type evictKind uint8

const (
	evictToken evictKind = iota + 1
	evictSession
	evictUser
	evictClient
	evictAll
)

// eviction is one applied feed event.
type eviction struct {
	kind evictKind
	key  string // the sid, sub or client_id
	hash hash   // evictToken
}

// matches reports whether the eviction covers the answer about the token hashed h.
func (ev eviction) matches(h hash, t Token) bool {
	switch ev.kind {
	case evictToken:
		return ev.hash == h
	case evictSession:
		return t.Sid != "" && ev.key == t.Sid
	case evictUser:
		return ev.key == t.Sub
	case evictClient:
		return ev.key == t.ClientID
	}
	return true
}

// entry is a cached answer: a live token, or a negative answer (active false).
type entry struct {
	tok     Token
	active  bool
	stored  time.Time
	expires time.Time
}

// call is one introspection in flight, shared by every lookup of its token that joins it
// before an eviction (a hand-written singleflight).
type call struct {
	done    chan struct{}
	start   uint64 // cache.seq when the call began
	waiters int    // lookups that joined, for tests
	// Set before done is closed.
	tok    Token
	active bool
	err    error
}

// recentEvictions bounds the evictions remembered for calls in flight. A call that outlived
// that many evictions is not cached: slow calls lose their answer's caching, never
// correctness.
const recentEvictions = 1024

// cache holds introspection answers by token hash, with indexes for the feed's session,
// user and client events, and the calls in flight. One mutex guards it all, so that an
// eviction, the calls it detaches and the answers it keeps out of the cache are one step.
type cache struct {
	mu                     sync.Mutex
	max                    int
	entries                map[hash]*entry
	bySid, bySub, byClient map[string]map[hash]struct{}
	inflight               map[hash]*call
	seq                    uint64 // evictions applied so far
	recent                 [recentEvictions]eviction
}

func newCache(max int) *cache {
	return &cache{max: max, entries: map[hash]*entry{}, bySid: map[string]map[hash]struct{}{},
		bySub: map[string]map[hash]struct{}{}, byClient: map[string]map[hash]struct{}{},
		inflight: map[hash]*call{}}
}

// lookup returns the valid cached answer for h, or else the call in flight for h, which it
// joins; leader is true when it started that call, which the caller must then make and
// finish. An entry is valid before its expiry, and while the feed is down (healthy false)
// only for fallback after it was stored: the feed may have missed a revocation.
func (c *cache) lookup(h hash, now time.Time, healthy bool, fallback time.Duration) (e entry, hit bool, cl *call, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.entries[h]; ok {
		if now.Before(p.expires) && (healthy || now.Sub(p.stored) < fallback) {
			return *p, true, nil, false
		}
		c.remove(h)
	}
	cl, ok := c.inflight[h]
	if !ok {
		cl = &call{done: make(chan struct{}), start: c.seq}
		c.inflight[h] = cl
	}
	cl.waiters++
	return entry{}, false, cl, !ok
}

// finish ends cl, stores e (nil: nothing to store) unless an eviction matching it was
// applied while cl was in flight, and reports whether it stored it. A negative answer is
// stored regardless: no revocation makes a dead token live.
func (c *cache) finish(h hash, cl *call, e *entry) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight[h] == cl {
		delete(c.inflight, h)
	}
	if e == nil || (e.active && c.evictedSince(cl.start, h, e.tok)) {
		return false
	}
	if _, ok := c.entries[h]; ok {
		c.remove(h)
	}
	if len(c.entries) >= c.max {
		c.trim(e.stored)
	}
	c.entries[h] = e
	if e.active {
		index(c.bySid, e.tok.Sid, h)
		index(c.bySub, e.tok.Sub, h)
		index(c.byClient, e.tok.ClientID, h)
	}
	return true
}

// evictedSince reports whether an eviction applied after seq start covers the answer t
// about h. Forgotten evictions count as matching.
func (c *cache) evictedSince(start uint64, h hash, t Token) bool {
	if c.seq-start > recentEvictions {
		return true
	}
	for s := start + 1; s <= c.seq; s++ {
		if c.recent[s%recentEvictions].matches(h, t) {
			return true
		}
	}
	return false
}

// evict applies one feed event: it drops the entries it covers, keeps the answers of the
// calls in flight that it covers out of the cache, and detaches every call in flight, so
// that a lookup after the eviction never joins a call made before it (the call's answer
// is unknown yet, so which ones the event covers is too).
func (c *cache) evict(ev eviction) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.recent[c.seq%recentEvictions] = ev
	clear(c.inflight)
	var set map[hash]struct{}
	switch ev.kind {
	case evictToken:
		c.remove(ev.hash)
		return
	case evictSession:
		set = c.bySid[ev.key]
	case evictUser:
		set = c.bySub[ev.key]
	case evictClient:
		set = c.byClient[ev.key]
	default:
		clear(c.entries)
		clear(c.bySid)
		clear(c.bySub)
		clear(c.byClient)
		return
	}
	for h := range set {
		c.remove(h)
	}
}

// remove drops the entry of h with its index entries. The caller holds mu.
func (c *cache) remove(h hash) {
	e, ok := c.entries[h]
	if !ok {
		return
	}
	delete(c.entries, h)
	if e.active {
		unindex(c.bySid, e.tok.Sid, h)
		unindex(c.bySub, e.tok.Sub, h)
		unindex(c.byClient, e.tok.ClientID, h)
	}
}

// trim makes room when the cache is full: expired entries go first, then arbitrary ones
// down to 90% of the maximum, so a full cache of live entries is not scanned at every
// insert. The caller holds mu.
func (c *cache) trim(now time.Time) {
	for h, e := range c.entries {
		if !now.Before(e.expires) {
			c.remove(h)
		}
	}
	for h := range c.entries {
		if len(c.entries) < c.max*9/10 {
			break
		}
		c.remove(h)
	}
}

// len returns the number of cached entries, valid or not.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func index(m map[string]map[hash]struct{}, key string, h hash) {
	if key == "" {
		return
	}
	set, ok := m[key]
	if !ok {
		set = map[hash]struct{}{}
		m[key] = set
	}
	set[h] = struct{}{}
}

func unindex(m map[string]map[hash]struct{}, key string, h hash) {
	set, ok := m[key]
	if !ok {
		return
	}
	delete(set, h)
	if len(set) == 0 {
		delete(m, key)
	}
}
