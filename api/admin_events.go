package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// eventJSON is one audit event. Actor and subject are ids with the display names they had
// when the event was written, so they outlive what they name.
type eventJSON struct {
	ID        int64          `json:"id"`
	At        time.Time      `json:"at"`
	Kind      string         `json:"kind"`
	Actor     actorJSON      `json:"actor"`
	Subject   *subjectJSON   `json:"subject"`
	ClientID  string         `json:"client_id,omitempty"`
	UserID    string         `json:"user_id,omitempty"`
	ClientIP  string         `json:"client_ip,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Detail    map[string]any `json:"detail"`
}

type actorJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type subjectJSON struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

func eventOut(e db.Event) eventJSON {
	out := eventJSON{ID: e.ID, At: e.At, Kind: e.Kind, Actor: actorJSON{Type: e.Actor.Type, ID: e.Actor.ID, Name: e.Actor.Name},
		ClientID: e.ClientID, UserID: e.UserID, ClientIP: e.Actor.IP, RequestID: e.Actor.RequestID, Detail: e.Detail}
	if e.SubjectType != "" || e.SubjectID != "" {
		out.Subject = &subjectJSON{Type: e.SubjectType, ID: e.SubjectID, Name: e.SubjectName}
	}
	if out.Detail == nil {
		out.Detail = map[string]any{}
	}
	return out
}

// eventQuery reads the filters: kind, user (a user id), client (a client_id), since
// (inclusive) and until (exclusive) as RFC 3339 times, limit and cursor.
func eventQuery(c *gin.Context) (service.EventQuery, error) {
	q := service.EventQuery{Kind: c.Query("kind"), UserID: c.Query("user"), ClientID: c.Query("client"),
		Cursor: c.Query("cursor")}
	var err error
	if q.Limit, err = queryLimit(c); err != nil {
		return q, err
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
	out := paged[eventJSON]{Items: make([]eventJSON, 0, len(pg.Items)), NextCursor: nextCursor(pg.NextCursor)}
	for _, e := range pg.Items {
		out.Items = append(out.Items, eventOut(e))
	}
	c.JSON(http.StatusOK, out)
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
