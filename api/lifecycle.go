package api

import (
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// lifecycleRoutes registers the admin side of the password lifecycle under a tenant.
func (s *Server) lifecycleRoutes(t *gin.RouterGroup) {
	t.POST("/users/:user/password-reset", s.resetter(s.userPasswordReset))
	t.POST("/password-resets", s.resetter(s.passwordResetByName))
	t.PUT("/users/:user/password-change-required", s.admin(s.requirePasswordChange))
	t.DELETE("/users/:user/password-change-required", s.admin(s.requirePasswordChange))
	t.GET("/users/:user/throttles", s.admin(s.getThrottles))
	t.DELETE("/users/:user/throttles", s.admin(s.clearThrottles))
	t.GET("/forbidden-passwords", s.admin(s.getForbiddenWords))
	t.PUT("/forbidden-passwords", s.admin(s.putForbiddenWords))
}

// accountLifecycleRoutes registers what the user does without an access token.
func (s *Server) accountLifecycleRoutes(e *gin.Engine) {
	g := e.Group("/account/v1", noStore, varyOrigin)
	g.POST("/password-reset", s.bounded, s.redeemPasswordReset)
	s.accountPreflights(e)
}

type resetJSON struct {
	ResetToken string    `json:"reset_token"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// resetFunc issues a reset token as whoever asked: an admin key or a client.
type resetFunc func(slug string, id *uuid.UUID, username string) (service.ResetToken, error)

// resetter authenticates a reset request: HTTP Basic as a confidential client with the
// password_reset permission (as at /token), else an admin key.
func (s *Server) resetter(h func(c *gin.Context, reset resetFunc)) gin.HandlerFunc {
	asAdmin := s.admin(func(c *gin.Context, a service.Admin) {
		h(c, func(slug string, id *uuid.UUID, username string) (service.ResetToken, error) {
			return a.PasswordReset(c, slug, id, username)
		})
	})
	return func(c *gin.Context) {
		auth := c.GetHeader("Authorization")
		if scheme, _, _ := strings.Cut(auth, " "); !strings.EqualFold(scheme, "Basic") {
			asAdmin(c)
			return
		}
		cred, ok := parseBasic(auth)
		var ca db.ClientAuth
		var err error
		if ok {
			ca, err = s.svc.AuthenticateClient(c, cred)
		}
		if !ok || errors.Is(err, service.ErrInvalidClient) {
			c.Header("WWW-Authenticate", `Basic realm="jeton"`)
			s.problem(c, problemOf("unauthorized", http.StatusUnauthorized, "Unauthorized",
				"send a valid admin key, or the credentials of a client with password_reset as HTTP Basic"))
			return
		}
		if err != nil {
			s.problem(c, err)
			return
		}
		c.Set("tenant", ca.Tenant.Slug)
		h(c, func(slug string, id *uuid.UUID, username string) (service.ResetToken, error) {
			return s.svc.ClientPasswordReset(c, ca, clientIP(c), requestID(c), slug, id, username)
		})
	}
}

// POST /admin/v1/tenants/{slug}/users/{user}/password-reset
func (s *Server) userPasswordReset(c *gin.Context, reset resetFunc) {
	id, err := idParam(c, "user")
	if err == nil {
		err = readJSON(c, &struct{}{}, true)
	}
	var r service.ResetToken
	if err == nil {
		r, err = reset(c.Param("slug"), &id, "")
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, resetJSON{ResetToken: r.Token, ExpiresAt: r.ExpiresAt})
}

// POST /admin/v1/tenants/{slug}/password-resets: the same answer for every username.
func (s *Server) passwordResetByName(c *gin.Context, reset resetFunc) {
	var req struct {
		Username string `json:"username"`
	}
	err := readJSON(c, &req, false)
	if err == nil && req.Username == "" {
		err = invalidField("username", "is required")
	}
	var r service.ResetToken
	if err == nil {
		r, err = reset(c.Param("slug"), nil, req.Username)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, resetJSON{ResetToken: r.Token, ExpiresAt: r.ExpiresAt})
}

// PUT (with an optional reason, default admin) and DELETE
// /admin/v1/tenants/{slug}/users/{user}/password-change-required
func (s *Server) requirePasswordChange(c *gin.Context, a service.Admin) {
	var req struct {
		Reason string `json:"reason"`
	}
	id, err := idParam(c, "user")
	if err == nil && c.Request.Method == http.MethodPut {
		err = readJSON(c, &req, true)
		if req.Reason == "" {
			req.Reason = service.ReasonAdmin
		}
	}
	var u db.User
	if err == nil {
		u, err = a.RequirePasswordChange(c, c.Param("slug"), id, req.Reason)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, userOut(u))
}

type throttleJSON struct {
	Address      string     `json:"address"`
	Failures     int        `json:"failures"`
	Refused      int        `json:"refused"`
	BlockedUntil *time.Time `json:"blocked_until"`
	ExpiresAt    time.Time  `json:"expires_at"`
}

type knownJSON struct {
	Address       string    `json:"address"`
	LastSuccessAt time.Time `json:"last_success_at"`
}

// GET /admin/v1/tenants/{slug}/users/{user}/throttles
func (s *Server) getThrottles(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "user")
	var st service.UserThrottles
	if err == nil {
		st, err = a.Throttles(c, c.Param("slug"), id)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	out := struct {
		Addresses    []throttleJSON `json:"addresses"`
		User         *throttleJSON  `json:"user"`
		BackoffAfter int            `json:"backoff_after"`
		UserLimit    int            `json:"user_limit"`
		Known        []knownJSON    `json:"known_addresses"`
	}{Addresses: []throttleJSON{}, Known: []knownJSON{}, BackoffAfter: st.BackoffAfter, UserLimit: st.UserLimit}
	for _, r := range st.Counters {
		j := throttleJSON{Address: r.IP, Failures: r.Failures, Refused: r.Refused, BlockedUntil: r.BlockedUntil, ExpiresAt: r.ExpiresAt}
		if r.Kind == "user" {
			j.Address = ""
			out.User = &j
			continue
		}
		out.Addresses = append(out.Addresses, j)
	}
	for _, k := range st.Known {
		out.Known = append(out.Known, knownJSON{Address: k.IP, LastSuccessAt: k.LastSuccessAt})
	}
	c.JSON(http.StatusOK, out)
}

// DELETE /admin/v1/tenants/{slug}/users/{user}/throttles
func (s *Server) clearThrottles(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "user")
	if err == nil {
		err = a.ClearThrottles(c, c.Param("slug"), id)
	}
	noContent(c, err, s.problem)
}

type wordsJSON struct {
	Words []string `json:"words"`
}

// GET /admin/v1/tenants/{slug}/forbidden-passwords
func (s *Server) getForbiddenWords(c *gin.Context, a service.Admin) {
	w, err := a.ForbiddenWords(c, c.Param("slug"))
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, wordsJSON{Words: append([]string{}, w...)})
}

// PUT /admin/v1/tenants/{slug}/forbidden-passwords
func (s *Server) putForbiddenWords(c *gin.Context, a service.Admin) {
	var req wordsJSON
	err := readJSON(c, &req, false)
	var w []string
	if err == nil {
		w, err = a.SetForbiddenWords(c, c.Param("slug"), req.Words)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, wordsJSON{Words: w})
}

func invalidResetToken() *problem {
	return problemOf("invalid-reset-token", http.StatusBadRequest, "Invalid reset token",
		"the reset token is unknown, expired, used or replaced; ask for a new one")
}

// POST /account/v1/password-reset, form or JSON: reset_token and new_password. The
// token is the credential and names no client: an origin some client allows may read the
// answer.
func (s *Server) redeemPasswordReset(c *gin.Context) {
	if origin := c.GetHeader("Origin"); origin != "" {
		if ok, err := s.svc.OriginAllowed(c, origin); err == nil && ok {
			c.Header("Access-Control-Allow-Origin", origin)
		}
	}
	var req struct {
		ResetToken  string `json:"reset_token"`
		NewPassword string `json:"new_password"`
	}
	var err error
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt == formType {
		var f form
		if f, err = parseForm(c); err == nil {
			req.ResetToken, req.NewPassword = f.get("reset_token"), f.get("new_password")
		}
		var oe *oauthError
		if errors.As(err, &oe) {
			err = malformedBody(oe.Desc)
		}
	} else {
		err = readJSON(c, &req, false)
	}
	if err == nil && req.NewPassword == "" {
		err = invalidField("new_password", "is required")
	}
	if err == nil {
		actor := db.Actor{Type: "reset_token", ID: "", Name: "password reset", IP: clientIP(c), RequestID: requestID(c)}
		err = s.svc.RedeemPasswordReset(c, actor, req.ResetToken, req.NewPassword)
	}
	var te *service.ThrottledError
	switch {
	case errors.Is(err, service.ErrInvalidResetToken):
		err = invalidResetToken()
	case errors.As(err, &te):
		err = tooManyAttempts(c, te, "too many failed password resets from here or with this token: try again later")
	}
	noContent(c, err, s.problem)
}

// passwordChangeRequired answers a correct password whose user must change it first: 403
// with the reason and, unless withheld, a reset token for /account/v1/password-reset. A
// documented extension of RFC 6749 §5.2, as mfa_required is elsewhere.
func passwordChangeRequired(c *gin.Context, e *service.PasswordChangeRequiredError) {
	body := gin.H{"error": "password_change_required", "reason": e.Reason,
		"error_description": "the password is correct but must be changed before tokens are issued"}
	if e.ResetToken != "" {
		body["reset_token"] = e.ResetToken
		body["reset_token_expires_at"] = e.ExpiresAt
	} else {
		body["error_description"] = "the password appears in a breach and must be reset through the application's password reset"
	}
	c.AbortWithStatusJSON(http.StatusForbidden, body)
}
