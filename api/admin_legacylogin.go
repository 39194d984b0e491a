package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// legacyLoginJSON is a tenant's legacy-login hook: set with url (and secret, else one is
// made and shown once), shown with its url only.
type legacyLoginJSON struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

// legacyLoginPatch is the legacy_login member of a tenant PATCH body.
type legacyLoginPatch struct {
	LegacyLogin optional[legacyLoginJSON] `json:"legacy_login"`
}

// setLegacyLogin applies a PATCH's legacy_login member (null: off) and returns the secret
// it generated, if any.
func (s *Server) setLegacyLogin(c *gin.Context, a service.Admin, o optional[legacyLoginJSON]) (string, error) {
	if !o.set {
		return "", nil
	}
	return a.SetLegacyLogin(c, c.Param("slug"), o.v.URL, o.v.Secret, o.null)
}

// tenantWithHook answers with the tenant and, while it is on, its legacy-login hook.
func (s *Server) tenantWithHook(c *gin.Context, a service.Admin, t db.Tenant, secret string) {
	out := tenantOut(t)
	url, err := a.LegacyLoginURL(c, t)
	if err != nil {
		s.problem(c, err)
		return
	}
	if url != "" {
		out.LegacyLogin = &legacyLoginJSON{URL: url, Secret: secret}
	}
	c.JSON(http.StatusOK, out)
}
