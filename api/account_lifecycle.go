package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

// The account API's password and session endpoints, on its common base (account.go).

// accountSessionRoutes registers the account API's password and session endpoints.
func (s *Server) accountSessionRoutes(g *gin.RouterGroup) {
	g.POST("/password", s.account(false, []string{"current_password", "new_password"}, s.accountPassword))
	g.GET("/sessions", s.account(false, nil, s.accountSessions))
	g.DELETE("/sessions/:sid", s.account(false, nil, s.accountDeleteSession))
	g.POST("/logout", s.account(false, []string{}, s.accountLogout))
	g.POST("/logout-all", s.account(false, []string{}, s.accountLogoutAll))
}

// accountCORS lists the account API's paths and the methods a cross-origin page may call
// them with; each answers preflights as the OAuth endpoints do.
var accountCORS = map[string]string{
	"/account/v1/password": "POST", "/account/v1/sessions": "GET",
	"/account/v1/sessions/:sid": "DELETE", "/account/v1/logout": "POST", "/account/v1/logout-all": "POST",
	"/account/v1/password-reset": "POST",
}

func (s *Server) accountPreflights(e *gin.Engine) {
	for p, methods := range accountCORS {
		e.OPTIONS(p, varyOrigin, s.bounded, func(c *gin.Context) {
			s.preflight(c)
			// preflight names the OAuth endpoints' POST; nothing is written yet.
			c.Writer.Header().Set("Access-Control-Allow-Methods", methods)
		})
	}
}

// POST /account/v1/password
func (s *Server) accountPassword(c *gin.Context, a service.AccountCaller, body accountBody) {
	var err error
	switch {
	case body["current_password"] == "":
		err = invalidField("current_password", "is required")
	case body["new_password"] == "":
		err = invalidField("new_password", "is required")
	}
	var out service.PasswordChanged
	if err == nil {
		out, err = s.svc.ChangeOwnPassword(c, a, body["current_password"], body["new_password"])
	}
	var te *service.ThrottledError
	if errors.As(err, &te) {
		err = tooManyAttempts(c, te, "too many wrong passwords: try again later")
	}
	if err != nil {
		s.accountProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, struct {
		RevokedSessions int `json:"revoked_sessions"`
		service.TokenResponse
	}{out.RevokedSessions, out.Tokens})
}

type accountSessionJSON struct {
	SID        string    `json:"sid"`
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

// GET /account/v1/sessions
func (s *Server) accountSessions(c *gin.Context, a service.AccountCaller, _ accountBody) {
	ss, err := s.svc.AccountSessions(c, a)
	if err != nil {
		s.accountProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, listOf(ss, accountSessionOut))
}

// accountSessionOut is a session as its user sees it: last used at its last refresh, if any.
func accountSessionOut(x service.AccountSessionInfo) accountSessionJSON {
	last := x.CreatedAt
	if x.LastRefreshedAt != nil {
		last = *x.LastRefreshedAt
	}
	return accountSessionJSON{SID: x.ID.String(), ClientID: x.ClientID, ClientName: x.ClientName,
		CreatedAt: x.CreatedAt, LastUsedAt: last, IP: x.Login.IP, UserAgent: x.Login.UserAgent, Current: x.Current}
}

// DELETE /account/v1/sessions/{sid}: another user's session is 404.
func (s *Server) accountDeleteSession(c *gin.Context, a service.AccountCaller, _ accountBody) {
	sid, err := idParam(c, "sid")
	if err == nil {
		err = s.svc.AccountRevokeSession(c, a, sid)
	}
	noContent(c, err, s.accountProblem)
}

// POST /account/v1/logout: this session.
func (s *Server) accountLogout(c *gin.Context, a service.AccountCaller, _ accountBody) {
	noContent(c, s.svc.AccountRevokeSession(c, a, a.SessionID), s.accountProblem)
}

// POST /account/v1/logout-all: every session of the user.
func (s *Server) accountLogoutAll(c *gin.Context, a service.AccountCaller, _ accountBody) {
	noContent(c, s.svc.AccountLogoutAll(c, a), s.accountProblem)
}
