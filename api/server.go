// Package api serves jeton's HTTP endpoints with Gin: /token, /introspect, /revoke,
// discovery, health and the admin API under /admin/v1. It parses requests and writes responses; the rules live in
// service.
package api

import (
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// Config is what the HTTP layer needs from the command line.
type Config struct {
	// Issuer is the configured issuer URL; iss and discovery use it, never the Host header.
	Issuer string
	// TrustedProxies are the CIDRs whose forwarding headers are believed; nil trusts none.
	TrustedProxies []string
	// RequestTimeout bounds each OAuth request and /readyz (DefaultRequestTimeout when 0);
	// AdminTimeout each admin API request (DefaultAdminTimeout when 0). Past it the answer
	// is 503.
	RequestTimeout time.Duration
	AdminTimeout   time.Duration
	// RefusalDelay holds the answer to a password login refused before any verification
	// (429 by a throttle, 503 for a full hashing pool) for this long, at most the
	// Retry-After it carries: a client that ignores Retry-After, as a flood's closed loop
	// does, then cannot turn cheap refusals into a storm that takes the CPU from every
	// other request. 0: answered at once. jeton serve uses DefaultRefusalDelay.
	RefusalDelay time.Duration
	// AccessLog, when not nil, takes the access log's line per request instead of the
	// server's logger (jeton serve gives it a buffered one).
	AccessLog *slog.Logger
	// Requests, when not nil, hears of every finished request (metrics.Metrics).
	Requests RequestObserver
	// Feed, when not nil, serves GET /revocations; each write to a stream must finish
	// within FeedWriteTimeout (0: DefaultFeedWriteTimeout).
	Feed             *service.Feed
	FeedWriteTimeout time.Duration
	// Console, when not nil, serves the admin console under /console/ (console.Files).
	Console http.Handler
	// ImportMaxBytes bounds the body of a user import (DefaultImportMaxBytes when 0).
	ImportMaxBytes int64
}

// RequestObserver records finished requests. It gets only bounded values: the route
// template (never the path), the method, the status, the grant type of a /token request
// (one of service.GrantTypes or "other"; "" elsewhere) and the latency.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, grant string, took time.Duration)
}

// Server is jeton's HTTP handler.
type Server struct {
	cfg Config
	// svc serves every route; which database connections each query uses is db.Store's
	// business (db.WithTokenPool).
	svc    *service.Service
	log    *slog.Logger
	access *slog.Logger // the access log: cfg.AccessLog, else log
	engine *gin.Engine
	// draining is set by Drain: /readyz answers 503 from then on.
	draining atomic.Bool
}

// NewServer wires the routes. It returns an error for an invalid trusted proxy.
func NewServer(cfg Config, svc *service.Service, log *slog.Logger) (*Server, error) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	s := &Server{cfg: cfg, svc: svc, log: log, access: log, engine: e}
	if cfg.AccessLog != nil {
		s.access = cfg.AccessLog
	}

	e.Use(s.requestID, s.accessLog, s.recover, s.closeWhenDraining)
	e.NoMethod(func(c *gin.Context) {
		if isAdminPath(c) {
			s.problem(c, errMethod)
			return
		}
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, gin.H{"error": "invalid_request", "error_description": "method not allowed"})
	})
	e.NoRoute(func(c *gin.Context) {
		if isAdminPath(c) {
			s.problem(c, notFound())
			return
		}
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_found"})
	})

	oauth := e.Group("/", noStore, varyOrigin)
	oauth.POST("/token", s.bounded, s.token)
	oauth.POST("/introspect", s.bounded, s.introspect)
	oauth.POST("/revoke", s.bounded, s.revoke)
	oauth.POST("/authorize-challenge", s.bounded, s.authorizeChallenge)
	s.corsRoutes(e)
	s.adminRoutes(e)
	s.accountRoutes(e)
	s.bulkRoutes(e)
	s.accountLifecycleRoutes(e)
	s.feedRoutes(e)
	s.consoleRoutes(e)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if err := s.openAPIRoute(e); err != nil {
		return nil, err
	}
	for _, p := range discoveryPaths(cfg.Issuer) {
		e.GET(p, s.discovery)
	}
	return s, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// noStore marks OAuth responses uncacheable (RFC 6749 §5.1).
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes a sane X-Request-Id from the caller or makes one, and echoes it. A
// made one needs to be unique, not secret: math/rand's generator is enough, and cheaper
// than the operating system's on every request.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !requestIDRE.MatchString(id) {
		var b [12]byte
		binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
		binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
		id = hex.EncodeToString(b[:])
	}
	c.Set("request_id", id)
	c.Header("X-Request-Id", id)
}

func requestID(c *gin.Context) string { return c.GetString("request_id") }

// accessLog writes one line per request and reports it to the request observer. It never
// logs bodies, query strings or headers, where secrets travel, nor the path (it may hold
// ids): the route template stands for it.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	took := time.Since(start)
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	grant := c.GetString("grant_type")
	attrs := []slog.Attr{slog.String("request_id", requestID(c)), slog.String("method", c.Request.Method),
		slog.String("route", route), slog.Int("status", c.Writer.Status()),
		slog.Duration("latency", took), slog.String("tenant", c.GetString("tenant")),
		slog.String("ip", clientIP(c))}
	if grant != "" {
		attrs = append(attrs, slog.String("grant_type", grant))
	}
	if u := c.GetString("user_ip"); u != "" {
		attrs = append(attrs, slog.String("user_ip", u))
	}
	s.access.LogAttrs(c, slog.LevelInfo, "request", attrs...)
	if s.cfg.Requests != nil {
		s.cfg.Requests.ObserveRequest(route, c.Request.Method, c.Writer.Status(), grant, took)
	}
}

// recover turns a panic into a logged server_error instead of a dropped connection.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.ErrorContext(c, "panic", slog.String("request_id", requestID(c)), slog.Any("panic", r))
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "server_error"})
		}
	}()
	c.Next()
}

// clientIP is the one place that decides a request's IP, for throttles, events and logs:
// the peer, or a forwarded address only from a configured trusted proxy. A password grant
// from a confidential client flagged forwards_user_ip may add its end user's address
// (Jeton-Forwarded-For), which the access log shows as user_ip and the service counts
// within the client's tenant only.
func clientIP(c *gin.Context) string { return c.ClientIP() }

// actor describes an authenticated client making this request, for events.
func actor(c *gin.Context, ca db.ClientAuth) db.Actor {
	return db.Actor{Type: "client", ID: ca.Client.ID, Name: ca.Client.Name, IP: clientIP(c), RequestID: requestID(c)}
}
