package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

// problem is an RFC 9457 problem details object: the admin API's only error body. Type is
// stable and documented in docs/ADMIN.md; Field names the offending input field.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
}

func (p *problem) Error() string { return p.Title + ": " + p.Detail }

const problemBase = "https://jeton.dev/problems/"

// The problem types. Each constructor returns a fresh value, so details never leak from one
// response into another.
func problemOf(kind string, status int, title, detail string) *problem {
	return &problem{Type: problemBase + kind, Title: title, Status: status, Detail: detail}
}

func malformedBody(detail string) *problem {
	return problemOf("malformed-body", http.StatusBadRequest, "Malformed request body", detail)
}

func unknownField(field string) *problem {
	p := problemOf("unknown-field", http.StatusBadRequest, "Unknown field", "the body has a field this resource does not take")
	p.Field = field
	return p
}

func invalidField(field, reason string) *problem {
	p := problemOf("validation", http.StatusBadRequest, "Invalid field", field+" "+reason)
	p.Field = field
	return p
}

func notFound() *problem {
	return problemOf("not-found", http.StatusNotFound, "Not found", "")
}

var (
	errBodyTooLarge = problemOf("body-too-large", http.StatusRequestEntityTooLarge, "Request body too large",
		"the body is larger than 64 KiB")
	errMediaType = problemOf("unsupported-media-type", http.StatusUnsupportedMediaType, "Unsupported media type",
		"send the body as application/json")
	errMethod = problemOf("method-not-allowed", http.StatusMethodNotAllowed, "Method not allowed", "")
)

// toProblem maps any error to what the admin sees. expected is false for errors that are
// not the caller's doing: those become server-error (or unavailable when the database is
// away) and their detail goes only to the log.
func toProblem(err error) (p *problem, expected bool) {
	var pe *problem
	var ve *service.ValidationError
	var fe *service.ForbiddenError
	var ce *service.ConflictError
	switch {
	case errors.As(err, &pe):
		cp := *pe
		return &cp, true
	case errors.As(err, &ve):
		return invalidField(ve.Field, ve.Reason), true
	case errors.As(err, &fe):
		return problemOf("forbidden", http.StatusForbidden, "Forbidden", fe.Reason), true
	case errors.Is(err, service.ErrInvalidAdminKey):
		return problemOf("unauthorized", http.StatusUnauthorized, "Unauthorized",
			"send a valid admin key as Authorization: Bearer jak_..."), true
	case errors.Is(err, service.ErrNotFound):
		return notFound(), true
	case errors.As(err, &ce):
		p := problemOf(ce.Kind, http.StatusConflict, "Conflict", ce.Reason)
		p.Field = ce.Field
		return p, true
	case errors.Is(err, service.ErrConflict):
		return problemOf("conflict", http.StatusConflict, "Conflict", "it exists already"), true
	case unavailable(err):
		return problemOf("unavailable", http.StatusServiceUnavailable, "Service unavailable", "try again shortly"), false
	}
	return problemOf("server-error", http.StatusInternalServerError, "Internal server error", ""), false
}

// problem writes err as application/problem+json and logs what the caller does not see.
func (s *Server) problem(c *gin.Context, err error) {
	p, expected := toProblem(err)
	if !expected {
		s.log.ErrorContext(c, "admin request failed", slog.String("request_id", requestID(c)), slog.Any("err", err))
	}
	switch p.Status {
	case http.StatusUnauthorized:
		if c.Writer.Header().Get("WWW-Authenticate") == "" { // the account API sets its own
			c.Header("WWW-Authenticate", `Bearer realm="jeton admin"`)
		}
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", "1")
	}
	body, _ := json.Marshal(p)
	c.Data(p.Status, "application/problem+json", body)
	c.Abort()
}

// noContent answers 204 No Content, or err as problem (s.problem or s.accountProblem)
// writes it.
func noContent(c *gin.Context, err error, problem func(*gin.Context, error)) {
	if err != nil {
		problem(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// tooManyAttempts is the problem of a request a throttle refused, detail saying what was
// counted; it sets Retry-After (whole seconds, at least 1) to when the throttle allows one.
func tooManyAttempts(c *gin.Context, te *service.ThrottledError, detail string) *problem {
	c.Header("Retry-After", strconv.Itoa(max(int(te.RetryAfter/time.Second), 1)))
	return problemOf("too-many-attempts", http.StatusTooManyRequests, "Too many attempts", detail)
}

// isAdminPath reports whether the request is for the admin or the account API, whose
// errors are problem details even for unknown routes and methods.
func isAdminPath(c *gin.Context) bool {
	p := c.Request.URL.Path
	return p == "/admin/v1" || strings.HasPrefix(p, "/admin/v1/") || p == "/account/v1" || strings.HasPrefix(p, "/account/v1/")
}
