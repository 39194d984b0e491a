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
	MFAPolicy         string    `json:"mfa_policy"`
	MFAFailureLimit   *int      `json:"mfa_failure_limit"`
	PasswordHistory   int       `json:"password_history"`
	PasswordMaxAge    *string   `json:"password_max_age"`
	PasswordResetTTL  string    `json:"password_reset_ttl"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	// LegacyLogin is shown by GET and PATCH of one tenant while the hook is on; its
	// secret only in the answer that generated it.
	LegacyLogin *legacyLoginJSON `json:"legacy_login,omitempty"`
}

func tenantOut(t db.Tenant) tenantJSON {
	return tenantJSON{Slug: t.Slug, Name: t.Name, Disabled: t.Disabled, AccessTTL: formatOptDuration(t.AccessTTL),
		RefreshIdleTTL: formatOptDuration(t.RefreshIdleTTL), RefreshMaxTTL: formatOptDuration(t.RefreshMaxTTL),
		RefreshReuseGrace: service.FormatDuration(t.RefreshReuseGrace), EventRetention: formatOptDuration(t.EventRetention),
		MinPasswordLength: t.MinPasswordLength, LoginBackoffAfter: t.LoginBackoffAfter, LoginUserLimit: t.LoginUserLimit,
		LoginIPLimit: t.LoginIPLimit, MFAPolicy: t.MFAPolicy, MFAFailureLimit: t.MFAFailureLimit,
		PasswordHistory: t.PasswordHistory, PasswordMaxAge: formatOptDuration(t.PasswordMaxAge),
		PasswordResetTTL: service.FormatDuration(service.ResetTTL(t)), CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
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

// GET /admin/v1/tenants?prefix=&limit=&cursor=
func (s *Server) listTenants(c *gin.Context, a service.Admin) {
	limit, err := queryLimit(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	pg, err := a.TenantsPage(c, c.Query("prefix"), c.Query("cursor"), limit)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, pagedOf(pg.Items, pg.NextCursor, tenantOut))
}

// GET /admin/v1/tenants/{slug}
func (s *Server) getTenant(c *gin.Context, a service.Admin) {
	t, err := a.Tenant(c, c.Param("slug"))
	if err != nil {
		s.problem(c, err)
		return
	}
	s.tenantWithHook(c, a, t, "")
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
		MFAPolicy         optional[string] `json:"mfa_policy"`
		MFAFailureLimit   optional[int]    `json:"mfa_failure_limit"`
		legacyLoginPatch
		PasswordHistory  optional[int]    `json:"password_history"`
		PasswordMaxAge   optional[string] `json:"password_max_age"`
		PasswordResetTTL optional[string] `json:"password_reset_ttl"`
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
	setValue(&p, "mfa_policy", req.MFAPolicy, func(t *db.Tenant, v string) { t.MFAPolicy = v })
	setNullable(&p, req.MFAFailureLimit, func(t *db.Tenant, v *int) { t.MFAFailureLimit = v })
	setValue(&p, "password_history", req.PasswordHistory, func(t *db.Tenant, v int) { t.PasswordHistory = v })
	setDuration(&p, "password_max_age", req.PasswordMaxAge, true, func(t *db.Tenant, d *time.Duration) { t.PasswordMaxAge = d })
	setDuration(&p, "password_reset_ttl", req.PasswordResetTTL, true, func(t *db.Tenant, d *time.Duration) { t.PasswordResetTTL = d })
	if p.err != nil {
		s.problem(c, p.err)
		return
	}
	secret, err := s.setLegacyLogin(c, a, req.LegacyLogin)
	if err != nil {
		s.problem(c, err)
		return
	}
	var t db.Tenant
	if len(p.steps) > 0 || !req.LegacyLogin.set {
		t, err = a.UpdateTenant(c, c.Param("slug"), p.apply)
	} else {
		t, err = a.Tenant(c, c.Param("slug"))
	}
	if err != nil {
		s.problem(c, err)
		return
	}
	s.tenantWithHook(c, a, t, secret)
}

// DELETE /admin/v1/tenants/{slug}
func (s *Server) deleteTenant(c *gin.Context, a service.Admin) {
	noContent(c, a.DeleteTenant(c, c.Param("slug")), s.problem)
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
