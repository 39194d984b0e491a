package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// DefaultFeedWriteTimeout bounds each write to a revocation feed stream when
// Config.FeedWriteTimeout is 0.
const DefaultFeedWriteTimeout = 10 * time.Second

// errFeedFull answers a stream over the feed's caps: the client retries later, spread out.
var errFeedFull = &oauthError{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable, RetryAfter: 5}

// feedRoutes serves GET /revocations when the server has a feed.
func (s *Server) feedRoutes(e *gin.Engine) {
	if s.cfg.Feed != nil {
		e.GET("/revocations", noStore, varyOrigin, s.revocations)
	}
}

// revocations serves GET /revocations, the revocation feed (docs/FEED.md), as Server-Sent
// Events to a resource server of the tenant: HTTP Basic only, the introspect permission,
// Last-Event-ID only from its header (never the query string).
func (s *Server) revocations(c *gin.Context) {
	cred, ok := parseBasic(c.GetHeader("Authorization"))
	if !ok {
		s.fail(c, service.ErrInvalidClient)
		return
	}
	// Until the stream starts, the request timeout bounds the database work, as for
	// /introspect; the stream itself lives as long as the client stays.
	actx, cancel := context.WithTimeout(c.Request.Context(), s.requestTimeout())
	defer cancel()
	ca, err := s.svc.AuthenticateClient(actx, cred)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set("tenant", ca.Tenant.Slug)
	if !ca.Client.Introspect {
		s.fail(c, errForbidden)
		return
	}
	last, resume := lastEventID(c.Request.Header)
	sub, err := s.cfg.Feed.Subscribe(actx, ca, cred.Secret, last, resume)
	if errors.Is(err, service.ErrFeedFull) {
		err = errFeedFull
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	defer sub.Close()
	s.stream(c, sub)
}

// lastEventID reads the Last-Event-ID header: resume is false when it is absent or empty.
// Anything but a decimal id of ours is -1, which the feed answers with a reset.
func lastEventID(h http.Header) (id int64, resume bool) {
	v := h.Get("Last-Event-ID")
	if v == "" {
		return 0, false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return -1, true
		}
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1, true
	}
	return id, true
}

// stream writes sub's events until it ends. Each write has its own deadline, set just
// before it: the server's WriteTimeout, set once per request, would cut every stream off.
// The stream is counted by the feed's caps instead of the connection cap, and its
// connection closes when it ends.
func (s *Server) stream(c *gin.Context, sub *service.Subscription) {
	ctx := c.Request.Context()
	rc := http.NewResponseController(c.Writer)
	// The server's ReadTimeout would otherwise end the request's context mid-stream (its
	// background read for a closed connection times out); a GET stream reads nothing more.
	_ = rc.SetReadDeadline(time.Time{})
	releaseConn(ctx)
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Connection", "close")
	c.Status(http.StatusOK)
	timeout := s.cfg.FeedWriteTimeout
	if timeout <= 0 {
		timeout = DefaultFeedWriteTimeout
	}
	write := func(b []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		if _, err := c.Writer.Write(b); err != nil {
			return err
		}
		return flush(c.Writer)
	}
	if err := write(nil); err != nil {
		s.streamEnded(c, err)
		return
	}
	var buf []byte
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			if errors.Is(err, service.ErrFeedShutdown) {
				// Reconnect soon, to another instance or this one restarted.
				err = errors.Join(err, write([]byte("retry: 1000\n\n")))
			}
			s.streamEnded(c, err)
			return
		}
		buf = appendEvent(buf[:0], ev)
		if err := write(buf); err != nil {
			s.streamEnded(c, err)
			return
		}
	}
}

// flush flushes w and returns the connection's error, which http.Flusher's Flush (gin's
// writer's) drops: it looks for FlushError (net/http's writer) down the Unwrap chain first.
func flush(w http.ResponseWriter) error {
	for {
		if f, ok := w.(interface{ FlushError() error }); ok {
			return f.FlushError()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return http.NewResponseController(w).Flush()
		}
		w = u.Unwrap()
	}
}

// streamEnded logs why a stream ended: the expected reasons (the client or the database
// gone, shutdown, access ended) at debug level, a stream closed for lagging at info,
// anything else as an error.
func (s *Server) streamEnded(c *gin.Context, err error) {
	level := slog.LevelDebug
	switch {
	case errors.Is(err, service.ErrFeedTooSlow):
		level = slog.LevelInfo
	case errors.Is(err, service.ErrFeedShutdown), errors.Is(err, service.ErrFeedAccessEnded),
		errors.Is(err, context.Canceled):
	case !unavailable(err) && !connectionLost(err):
		level = slog.LevelError
	}
	s.log.LogAttrs(c, level, "revocation feed stream ended", slog.String("request_id", requestID(c)),
		slog.String("tenant", c.GetString("tenant")), slog.String("reason", err.Error()))
}

// connectionLost reports whether err is the client's connection failing under a write
// (a write deadline passed, a reset, a closed connection): how many streams end.
func connectionLost(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// feedData is a revoke event's data: the kind and the one member naming what it revokes.
type feedData struct {
	Kind      string `json:"kind"`
	TokenHash string `json:"token_hash,omitempty"`
	Sid       string `json:"sid,omitempty"`
	Sub       string `json:"sub,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
}

// appendEvent appends ev in text/event-stream form.
func appendEvent(b []byte, ev service.FeedEvent) []byte {
	if ev.Type == service.FeedPing {
		return append(b, ": ping\n\n"...)
	}
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, ev.ID, 10)
	b = append(b, "\nevent: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	switch ev.Type {
	case service.FeedReady:
		b = append(b, `{"head":`...)
		b = strconv.AppendInt(b, ev.ID, 10)
		b = append(b, '}')
	case service.FeedRevoke:
		r := ev.Revocation
		d := feedData{Kind: r.Kind}
		switch r.Kind {
		case db.RevokedToken:
			d.TokenHash = r.Subject
		case db.RevokedSession:
			d.Sid = r.Subject
		case db.RevokedUser:
			d.Sub = r.Subject
		case db.RevokedClient:
			d.ClientID = r.Subject
		}
		data, _ := json.Marshal(d) // strings only: never fails, never holds a newline
		b = append(b, data...)
	default:
		b = append(b, "{}"...)
	}
	return append(b, "\n\n"...)
}

type connReleaseKey struct{}

// WithConnRelease returns ctx carrying release, which gives back the connection's place
// under a connection cap (such as cmd/jeton's --max-connections) before it closes. Set it
// from http.Server.ConnContext: a feed stream, once admitted under the feed's own caps,
// calls it, so long-lived streams never use up the connections other requests need.
func WithConnRelease(ctx context.Context, release func()) context.Context {
	return context.WithValue(ctx, connReleaseKey{}, release)
}

// releaseConn calls the release function WithConnRelease put in ctx, if any.
func releaseConn(ctx context.Context) {
	if release, ok := ctx.Value(connReleaseKey{}).(func()); ok {
		release()
	}
}
