package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// clientJSON is a client as the admin API shows it: its secrets are described, never
// shown. DefaultScopes null means all allowed scopes; a null lifetime is the tenant's.
type clientJSON struct {
	ClientID       string       `json:"client_id"`
	Name           string       `json:"name"`
	Public         bool         `json:"public"`
	Disabled       bool         `json:"disabled"`
	GrantTypes     []string     `json:"grant_types"`
	Scopes         []string     `json:"scopes"`
	DefaultScopes  []string     `json:"default_scopes"`
	Introspect     bool         `json:"introspect"`
	AllowedOrigins []string     `json:"allowed_origins"`
	ForwardsUserIP bool         `json:"forwards_user_ip"`
	FirstParty     bool         `json:"first_party"`
	PasswordReset  bool         `json:"password_reset"`
	AccessTTL      *string      `json:"access_ttl"`
	RefreshIdleTTL *string      `json:"refresh_idle_ttl"`
	RefreshMaxTTL  *string      `json:"refresh_max_ttl"`
	Secrets        []secretJSON `json:"secrets"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
	// ClientSecret is shown once, when the client is created or its secret rotated.
	ClientSecret string `json:"client_secret,omitempty"`
}

type secretJSON struct {
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func clientOut(c db.Client, secrets []db.Secret) clientJSON {
	out := clientJSON{
		ClientID:       c.ID,
		Name:           c.Name,
		Public:         c.Public,
		Disabled:       c.Disabled,
		GrantTypes:     c.GrantTypes,
		Scopes:         c.Scopes,
		DefaultScopes:  c.DefaultScopes,
		Introspect:     c.Introspect,
		AllowedOrigins: c.AllowedOrigins,
		ForwardsUserIP: c.ForwardsUserIP,
		FirstParty:     c.FirstParty,
		PasswordReset:  c.PasswordReset,
		AccessTTL:      formatOptDuration(c.AccessTTL),
		RefreshIdleTTL: formatOptDuration(c.RefreshIdleTTL),
		RefreshMaxTTL:  formatOptDuration(c.RefreshMaxTTL),
		Secrets:        make([]secretJSON, 0, len(secrets)),
		CreatedAt:      c.CreatedAt,
		UpdatedAt:      c.UpdatedAt,
	}
	for _, sec := range secrets {
		out.Secrets = append(out.Secrets, secretJSON{CreatedAt: sec.CreatedAt, ExpiresAt: sec.ExpiresAt})
	}
	return out
}

// writeClient answers with the client, its secrets described. A new secret is never lost
// to a failure after it was stored: the answer then carries it without the description.
func (s *Server) writeClient(c *gin.Context, a service.Admin, status int, cl db.Client, secret string) {
	secrets, err := a.ClientSecrets(c, c.Param("slug"), cl.ID)
	if err != nil && secret == "" {
		s.problem(c, err)
		return
	}
	if err != nil {
		s.log.ErrorContext(c, "describe client secrets", slog.String("request_id", requestID(c)), slog.Any("err", err))
	}
	out := clientOut(cl, secrets)
	out.ClientSecret = secret
	c.JSON(status, out)
}

// POST /admin/v1/tenants/{slug}/clients
func (s *Server) createClient(c *gin.Context, a service.Admin) {
	var req struct {
		Name           string             `json:"name"`
		Public         bool               `json:"public"`
		GrantTypes     []string           `json:"grant_types"`
		Scopes         []string           `json:"scopes"`
		DefaultScopes  optional[[]string] `json:"default_scopes"`
		Introspect     bool               `json:"introspect"`
		AllowedOrigins []string           `json:"allowed_origins"`
		ForwardsUserIP bool               `json:"forwards_user_ip"`
		FirstParty     bool               `json:"first_party"`
		PasswordReset  bool               `json:"password_reset"`
		AccessTTL      optional[string]   `json:"access_ttl"`
		RefreshIdleTTL optional[string]   `json:"refresh_idle_ttl"`
		RefreshMaxTTL  optional[string]   `json:"refresh_max_ttl"`
	}
	if err := readJSON(c, &req, false); err != nil {
		s.problem(c, err)
		return
	}
	spec := service.ClientSpec{Name: req.Name, Public: req.Public, GrantTypes: req.GrantTypes, Scopes: req.Scopes,
		Introspect: req.Introspect, AllowedOrigins: req.AllowedOrigins, ForwardsUserIP: req.ForwardsUserIP,
		FirstParty: req.FirstParty, PasswordReset: req.PasswordReset}
	var p patch[service.ClientSpec]
	setNullable(&p, req.DefaultScopes, func(cs *service.ClientSpec, v *[]string) {
		if v != nil {
			cs.DefaultScopes = *v
		}
	})
	setDuration(&p, "access_ttl", req.AccessTTL, true, func(cs *service.ClientSpec, d *time.Duration) { cs.AccessTTL = d })
	setDuration(&p, "refresh_idle_ttl", req.RefreshIdleTTL, true, func(cs *service.ClientSpec, d *time.Duration) { cs.RefreshIdleTTL = d })
	setDuration(&p, "refresh_max_ttl", req.RefreshMaxTTL, true, func(cs *service.ClientSpec, d *time.Duration) { cs.RefreshMaxTTL = d })
	if p.err != nil {
		s.problem(c, p.err)
		return
	}
	p.apply(&spec)
	slug := c.Param("slug")
	cl, secret, err := a.CreateClient(c, slug, spec)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.Header("Location", "/admin/v1/tenants/"+slug+"/clients/"+cl.ID)
	s.writeClient(c, a, http.StatusCreated, cl, secret)
}

// GET /admin/v1/tenants/{slug}/clients?search=&limit=&cursor=
func (s *Server) listClients(c *gin.Context, a service.Admin) {
	slug := c.Param("slug")
	limit, err := queryLimit(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	pg, err := a.ClientsPage(c, slug, c.Query("search"), c.Query("cursor"), limit)
	if err != nil {
		s.problem(c, err)
		return
	}
	secrets, err := a.TenantSecrets(c, slug)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, pagedOf(pg.Items, pg.NextCursor, func(cl db.Client) clientJSON { return clientOut(cl, secrets[cl.ID]) }))
}

// GET /admin/v1/tenants/{slug}/clients/{client}
func (s *Server) getClient(c *gin.Context, a service.Admin) {
	cl, err := a.Client(c, c.Param("slug"), c.Param("client"))
	if err != nil {
		s.problem(c, err)
		return
	}
	s.writeClient(c, a, http.StatusOK, cl, "")
}

// PATCH /admin/v1/tenants/{slug}/clients/{client}
func (s *Server) patchClient(c *gin.Context, a service.Admin) {
	var req struct {
		Name           optional[string]   `json:"name"`
		Disabled       optional[bool]     `json:"disabled"`
		GrantTypes     optional[[]string] `json:"grant_types"`
		Scopes         optional[[]string] `json:"scopes"`
		DefaultScopes  optional[[]string] `json:"default_scopes"`
		Introspect     optional[bool]     `json:"introspect"`
		AllowedOrigins optional[[]string] `json:"allowed_origins"`
		ForwardsUserIP optional[bool]     `json:"forwards_user_ip"`
		FirstParty     optional[bool]     `json:"first_party"`
		PasswordReset  optional[bool]     `json:"password_reset"`
		AccessTTL      optional[string]   `json:"access_ttl"`
		RefreshIdleTTL optional[string]   `json:"refresh_idle_ttl"`
		RefreshMaxTTL  optional[string]   `json:"refresh_max_ttl"`
	}
	if err := readJSON(c, &req, false); err != nil {
		s.problem(c, err)
		return
	}
	var p patch[db.Client]
	setValue(&p, "name", req.Name, func(cl *db.Client, v string) { cl.Name = v })
	setValue(&p, "disabled", req.Disabled, func(cl *db.Client, v bool) { cl.Disabled = v })
	setValue(&p, "grant_types", req.GrantTypes, func(cl *db.Client, v []string) { cl.GrantTypes = v })
	setValue(&p, "scopes", req.Scopes, func(cl *db.Client, v []string) { cl.Scopes = v })
	setNullable(&p, req.DefaultScopes, func(cl *db.Client, v *[]string) {
		cl.DefaultScopes = nil
		if v != nil {
			cl.DefaultScopes = *v
		}
	})
	setValue(&p, "introspect", req.Introspect, func(cl *db.Client, v bool) { cl.Introspect = v })
	setValue(&p, "allowed_origins", req.AllowedOrigins, func(cl *db.Client, v []string) { cl.AllowedOrigins = v })
	setValue(&p, "forwards_user_ip", req.ForwardsUserIP, func(cl *db.Client, v bool) { cl.ForwardsUserIP = v })
	setValue(&p, "first_party", req.FirstParty, func(cl *db.Client, v bool) { cl.FirstParty = v })
	setValue(&p, "password_reset", req.PasswordReset, func(cl *db.Client, v bool) { cl.PasswordReset = v })
	setDuration(&p, "access_ttl", req.AccessTTL, true, func(cl *db.Client, d *time.Duration) { cl.AccessTTL = d })
	setDuration(&p, "refresh_idle_ttl", req.RefreshIdleTTL, true, func(cl *db.Client, d *time.Duration) { cl.RefreshIdleTTL = d })
	setDuration(&p, "refresh_max_ttl", req.RefreshMaxTTL, true, func(cl *db.Client, d *time.Duration) { cl.RefreshMaxTTL = d })
	if p.err != nil {
		s.problem(c, p.err)
		return
	}
	cl, err := a.UpdateClient(c, c.Param("slug"), c.Param("client"), p.apply)
	if err != nil {
		s.problem(c, err)
		return
	}
	s.writeClient(c, a, http.StatusOK, cl, "")
}

// DELETE /admin/v1/tenants/{slug}/clients/{client}
func (s *Server) deleteClient(c *gin.Context, a service.Admin) {
	noContent(c, a.DeleteClient(c, c.Param("slug"), c.Param("client")), s.problem)
}

// POST /admin/v1/tenants/{slug}/clients/{client}/secret
func (s *Server) rotateSecret(c *gin.Context, a service.Admin) {
	var req struct {
		PreviousValidFor string `json:"previous_valid_for"`
	}
	if err := readJSON(c, &req, true); err != nil {
		s.problem(c, err)
		return
	}
	var overlap time.Duration
	if req.PreviousValidFor != "" {
		var err error
		if overlap, err = service.ParseDuration("previous_valid_for", req.PreviousValidFor); err != nil {
			s.problem(c, err)
			return
		}
	}
	slug, id := c.Param("slug"), c.Param("client")
	secret, err := a.RotateSecret(c, slug, id, overlap)
	if err != nil {
		s.problem(c, err)
		return
	}
	cl, err := a.Client(c, slug, id)
	if err != nil {
		s.log.ErrorContext(c, "read rotated client", slog.String("request_id", requestID(c)), slog.Any("err", err))
		cl = db.Client{ID: id}
	}
	s.writeClient(c, a, http.StatusOK, cl, secret)
}

// POST /admin/v1/tenants/{slug}/clients/{client}/revoke
func (s *Server) revokeClient(c *gin.Context, a service.Admin) {
	if err := readJSON(c, &struct{}{}, true); err != nil {
		s.problem(c, err)
		return
	}
	r, err := a.RevokeClientTokens(c, c.Param("slug"), c.Param("client"))
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, bulkJSON{Revoked: r.Revoked})
}
