package api

import (
	"context"
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
