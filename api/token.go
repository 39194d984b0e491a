package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// authenticate parses the form and authenticates the client, recording its tenant for the
// access log.
func (s *Server) authenticate(c *gin.Context) (form, db.ClientAuth, error) {
	f, err := parseForm(c)
	if err != nil {
		return nil, db.ClientAuth{}, err
	}
	ca, err := s.authenticateForm(c, f)
	return f, ca, err
}

func (s *Server) authenticateForm(c *gin.Context, f form) (db.ClientAuth, error) {
	cred, err := credentials(c, f)
	if err != nil {
		return db.ClientAuth{}, err
	}
	ca, err := s.svc.AuthenticateClient(c, cred)
	if err != nil {
		return ca, err
	}
	c.Set("tenant", ca.Tenant.Slug)
	return ca, nil
}

// token serves POST /token (RFC 6749 §3.2).
func (s *Server) token(c *gin.Context) {
	f, err := parseForm(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	grant := f.get("grant_type")
	if grant == "" {
		s.fail(c, badRequest("grant_type is required"))
		return
	}
	ca, err := s.authenticateForm(c, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	var resp service.TokenResponse
	switch grant {
	case service.GrantPassword:
		resp, err = s.passwordGrant(c, f, ca)
	case service.GrantRefreshToken:
		resp, err = s.refreshGrant(c, f, ca)
	case service.GrantClientCredentials:
		resp, err = s.svc.ClientCredentialsGrant(c, ca, f.get("scope"), actor(c, ca))
	default:
		err = service.ErrUnsupportedGrantType
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

// RFC 6749 §4.3.2: access token request with the resource owner's credentials.
func (s *Server) passwordGrant(c *gin.Context, f form, ca db.ClientAuth) (service.TokenResponse, error) {
	username, password := f.get("username"), f.get("password")
	if username == "" || password == "" {
		return service.TokenResponse{}, badRequest("username and password are required")
	}
	return s.svc.PasswordGrant(c, ca, username, password, f.get("scope"), actor(c, ca))
}

// RFC 6749 §6: refreshing an access token.
func (s *Server) refreshGrant(c *gin.Context, f form, ca db.ClientAuth) (service.TokenResponse, error) {
	rt := f.get("refresh_token")
	if rt == "" {
		return service.TokenResponse{}, badRequest("refresh_token is required")
	}
	return s.svc.RefreshGrant(c, ca, rt, f.get("scope"), actor(c, ca))
}
