package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

// adminKeyJSON describes the admin key of the request, never its value: what a console
// needs to know what it may show. Tenant is null for a global key.
type adminKeyJSON struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Tenant *string `json:"tenant"`
}

// GET /admin/v1/key
func (s *Server) adminKey(c *gin.Context, a service.Admin) {
	k := a.Key()
	out := adminKeyJSON{ID: k.ID.String(), Name: k.Name}
	if k.Tenant != nil {
		out.Tenant = &k.Tenant.Slug
	}
	c.JSON(http.StatusOK, out)
}
