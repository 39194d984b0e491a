// Package testkit is what the tests of jeton's packages share: a settable clock, a log
// buffer that concurrent writers may share, argon2id parameters cheap enough for tests and
// the names of the standard fixture. Only tests import it (layout_test.go checks); it
// imports no jeton package that imports service, so service's own tests can use it.
package testkit

import (
	"bytes"
	"log/slog"
	"sync"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
)

// Start is where a test's clock starts unless the test needs another time.
var Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a time source the test sets and moves; it is safe for concurrent use, so the
// service under test may read it while the test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Buffer collects what concurrent writers (request handlers, a command's goroutines)
// write, and may be read while they write. The zero Buffer is empty and ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a logger writing text to b at every level, debug included.
func (b *Buffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// FastHash are argon2id parameters that keep tests quick; the production parameters are
// the password package's tests' business.
var FastHash = password.Params{Memory: 64, Time: 1, Threads: 1}

// Actor is the command-line operator the tests administer jeton as.
var Actor = db.Actor{Type: "cli", ID: "test", Name: "cli:test"}

// AlicePassword is the password of alice, the standard fixture's first user.
const AlicePassword = "correct horse battery staple"
