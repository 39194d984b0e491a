package api

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

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

// authenticateForm authenticates the client of a parsed form.
func (s *Server) authenticateForm(c *gin.Context, f form) (db.ClientAuth, error) {
	cred, err := credentials(c, f)
	if err != nil {
		return db.ClientAuth{}, err
	}
	ca, err := s.svc.AuthenticateClient(c, cred)
	if err != nil {
		return ca, err
	}
	authenticated(c, ca)
	return ca, nil
}

// authenticateLogin is authenticateForm for a request that verifies a password when
// password is true. A password login the hashing pool would refuse (no place left, or a
// queue too long for the request timeout) is refused before its client is authenticated:
// the refusal costs no database work, so a flood of them cannot starve the logins that
// were admitted.
func (s *Server) authenticateLogin(c *gin.Context, f form, password bool) (db.ClientAuth, error) {
	if password {
		if err := s.svc.LoginCapacity(); err != nil {
			return db.ClientAuth{}, err
		}
	}
	return s.authenticateForm(c, f)
}

// authenticated records the authenticated client's tenant for the access log and lets the
// request's Origin read the answer if the client lists it.
func authenticated(c *gin.Context, ca db.ClientAuth) {
	c.Set("tenant", ca.Tenant.Slug)
	allowOrigin(c, ca.Client)
}

// token serves POST /token (RFC 6749 §3.2).
func (s *Server) token(c *gin.Context) {
	f, err := parseForm(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	grant := f.get("grant_type")
	c.Set("grant_type", grantLabel(grant))
	if grant == "" {
		s.fail(c, badRequest("grant_type is required"))
		return
	}
	if grant == service.GrantClientCredentials {
		s.clientCredentials(c, f)
		return
	}
	ca, err := s.authenticateLogin(c, f, grant == service.GrantPassword)
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
	case service.GrantAuthorizationCode:
		resp, err = s.codeGrant(c, f, ca)
	default:
		if isMFAGrant(grant) {
			resp, err = s.mfaGrant(c, f, ca, grant)
		} else {
			err = service.ErrUnsupportedGrantType
		}
	}
	s.answerLogin(c, resp, err, mfaRequired)
}

// grantLabel names a requested grant type for logs and metrics: one jeton supports, else
// "other" (the value is the client's, and could be anything).
func grantLabel(grant string) string {
	if slices.Contains(service.GrantTypes, grant) {
		return grant
	}
	return "other"
}

// RFC 6749 §4.4.2: access token request of a client on its own behalf. The service
// authenticates the client with the grant (service.ClientCredentials): in the issuing
// statement itself for a client it has seen before.
func (s *Server) clientCredentials(c *gin.Context, f form) {
	cred, err := credentials(c, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	ca, resp, err := s.svc.ClientCredentials(c, cred, f.get("scope"),
		func(ca db.ClientAuth) db.Actor { return actor(c, ca) })
	if ca.Client.ID != "" {
		authenticated(c, ca)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

// RFC 6749 §4.3.2: access token request with the resource owner's credentials.
func (s *Server) passwordGrant(c *gin.Context, f form, ca db.ClientAuth) (service.TokenResponse, error) {
	username, pw := f.get("username"), f.get("password")
	if username == "" || pw == "" {
		return service.TokenResponse{}, badRequest("username and password are required")
	}
	l := service.PasswordLogin{Username: username, Password: pw, Scope: f.get("scope"), Actor: actor(c, ca),
		UserAgent: c.Request.UserAgent()}
	if ca.Client.ForwardsUserIP && !ca.Client.Public {
		ip, err := forwardedUserIP(c)
		if err != nil {
			return service.TokenResponse{}, err
		}
		l.UserIP = ip
		if ip.IsValid() {
			c.Set("user_ip", ip.String())
		}
	}
	return s.svc.PasswordGrant(c, ca, l)
}

// forwardedUserIPHeader carries the end user's address from a confidential client flagged
// forwards_user_ip (a tenant's backend relaying its users' logins); nobody else's is read.
const forwardedUserIPHeader = "Jeton-Forwarded-For"

// forwardedUserIP reads the end user's address from Jeton-Forwarded-For: the zero Addr
// when the header is absent; invalid_request unless it is exactly one IP address.
func forwardedUserIP(c *gin.Context) (netip.Addr, error) {
	vals := c.Request.Header.Values(forwardedUserIPHeader)
	if len(vals) == 0 {
		return netip.Addr{}, nil
	}
	if len(vals) > 1 {
		return netip.Addr{}, badRequest(forwardedUserIPHeader + " must be one IP address")
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(vals[0]))
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, badRequest(forwardedUserIPHeader + " must be one IP address")
	}
	return ip, nil
}

// RFC 6749 §6: refreshing an access token.
func (s *Server) refreshGrant(c *gin.Context, f form, ca db.ClientAuth) (service.TokenResponse, error) {
	rt := f.get("refresh_token")
	if rt == "" {
		return service.TokenResponse{}, badRequest("refresh_token is required")
	}
	return s.svc.RefreshGrant(c, ca, rt, f.get("scope"), actor(c, ca))
}
