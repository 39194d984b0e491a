package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// userJSON is a user as the admin API shows it. Scopes null means no restriction beyond
// the client's.
type userJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Disabled  bool      `json:"disabled"`
	Scopes    []string  `json:"scopes"`
	MFA       mfaJSON   `json:"mfa"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// PasswordChangeReason is null unless the user must change the password first.
	PasswordChangedAt    time.Time `json:"password_changed_at"`
	PasswordChangeReason *string   `json:"password_change_reason"`
}

func userOut(u db.User) userJSON {
	out := userJSON{ID: u.ID.String(), Username: u.Username, Disabled: u.Disabled, Scopes: u.Scopes,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, PasswordChangedAt: u.PasswordChangedAt}
	if u.PasswordChangeReason != "" {
		r := u.PasswordChangeReason
		out.PasswordChangeReason = &r
	}
	return out
}

// POST /admin/v1/tenants/{slug}/users
func (s *Server) createUser(c *gin.Context, a service.Admin) {
	var req struct {
		Username string             `json:"username"`
		Password string             `json:"password"`
		Scopes   optional[[]string] `json:"scopes"`
	}
	if err := readJSON(c, &req, false); err != nil {
		s.problem(c, err)
		return
	}
	var scopes []string // absent or null: no restriction
	if req.Scopes.set && !req.Scopes.null {
		scopes = req.Scopes.v
	}
	slug := c.Param("slug")
	u, err := a.CreateUser(c, slug, req.Username, req.Password, scopes)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.Header("Location", "/admin/v1/tenants/"+slug+"/users/"+u.ID.String())
	c.JSON(http.StatusCreated, userOut(u))
}

// GET /admin/v1/tenants/{slug}/users?prefix=&limit=&cursor=
func (s *Server) listUsers(c *gin.Context, a service.Admin) {
	limit, err := queryLimit(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	pg, err := a.Users(c, c.Param("slug"), c.Query("prefix"), c.Query("cursor"), limit)
	if err != nil {
		s.problem(c, err)
		return
	}
	out := pagedOf(pg.Items, pg.NextCursor, userOut)
	if err := withMFA(c, a, pg.Items, out.Items); err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// GET /admin/v1/tenants/{slug}/users/{user}
func (s *Server) getUser(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "user")
	if err == nil {
		var u db.User
		if u, err = a.User(c, c.Param("slug"), id); err == nil {
			out := []userJSON{userOut(u)}
			if err = withMFA(c, a, []db.User{u}, out); err == nil {
				c.JSON(http.StatusOK, out[0])
				return
			}
		}
	}
	s.problem(c, err)
}

// PATCH /admin/v1/tenants/{slug}/users/{user}
func (s *Server) patchUser(c *gin.Context, a service.Admin) {
	var req struct {
		Disabled optional[bool]     `json:"disabled"`
		Scopes   optional[[]string] `json:"scopes"`
	}
	id, err := idParam(c, "user")
	if err == nil {
		err = readJSON(c, &req, false)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	var p patch[db.User]
	setValue(&p, "disabled", req.Disabled, func(u *db.User, v bool) { u.Disabled = v })
	setNullable(&p, req.Scopes, func(u *db.User, v *[]string) {
		u.Scopes = nil
		if v != nil {
			u.Scopes = *v
		}
	})
	if p.err != nil {
		s.problem(c, p.err)
		return
	}
	u, err := a.UpdateUser(c, c.Param("slug"), id, p.apply)
	out := []userJSON{userOut(u)}
	if err == nil {
		err = withMFA(c, a, []db.User{u}, out)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, out[0])
}

// DELETE /admin/v1/tenants/{slug}/users/{user}
func (s *Server) deleteUser(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "user")
	if err == nil {
		err = a.DeleteUser(c, c.Param("slug"), id)
	}
	noContent(c, err, s.problem)
}

// PUT /admin/v1/tenants/{slug}/users/{user}/password
func (s *Server) setPassword(c *gin.Context, a service.Admin) {
	var req struct {
		Password string `json:"password"`
	}
	id, err := idParam(c, "user")
	if err == nil {
		err = readJSON(c, &req, false)
	}
	if err == nil {
		err = a.SetPassword(c, c.Param("slug"), id, req.Password)
	}
	noContent(c, err, s.problem)
}

// POST /admin/v1/tenants/{slug}/users/{user}/revoke
func (s *Server) revokeUser(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "user")
	if err == nil {
		err = readJSON(c, &struct{}{}, true)
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	r, err := a.RevokeUserTokens(c, c.Param("slug"), id)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, bulkJSON{Revoked: r.Revoked})
}

// sessionJSON is one of a user's live sessions.
type sessionJSON struct {
	ID              string     `json:"id"`
	ClientID        string     `json:"client_id"`
	Scope           string     `json:"scope"`
	CreatedAt       time.Time  `json:"created_at"`
	LastRefreshedAt *time.Time `json:"last_refreshed_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
}

// GET /admin/v1/tenants/{slug}/users/{user}/sessions
func (s *Server) listSessions(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "user")
	if err != nil {
		s.problem(c, err)
		return
	}
	sessions, err := a.UserSessions(c, c.Param("slug"), id)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, listOf(sessions, sessionOut))
}

// DELETE /admin/v1/tenants/{slug}/users/{user}/sessions/{session}
func (s *Server) deleteSession(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "user")
	if err != nil {
		s.problem(c, err)
		return
	}
	session, err := idParam(c, "session")
	if err == nil {
		err = a.RevokeUserSession(c, c.Param("slug"), id, session)
	}
	noContent(c, err, s.problem)
}
