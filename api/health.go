package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

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
// the database does not answer within the request timeout. With a revocation feed it also
// says how the feed delivers (service.Feed.Delivery).
func (s *Server) readyz(c *gin.Context) {
	if s.draining.Load() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(c, s.requestTimeout())
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable"})
		return
	}
	// A feed whose notifications do not arrive still delivers, within a poll: the instance
	// is ready, and says how it delivers.
	if s.cfg.Feed != nil {
		c.JSON(http.StatusOK, gin.H{"status": "ok", "feed": s.cfg.Feed.Delivery()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}
