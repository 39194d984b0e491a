package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/service"
)

// The admin API: JSON under /admin/v1, authenticated by an admin key sent as
// "Authorization: Bearer jak_...", errors as RFC 9457 problem details. Handlers decode
// requests and encode responses; what a key may do and every rule about the values live in
// service (service.Admin).

// adminHandler serves one admin route as an authenticated admin key.
type adminHandler func(c *gin.Context, a service.Admin)

// adminRoutes registers the admin API. Every route goes through admin, which authenticates
// the key before anything else.
func (s *Server) adminRoutes(e *gin.Engine) {
	g := e.Group("/admin/v1", noStore, s.adminBounded)
	g.GET("/events", s.admin(s.globalEvents))
	g.GET("/key", s.admin(s.adminKey))
	g.POST("/tenants", s.admin(s.createTenant))
	g.GET("/tenants", s.admin(s.listTenants))

	t := g.Group("/tenants/:slug")
	t.GET("", s.admin(s.getTenant))
	t.PATCH("", s.admin(s.patchTenant))
	t.DELETE("", s.admin(s.deleteTenant))
	t.POST("/revoke", s.admin(s.revokeTenant))
	t.GET("/events", s.admin(s.tenantEvents))

	t.POST("/users", s.admin(s.createUser))
	t.GET("/users", s.admin(s.listUsers))
	t.GET("/users/:user", s.admin(s.getUser))
	t.PATCH("/users/:user", s.admin(s.patchUser))
	t.DELETE("/users/:user", s.admin(s.deleteUser))
	t.PUT("/users/:user/password", s.admin(s.setPassword))
	t.POST("/users/:user/revoke", s.admin(s.revokeUser))
	t.GET("/users/:user/sessions", s.admin(s.listSessions))
	t.DELETE("/users/:user/sessions/:session", s.admin(s.deleteSession))
	t.DELETE("/users/:user/mfa", s.admin(s.resetMFA))
	s.lifecycleRoutes(t)

	t.POST("/clients", s.admin(s.createClient))
	t.GET("/clients", s.admin(s.listClients))
	t.GET("/clients/:client", s.admin(s.getClient))
	t.PATCH("/clients/:client", s.admin(s.patchClient))
	t.DELETE("/clients/:client", s.admin(s.deleteClient))
	t.POST("/clients/:client/secret", s.admin(s.rotateSecret))
	t.POST("/clients/:client/revoke", s.admin(s.revokeClient))

	s.webhookRoutes(g, t)
}

// admin authenticates the request's admin key, then runs h as that key. Path parameters
// that cannot name anything (control characters, invalid UTF-8) are 404 before any query.
func (s *Server) admin(h adminHandler) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, ok := bearer(c)
		if !ok {
			s.problem(c, service.ErrInvalidAdminKey)
			return
		}
		k, err := s.svc.AuthenticateAdminKey(c, key)
		if err != nil {
			s.problem(c, err)
			return
		}
		if k.Tenant != nil {
			c.Set("tenant", k.Tenant.Slug)
		}
		for _, p := range c.Params {
			if len(p.Value) > 256 || !utf8.ValidString(p.Value) || strings.ContainsFunc(p.Value, isControl) {
				s.problem(c, notFound())
				return
			}
		}
		h(c, s.svc.AsAdmin(k, clientIP(c), requestID(c)))
	}
}

// bearer returns the credentials of an "Authorization: Bearer X" header (RFC 6750 §2.1).
func bearer(c *gin.Context) (string, bool) {
	scheme, cred, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// idParam parses a path parameter that is a UUID; anything else names nothing.
func idParam(c *gin.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, notFound()
	}
	return id, nil
}

// readJSON decodes the body, one JSON object, into dst, refusing unknown fields, wrong
// types, trailing data, other media types and bodies over MaxBodyBytes. An empty body is
// accepted only when optional (dst keeps its zero value).
func readJSON(c *gin.Context, dst any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errBodyTooLarge
	}
	if err != nil {
		return malformedBody("the body could not be read")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		if optional {
			return nil
		}
		return malformedBody("a JSON object is required")
	}
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		return errMediaType
	}
	if trimmed[0] != '{' {
		return malformedBody("the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformedBody("the body has data after its JSON object")
	}
	return nil
}

// jsonProblem describes a decoding error. encoding/json reports an unknown field only in
// its message, which is therefore parsed here.
func jsonProblem(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return invalidField(typeErr.Field, "must be "+jsonKind(typeErr.Type))
	case errors.As(err, &syntaxErr):
		return malformedBody(fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformedBody("the JSON ends too early")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if u, err := strconv.Unquote(f); err == nil {
			f = u
		}
		return unknownField(f)
	}
	return malformedBody("the body is not valid JSON")
}

// jsonKind names what a Go type expects in JSON words.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(jsonKind(t.Elem()), "a ") + "s"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "an object"
}

// optional is a member of a PATCH body: absent, null, or a value.
type optional[T any] struct {
	set, null bool
	v         T
}

// UnmarshalJSON is called for present members only, null included.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.null = true
		return nil
	}
	return json.Unmarshal(b, &o.v)
}

// patch collects the changes of a PATCH body, every member checked (null where null is
// not allowed, duration syntax) before the service applies any of them.
type patch[T any] struct {
	steps []func(*T)
	err   error
}

func (p *patch[T]) apply(t *T) {
	for _, f := range p.steps {
		f(t)
	}
}

// setValue queues set for a present member; null is invalid.
func setValue[T, V any](p *patch[T], field string, o optional[V], set func(*T, V)) {
	if !o.set || p.err != nil {
		return
	}
	if o.null {
		p.err = invalidField(field, "must not be null")
		return
	}
	v := o.v
	p.steps = append(p.steps, func(t *T) { set(t, v) })
}

// setNullable queues set for a present member; null sets nil.
func setNullable[T, V any](p *patch[T], o optional[V], set func(*T, *V)) {
	if !o.set || p.err != nil {
		return
	}
	var v *V
	if !o.null {
		x := o.v
		v = &x
	}
	p.steps = append(p.steps, func(t *T) { set(t, v) })
}

// setDuration queues set for a present duration member; null sets nil when nullable (the
// default applies) and is invalid otherwise.
func setDuration[T any](p *patch[T], field string, o optional[string], nullable bool, set func(*T, *time.Duration)) {
	if !o.set || p.err != nil {
		return
	}
	if o.null && !nullable {
		p.err = invalidField(field, "must not be null")
		return
	}
	var d *time.Duration
	if !o.null {
		x, err := service.ParseDuration(field, o.v)
		if err != nil {
			p.err = err
			return
		}
		d = &x
	}
	p.steps = append(p.steps, func(t *T) { set(t, d) })
}

func formatOptDuration(d *time.Duration) *string {
	if d == nil {
		return nil
	}
	s := service.FormatDuration(*d)
	return &s
}

// queryLimit reads the limit query parameter; absent is 0, the service's default, so a
// limit given as 0 is refused here.
func queryLimit(c *gin.Context) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, invalidField("limit", "must be a positive integer")
	}
	return n, nil
}

// queryTime reads an RFC 3339 time query parameter; absent is nil.
func queryTime(c *gin.Context, name string) (*time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, invalidField(name, "must be an RFC 3339 time like 2026-01-02T15:04:05Z")
	}
	return &t, nil
}

// list is the body of a listing that fits in one response.
type list[T any] struct {
	Items []T `json:"items"`
}

// paged is one page of a listing; NextCursor is null on the last page.
type paged[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func nextCursor(c string) *string {
	if c == "" {
		return nil
	}
	return &c
}

// listOf is the listing of items, each written as out writes it.
func listOf[T, J any](items []T, out func(T) J) list[J] {
	l := list[J]{Items: make([]J, 0, len(items))}
	for _, x := range items {
		l.Items = append(l.Items, out(x))
	}
	return l
}

// pagedOf is the page of items, each written as out writes it, followed by the page next
// names ("" on the last page).
func pagedOf[T, J any](items []T, next string, out func(T) J) paged[J] {
	return paged[J]{Items: listOf(items, out).Items, NextCursor: nextCursor(next)}
}
