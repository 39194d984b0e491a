package main

import (
	"context"
	"crypto/tls"
	"net"
	"sync"

	"github.com/jeton-auth/jeton/api"
)

// limitListener caps the connections open at once, as golang.org/x/net/netutil's
// LimitListener does (Accept waits for a free place), with one difference: a connection can
// give its place back before it closes. A revocation feed stream does, once the feed's own
// caps (--feed-max-streams, --feed-max-streams-per-tenant) admitted it, so streams never
// use up the places of ordinary requests; its connection closes when the stream ends, so a
// released connection never serves another request uncounted.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free place, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
}

// open returns how many connections hold a place now.
func (l *limitListener) open() int { return len(l.sem) }

// Close closes the listener and ends any Accept waiting for a place.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitedConn holds a place under a limitListener until it closes or releases it.
type limitedConn struct {
	net.Conn
	release func() // idempotent
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// connContext is the http.Server's ConnContext: a request on a connection counted by a
// limitListener (under TLS or not) can give the connection's place back
// (api.WithConnRelease).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitedConn); ok {
		return api.WithConnRelease(ctx, lc.release)
	}
	return ctx
}
