package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

// inactive is the whole answer for every token that is not live for the caller
// (RFC 7662 §2.2): nothing says why.
var inactive = gin.H{"active": false}

// introspect serves POST /introspect (RFC 7662 §2.1) to resource servers of the token's
// tenant. A client without the introspect permission gets 403 and learns nothing.
func (s *Server) introspect(c *gin.Context) {
	f, ca, err := s.authenticate(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ca.Client.Introspect {
		s.fail(c, errForbidden)
		return
	}
	tok := f.get("token")
	if tok == "" {
		s.fail(c, badRequest("token is required"))
		return
	}
	in, ok, err := s.svc.Introspect(c, ca, tok)
	if errors.Is(err, service.ErrUnauthorizedClient) {
		err = errForbidden
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		c.JSON(http.StatusOK, inactive)
		return
	}
	in.Iss = s.cfg.Issuer
	c.JSON(http.StatusOK, in)
}

// revoke serves POST /revoke (RFC 7009 §2.1): 200 with an empty body for a revoked,
// unknown, malformed or already revoked token.
func (s *Server) revoke(c *gin.Context) {
	f, ca, err := s.authenticate(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	tok := f.get("token")
	if tok == "" {
		s.fail(c, badRequest("token is required"))
		return
	}
	if err := s.svc.Revoke(c, ca, tok, actor(c, ca)); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}
