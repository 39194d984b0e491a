package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

// inactive is the whole answer for every token that is not live for the caller
// (RFC 7662 §2.2): nothing says why. It is encoded once.
var inactive = []byte(`{"active":false}`)

// jsonType is the Content-Type of every JSON answer, as Gin's c.JSON writes it.
const jsonType = "application/json; charset=utf-8"

// introspect serves POST /introspect (RFC 7662 §2.1) to resource servers of the token's
// tenant. A client without the introspect permission gets 403 and learns nothing.
func (s *Server) introspect(c *gin.Context) {
	f, err := parseForm(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	cred, err := credentials(c, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	origin := c.GetHeader("Origin")
	tok := f.get("token")
	caller, in, ok, err := s.intro.IntrospectAs(c, cred, tok, origin)
	if caller.Tenant != "" {
		c.Set("tenant", caller.Tenant)
		if caller.OriginAllowed {
			c.Header("Access-Control-Allow-Origin", origin)
		}
	}
	if errors.Is(err, service.ErrUnauthorizedClient) {
		err = errForbidden
	}
	if err == nil && tok == "" {
		err = badRequest("token is required")
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		c.Data(http.StatusOK, jsonType, inactive)
		return
	}
	in.Iss = s.cfg.Issuer
	c.JSON(http.StatusOK, in)
}

// revoke serves POST /revoke (RFC 7009 §2.1): 200 with an empty body for a revoked,
// unknown, malformed or already revoked token. A client revokes its own tokens; an admin
// key sent as Bearer credentials revokes any token of its tenant (a global key: any token).
func (s *Server) revoke(c *gin.Context) {
	if key, ok := bearer(c); ok {
		s.adminRevoke(c, key)
		return
	}
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
	if err := s.intro.Revoke(c, ca, tok, actor(c, ca)); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// adminRevoke is /revoke authenticated by an admin key. A bad key is invalid_client, as a
// bad client would be (RFC 7009 §2.2.1); client credentials in the form as well are two
// authentication methods (RFC 6749 §2.3).
func (s *Server) adminRevoke(c *gin.Context, key string) {
	f, err := parseForm(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if f.get("client_id") != "" || f.get("client_secret") != "" {
		s.fail(c, badRequest("more than one client authentication method"))
		return
	}
	k, err := s.intro.AuthenticateAdminKey(c, key)
	if err != nil {
		if errors.Is(err, service.ErrInvalidAdminKey) || errors.As(err, new(*service.ForbiddenError)) {
			err = service.ErrInvalidClient
		}
		s.fail(c, err)
		return
	}
	tok := f.get("token")
	if tok == "" {
		s.fail(c, badRequest("token is required"))
		return
	}
	if err := s.intro.AsAdmin(k, clientIP(c), requestID(c)).Revoke(c, tok); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}
