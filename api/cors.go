package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
)

// CORS (the Fetch standard's CORS protocol) lets browser pages of other origins call
// /token, /introspect and /revoke. A preflight carries no credentials, so it is told only
// whether some client of the deployment allows its origin; an actual response allows its
// origin only when that origin is on the list of the client that authenticated. Credentials
// travel in the Authorization header or the body, never in cookies, so
// Access-Control-Allow-Credentials is never sent.

// corsPaths are the endpoints browsers may call cross-origin.
var corsPaths = []string{"/token", "/introspect", "/revoke", "/authorize-challenge"}

const (
	// corsAllowHeaders are the request headers a cross-origin call may send. Swagger UI
	// and other XMLHttpRequest clients add X-Requested-With.
	corsAllowHeaders = "Authorization, Content-Type, X-Requested-With"
	// corsMaxAge is how long a browser may reuse a preflight's answer.
	corsMaxAge = 10 * time.Minute
)

// corsRoutes answers preflights on the CORS endpoints.
func (s *Server) corsRoutes(e *gin.Engine) {
	for _, p := range corsPaths {
		e.OPTIONS(p, varyOrigin, s.bounded, s.preflight)
	}
}

// varyOrigin marks a response as depending on the Origin header, whether or not it allows
// it, so that no cache serves one origin's answer to another.
func varyOrigin(c *gin.Context) { c.Writer.Header().Add("Vary", "Origin") }

// preflight answers a CORS preflight with 204, the methods and headers the endpoint
// accepts and, when some enabled client allows the Origin, that origin.
func (s *Server) preflight(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Methods", http.MethodPost)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", strconv.Itoa(int(corsMaxAge.Seconds())))
	if origin := c.GetHeader("Origin"); origin != "" {
		ok, err := s.svc.OriginAllowed(c, origin)
		if err != nil {
			s.fail(c, err)
			return
		}
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
		}
	}
	c.Status(http.StatusNoContent)
}

// allowOrigin lets the request's Origin read the response, errors included, when the
// authenticated client lists it. Handlers call it as soon as the client is known.
func allowOrigin(c *gin.Context, cl db.Client) {
	if origin := c.GetHeader("Origin"); origin != "" && slices.Contains(cl.AllowedOrigins, origin) {
		c.Header("Access-Control-Allow-Origin", origin)
	}
}
