package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Timeouts that apply when Config leaves them zero.
const (
	DefaultRequestTimeout = 2 * time.Second
	DefaultAdminTimeout   = 30 * time.Second
)

// requestTimeout bounds /token, /introspect, /revoke, CORS preflights and /readyz.
func (s *Server) requestTimeout() time.Duration {
	if s.cfg.RequestTimeout > 0 {
		return s.cfg.RequestTimeout
	}
	return DefaultRequestTimeout
}

// adminTimeout bounds every admin API request.
func (s *Server) adminTimeout() time.Duration {
	if s.cfg.AdminTimeout > 0 {
		return s.cfg.AdminTimeout
	}
	return DefaultAdminTimeout
}

// bounded gives an OAuth request the request timeout: every database call it makes ends
// by then, so a database that is down or hung costs the client a 503
// temporarily_unavailable within the timeout, never a hang. Long-lived streams must not
// use it.
func (s *Server) bounded(c *gin.Context) { withDeadline(c, s.requestTimeout()) }

// adminBounded gives an admin request the admin timeout.
func (s *Server) adminBounded(c *gin.Context) { withDeadline(c, s.adminTimeout()) }

func withDeadline(c *gin.Context, d time.Duration) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), d)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// Drain makes /readyz answer 503 from now on, while everything else keeps being served:
// the first step of a graceful shutdown, so load balancers stop sending new requests
// before the listener closes.
func (s *Server) Drain() { s.draining.Store(true) }

// closeWhenDraining asks every client to reconnect (Connection: close) once the server
// drains, so that the keep-alive connections of clients without a health-checking load
// balancer move to other instances before this one stops accepting.
func (s *Server) closeWhenDraining(c *gin.Context) {
	if s.draining.Load() {
		c.Header("Connection", "close")
	}
	c.Next()
}

// healthz says the process is up; it never touches the database, so an outage does not get
// healthy instances restarted.
func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// readyz says whether this instance should get traffic: not while draining, nor while
// the database does not answer within the request timeout.
func (s *Server) readyz(c *gin.Context) {
	if s.draining.Load() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(c, s.requestTimeout())
	defer cancel()
	if err := s.intro.Ready(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}
