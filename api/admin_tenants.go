package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// tenantJSON is a tenant as the admin API shows it. A null lifetime, password policy or
// login threshold is the deployment's setting.
type tenantJSON struct {
	Slug              string    `json:"slug"`
	Name              string    `json:"name"`
	Disabled          bool      `json:"disabled"`
	AccessTTL         *string   `json:"access_ttl"`
	RefreshIdleTTL    *string   `json:"refresh_idle_ttl"`
	RefreshMaxTTL     *string   `json:"refresh_max_ttl"`
	RefreshReuseGrace string    `json:"refresh_reuse_grace"`
	EventRetention    *string   `json:"event_retention"`
	MinPasswordLength *int      `json:"min_password_length"`
	LoginBackoffAfter *int      `json:"login_backoff_after"`
	LoginUserLimit    *int      `json:"login_user_limit"`
	LoginIPLimit      *int      `json:"login_ip_limit"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func tenantOut(t db.Tenant) tenantJSON {
	return tenantJSON{Slug: t.Slug, Name: t.Name, Disabled: t.Disabled, AccessTTL: formatOptDuration(t.AccessTTL),
		RefreshIdleTTL: formatOptDuration(t.RefreshIdleTTL), RefreshMaxTTL: formatOptDuration(t.RefreshMaxTTL),
		RefreshReuseGrace: service.FormatDuration(t.RefreshReuseGrace), EventRetention: formatOptDuration(t.EventRetention),
		MinPasswordLength: t.MinPasswordLength, LoginBackoffAfter: t.LoginBackoffAfter, LoginUserLimit: t.LoginUserLimit,
		LoginIPLimit: t.LoginIPLimit, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// POST /admin/v1/tenants
func (s *Server) createTenant(c *gin.Context, a service.Admin) {
	var req struct {
		Slug string `json:"slug"`
		Name string `json:"name"`
	}
	if err := readJSON(c, &req, false); err != nil {
		s.problem(c, err)
		return
	}
	t, err := a.CreateTenant(c, req.Slug, req.Name)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.Header("Location", "/admin/v1/tenants/"+t.Slug)
	c.JSON(http.StatusCreated, tenantOut(t))
}

// GET /admin/v1/tenants
func (s *Server) listTenants(c *gin.Context, a service.Admin) {
	ts, err := a.Tenants(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	out := list[tenantJSON]{Items: make([]tenantJSON, 0, len(ts))}
	for _, t := range ts {
		out.Items = append(out.Items, tenantOut(t))
	}
	c.JSON(http.StatusOK, out)
}

// GET /admin/v1/tenants/{slug}
func (s *Server) getTenant(c *gin.Context, a service.Admin) {
	t, err := a.Tenant(c, c.Param("slug"))
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, tenantOut(t))
}

// PATCH /admin/v1/tenants/{slug}
func (s *Server) patchTenant(c *gin.Context, a service.Admin) {
	var req struct {
		Name              optional[string] `json:"name"`
		Disabled          optional[bool]   `json:"disabled"`
		AccessTTL         optional[string] `json:"access_ttl"`
		RefreshIdleTTL    optional[string] `json:"refresh_idle_ttl"`
		RefreshMaxTTL     optional[string] `json:"refresh_max_ttl"`
		RefreshReuseGrace optional[string] `json:"refresh_reuse_grace"`
		EventRetention    optional[string] `json:"event_retention"`
		MinPasswordLength optional[int]    `json:"min_password_length"`
		LoginBackoffAfter optional[int]    `json:"login_backoff_after"`
		LoginUserLimit    optional[int]    `json:"login_user_limit"`
		LoginIPLimit      optional[int]    `json:"login_ip_limit"`
	}
	if err := readJSON(c, &req, false); err != nil {
		s.problem(c, err)
		return
	}
	var p patch[db.Tenant]
	setValue(&p, "name", req.Name, func(t *db.Tenant, v string) { t.Name = v })
	setValue(&p, "disabled", req.Disabled, func(t *db.Tenant, v bool) { t.Disabled = v })
	setDuration(&p, "access_ttl", req.AccessTTL, true, func(t *db.Tenant, d *time.Duration) { t.AccessTTL = d })
	setDuration(&p, "refresh_idle_ttl", req.RefreshIdleTTL, true, func(t *db.Tenant, d *time.Duration) { t.RefreshIdleTTL = d })
	setDuration(&p, "refresh_max_ttl", req.RefreshMaxTTL, true, func(t *db.Tenant, d *time.Duration) { t.RefreshMaxTTL = d })
	setDuration(&p, "refresh_reuse_grace", req.RefreshReuseGrace, false, func(t *db.Tenant, d *time.Duration) { t.RefreshReuseGrace = *d })
	setDuration(&p, "event_retention", req.EventRetention, true, func(t *db.Tenant, d *time.Duration) { t.EventRetention = d })
	setNullable(&p, req.MinPasswordLength, func(t *db.Tenant, v *int) { t.MinPasswordLength = v })
	setNullable(&p, req.LoginBackoffAfter, func(t *db.Tenant, v *int) { t.LoginBackoffAfter = v })
	setNullable(&p, req.LoginUserLimit, func(t *db.Tenant, v *int) { t.LoginUserLimit = v })
	setNullable(&p, req.LoginIPLimit, func(t *db.Tenant, v *int) { t.LoginIPLimit = v })
	if p.err != nil {
		s.problem(c, p.err)
		return
	}
	t, err := a.UpdateTenant(c, c.Param("slug"), p.apply)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, tenantOut(t))
}

// DELETE /admin/v1/tenants/{slug}
func (s *Server) deleteTenant(c *gin.Context, a service.Admin) {
	if err := a.DeleteTenant(c, c.Param("slug")); err != nil {
		s.problem(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// bulkJSON answers a bulk revocation; Revoked is null when the count failed after the
// revocation committed.
type bulkJSON struct {
	Revoked *int64 `json:"revoked"`
}

// POST /admin/v1/tenants/{slug}/revoke
func (s *Server) revokeTenant(c *gin.Context, a service.Admin) {
	if err := readJSON(c, &struct{}{}, true); err != nil {
		s.problem(c, err)
		return
	}
	r, err := a.RevokeTenantTokens(c, c.Param("slug"))
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, bulkJSON{Revoked: r.Revoked})
}
