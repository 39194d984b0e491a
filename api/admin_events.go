package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// eventJSON is one audit event, as webhooks also carry it.
type eventJSON = service.EventView

func eventOut(e db.Event) eventJSON { return service.ViewEvent(e) }

// eventQuery reads the filters: kind, user (a user id), client (a client_id), since
// (inclusive) and until (exclusive) as RFC 3339 times, after (an event id), limit and cursor.
func eventQuery(c *gin.Context) (service.EventQuery, error) {
	q := service.EventQuery{Kind: c.Query("kind"), UserID: c.Query("user"), ClientID: c.Query("client"),
		Cursor: c.Query("cursor")}
	var err error
	if q.Limit, err = queryLimit(c); err != nil {
		return q, err
	}
	if v := c.Query("after"); v != "" {
		if q.After, err = strconv.ParseInt(v, 10, 64); err != nil || q.After < 1 {
			return q, invalidField("after", "must be an event id (a positive integer)")
		}
	}
	if q.Since, err = queryTime(c, "since"); err != nil {
		return q, err
	}
	q.Until, err = queryTime(c, "until")
	return q, err
}

func (s *Server) writeEvents(c *gin.Context, pg service.EventPage, err error) {
	if err != nil {
		s.problem(c, err)
		return
	}
	c.JSON(http.StatusOK, pagedOf(pg.Items, pg.NextCursor, eventOut))
}

// GET /admin/v1/tenants/{slug}/events
func (s *Server) tenantEvents(c *gin.Context, a service.Admin) {
	q, err := eventQuery(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	pg, err := a.Events(c, c.Param("slug"), q)
	s.writeEvents(c, pg, err)
}

// GET /admin/v1/events: the global stream (tenant deletions, global admin keys).
func (s *Server) globalEvents(c *gin.Context, a service.Admin) {
	q, err := eventQuery(c)
	if err != nil {
		s.problem(c, err)
		return
	}
	pg, err := a.GlobalEvents(c, q)
	s.writeEvents(c, pg, err)
}
