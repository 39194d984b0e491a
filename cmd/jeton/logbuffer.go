package main

import (
	"io"
	"sync"
	"time"
)

// The access log is written in whole lines every logFlushEvery (or when logBufferSize is
// waiting) instead of one write per request: that write was a system call per request, a
// few percent of /introspect's CPU in make bench's profile. A crash loses at most that
// much of the access log. Everything else jeton logs is written at once, and the audit
// trail is in PostgreSQL.
const (
	logFlushEvery = 100 * time.Millisecond
	logBufferSize = 64 << 10
)

// lineBuffer collects what is written to it (slog writes each record whole, in one Write)
// and passes it on to w in batches of whole records.
type lineBuffer struct {
	w      io.Writer
	mu     sync.Mutex
	buf    []byte
	closed bool // after Close, writes go straight to w
	stop   chan struct{}
	done   chan struct{}
}

// newLineBuffer returns a lineBuffer on w that flushes every logFlushEvery until Close.
func newLineBuffer(w io.Writer) *lineBuffer {
	b := &lineBuffer{w: w, buf: make([]byte, 0, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(logFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.flush()
			case <-b.stop:
				b.flush()
				return
			}
		}
	}()
	return b
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > cap(b.buf) {
		b.flushLocked()
	}
	if b.closed || len(p) > cap(b.buf) {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lineBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

// flushLocked writes what is waiting. A failed write is dropped: logging must never fail
// or hold up a request.
func (b *lineBuffer) flushLocked() {
	if len(b.buf) > 0 {
		_, _ = b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
}

// Close writes what is waiting and stops the flushing; later writes (a handler still
// running after a shutdown timed out) go straight to w.
func (b *lineBuffer) Close() error {
	close(b.stop)
	<-b.done
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}
