package api

import (
	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// withMFA fills the mfa member of outs, the admin views of users.
func withMFA(c *gin.Context, a service.Admin, users []db.User, outs []userJSON) error {
	st, err := a.UsersMFA(c, users)
	if err != nil {
		return err
	}
	for i, u := range users {
		outs[i].MFA = factorsOut(st[u.ID])
	}
	return nil
}

// DELETE /admin/v1/tenants/{slug}/users/{user}/mfa
func (s *Server) resetMFA(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "user")
	if err == nil {
		err = a.ResetMFA(c, c.Param("slug"), id)
	}
	noContent(c, err, s.problem)
}
