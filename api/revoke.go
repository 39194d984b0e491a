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
	f, revoke, err := s.revoker(c)
	tok := f.get("token")
	if err == nil && tok == "" {
		err = badRequest("token is required")
	}
	if err == nil {
		err = revoke(tok)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// revoker authenticates a revocation request, as a client or by an admin key, and returns
// its form and what revokes a token on behalf of whoever it authenticated.
func (s *Server) revoker(c *gin.Context) (form, func(token string) error, error) {
	if key, ok := bearer(c); ok {
		return s.adminRevoker(c, key)
	}
	f, ca, err := s.authenticate(c)
	return f, func(tok string) error { return s.svc.Revoke(c, ca, tok, actor(c, ca)) }, err
}

// adminRevoker is revoker for an admin key. A bad key is invalid_client, as a bad client
// would be (RFC 7009 §2.2.1); client credentials in the form as well are two
// authentication methods (RFC 6749 §2.3).
func (s *Server) adminRevoker(c *gin.Context, key string) (form, func(token string) error, error) {
	f, err := parseForm(c)
	if err != nil {
		return f, nil, err
	}
	if f.get("client_id") != "" || f.get("client_secret") != "" {
		return f, nil, badRequest("more than one client authentication method")
	}
	k, err := s.svc.AuthenticateAdminKey(c, key)
	if err != nil {
		if errors.Is(err, service.ErrInvalidAdminKey) || errors.As(err, new(*service.ForbiddenError)) {
			err = service.ErrInvalidClient
		}
		return f, nil, err
	}
	admin := s.svc.AsAdmin(k, clientIP(c), requestID(c))
	return f, func(tok string) error { return admin.Revoke(c, tok) }, nil
}
