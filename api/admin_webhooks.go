package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// The webhook routes (docs/WEBHOOKS.md): the same handlers under a tenant and, for the
// global stream (global keys only), under /admin/v1/webhooks, where the slug is "".
func (s *Server) webhookRoutes(groups ...*gin.RouterGroup) {
	for _, g := range groups {
		g.POST("/webhooks", s.admin(s.createWebhook))
		g.GET("/webhooks", s.admin(s.listWebhooks))
		g.GET("/webhooks/:webhook", s.admin(s.getWebhook))
		g.PATCH("/webhooks/:webhook", s.admin(s.patchWebhook))
		g.DELETE("/webhooks/:webhook", s.admin(s.deleteWebhook))
		g.POST("/webhooks/:webhook/rotate-secret", s.admin(s.rotateWebhookSecret))
		g.POST("/webhooks/:webhook/test", s.admin(s.testWebhook))
		g.GET("/webhooks/:webhook/deliveries", s.admin(s.listDeliveries))
		g.POST("/webhooks/:webhook/deliveries/:event/redeliver", s.admin(s.redeliver))
	}
}

// webhookJSON is an endpoint as the admin API shows it; its secret only once, in Secret.
type webhookJSON struct {
	ID             uuid.UUID  `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	Description    string     `json:"description"`
	Disabled       bool       `json:"disabled"`
	DisabledAt     *time.Time `json:"disabled_at"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	// PreviousSecretExpiresAt is when the secret rotated out stops signing (null: none).
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	Secret                  string     `json:"secret,omitempty"`
}

func (s *Server) webhookOut(w db.WebhookEndpoint, secret string) webhookJSON {
	out := webhookJSON{ID: w.ID, URL: w.URL, Events: w.Events, Description: w.Description, Disabled: w.DisabledAt != nil,
		DisabledAt: w.DisabledAt, DisabledReason: w.DisabledReason, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Secret: secret}
	if w.OldSecretUntil != nil && s.svc.Now().Before(*w.OldSecretUntil) {
		out.PreviousSecretExpiresAt = w.OldSecretUntil
	}
	return out
}

// deliveryJSON is one entry of the delivery log. NextAttemptAt is null unless pending.
type deliveryJSON struct {
	EventID        int64      `json:"event_id"`
	State          string     `json:"state"`
	Attempts       int        `json:"attempts"`
	CreatedAt      time.Time  `json:"created_at"`
	FirstAttemptAt *time.Time `json:"first_attempt_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastStatus     *int       `json:"last_status"`
	LastLatencyMS  *int64     `json:"last_latency_ms"`
	LastError      string     `json:"last_error"`
	LastResponse   string     `json:"last_response"`
}

func deliveryOut(d db.WebhookDelivery) deliveryJSON {
	out := deliveryJSON{EventID: d.EventID, State: d.State, Attempts: d.Attempts, CreatedAt: d.CreatedAt,
		FirstAttemptAt: d.FirstAttemptAt, LastAttemptAt: d.LastAttemptAt, LastStatus: d.LastStatus,
		LastError: d.LastError, LastResponse: d.LastResponse}
	if d.State == db.DeliveryPending {
		next := d.NextAttemptAt
		out.NextAttemptAt = &next
	}
	if d.LastLatency != nil {
		ms := d.LastLatency.Milliseconds()
		out.LastLatencyMS = &ms
	}
	return out
}

// POST .../webhooks
func (s *Server) createWebhook(c *gin.Context, a service.Admin) {
	var req struct {
		URL         string   `json:"url"`
		Events      []string `json:"events"`
		Description string   `json:"description"`
		Disabled    bool     `json:"disabled"`
	}
	if err := readJSON(c, &req, false); err != nil {
		s.problem(c, err)
		return
	}
	w, secret, err := a.CreateWebhook(c, c.Param("slug"), service.WebhookSpec{URL: req.URL, Events: req.Events,
		Description: req.Description, Disabled: req.Disabled})
	if err != nil {
		s.problem(c, err)
		return
	}
	loc := "/admin/v1/webhooks/" + w.ID.String()
	if slug := c.Param("slug"); slug != "" {
		loc = "/admin/v1/tenants/" + slug + "/webhooks/" + w.ID.String()
	}
	c.Header("Location", loc)
	c.JSON(http.StatusCreated, s.webhookOut(w, secret))
}

// GET .../webhooks
func (s *Server) listWebhooks(c *gin.Context, a service.Admin) {
	ws, err := a.Webhooks(c, c.Param("slug"))
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, listOf(ws, func(w db.WebhookEndpoint) webhookJSON { return s.webhookOut(w, "") }))
}

// GET .../webhooks/{webhook}
func (s *Server) getWebhook(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "webhook")
	if err == nil {
		var w db.WebhookEndpoint
		if w, err = a.Webhook(c, c.Param("slug"), id); err == nil {
			c.JSON(http.StatusOK, s.webhookOut(w, ""))
			return
		}
	}
	s.problem(c, err)
}

// PATCH .../webhooks/{webhook}
func (s *Server) patchWebhook(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "webhook")
	if err != nil {
		s.problem(c, err)
		return
	}
	var req struct {
		URL         optional[string]   `json:"url"`
		Events      optional[[]string] `json:"events"`
		Description optional[string]   `json:"description"`
		Disabled    optional[bool]     `json:"disabled"`
	}
	if err := readJSON(c, &req, false); err != nil {
		s.problem(c, err)
		return
	}
	var p patch[service.WebhookChange]
	setValue(&p, "url", req.URL, func(ch *service.WebhookChange, v string) { ch.URL = &v })
	setValue(&p, "events", req.Events, func(ch *service.WebhookChange, v []string) { ch.Events = append([]string{}, v...) })
	setValue(&p, "description", req.Description, func(ch *service.WebhookChange, v string) { ch.Description = &v })
	setValue(&p, "disabled", req.Disabled, func(ch *service.WebhookChange, v bool) { ch.Disabled = &v })
	if p.err != nil {
		s.problem(c, p.err)
		return
	}
	var ch service.WebhookChange
	p.apply(&ch)
	w, err := a.UpdateWebhook(c, c.Param("slug"), id, ch)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, s.webhookOut(w, ""))
}

// DELETE .../webhooks/{webhook}
func (s *Server) deleteWebhook(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "webhook")
	if err == nil {
		err = a.DeleteWebhook(c, c.Param("slug"), id)
	}
	noContent(c, err, s.problem)
}

// POST .../webhooks/{webhook}/rotate-secret
func (s *Server) rotateWebhookSecret(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "webhook")
	if err == nil {
		var w db.WebhookEndpoint
		var secret string
		if w, secret, err = a.RotateWebhookSecret(c, c.Param("slug"), id); err == nil {
			c.JSON(http.StatusOK, s.webhookOut(w, secret))
			return
		}
	}
	s.problem(c, err)
}

// testJSON is what the receiver answered a test delivery.
type testJSON struct {
	Delivered bool   `json:"delivered"`
	Status    *int   `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	Error     string `json:"error"`
	Response  string `json:"response"`
}

// POST .../webhooks/{webhook}/test
func (s *Server) testWebhook(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "webhook")
	if err != nil {
		s.problem(c, err)
		return
	}
	at, err := a.TestWebhook(c, c.Param("slug"), id)
	if err != nil {
		s.problem(c, err)
		return
	}
	out := testJSON{Delivered: at.Delivered(), LatencyMS: at.Latency.Milliseconds(), Response: service.CleanText(string(at.Body))}
	if at.Status != 0 {
		out.Status = &at.Status
	}
	if at.Err != nil {
		out.Error = service.CleanText(at.Err.Error())
	} else if !at.Delivered() {
		out.Error = "the receiver answered " + strconv.Itoa(at.Status)
	}
	c.JSON(http.StatusOK, out)
}

// GET .../webhooks/{webhook}/deliveries
func (s *Server) listDeliveries(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "webhook")
	if err != nil {
		s.problem(c, err)
		return
	}
	limit, err := queryLimit(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	pg, err := a.WebhookDeliveries(c, c.Param("slug"), id, c.Query("cursor"), limit)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, pagedOf(pg.Items, pg.NextCursor, deliveryOut))
}

// POST .../webhooks/{webhook}/deliveries/{event}/redeliver
func (s *Server) redeliver(c *gin.Context, a service.Admin) {
	id, err := idParam(c, "webhook")
	if err != nil {
		s.problem(c, err)
		return
	}
	event, err := strconv.ParseInt(c.Param("event"), 10, 64)
	if err != nil || event <= 0 {
		s.problem(c, notFound())
		return
	}
	d, err := a.Redeliver(c, c.Param("slug"), id, event)
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusAccepted, deliveryOut(d))
}
