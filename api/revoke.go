package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

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
	if err := s.svc.Revoke(c, ca, tok, actor(c, ca)); err != nil {
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
	k, err := s.svc.AuthenticateAdminKey(c, key)
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
	if err := s.svc.AsAdmin(k, clientIP(c), requestID(c)).Revoke(c, tok); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}
