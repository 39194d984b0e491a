package api

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// The account API (/account/v1): a user's own resources, reached with her access token
// (Authorization: Bearer jat_..., carrying the scope "account"; RFC 6750). Errors are
// RFC 9457 problem details, as in the admin API; bodies are form-encoded or JSON.

// accountHandler serves one account request for its authenticated caller.
type accountHandler func(c *gin.Context, caller service.AccountCaller, body accountBody)

// accountRoutes registers the account API.
func (s *Server) accountRoutes(e *gin.Engine) {
	g := e.Group("/account/v1", noStore, varyOrigin)
	g.GET("/me", s.account(false, nil, s.accountMe))
	s.accountMFARoutes(g)
	s.accountSessionRoutes(g)
}

// account authenticates the request's bearer token and parses its body (fields: the
// names it may carry; nil for a request without a body) before calling h. enrolment
// marks the endpoints an enrolment mfa_token opens.
func (s *Server) account(enrolment bool, fields []string, h accountHandler) gin.HandlerFunc {
	return func(c *gin.Context) {
		bearer, ok := bearerToken(c)
		if !ok {
			s.accountProblem(c, errNoBearer)
			return
		}
		caller, err := s.svc.AccountCaller(c, bearer, enrolment, clientIP(c), requestID(c))
		if err != nil {
			s.accountProblem(c, err)
			return
		}
		c.Set("tenant", caller.Tenant.Slug)
		allowOrigin(c, db.Client{AllowedOrigins: caller.Origins})
		var body accountBody
		if fields != nil {
			if body, err = readAccountBody(c, fields); err != nil {
				s.accountProblem(c, err)
				return
			}
		}
		h(c, caller, body)
	}
}

// errNoBearer: the request carries no bearer token at all (RFC 6750 §3.1: no error code).
var errNoBearer = errors.New("no bearer token")

// bearerToken reads Authorization: Bearer (RFC 6750 §2.1; never the query or the body).
func bearerToken(c *gin.Context) (string, bool) {
	h := c.GetHeader("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// accountBody is a parsed account request body: one value per field.
type accountBody map[string]string

// readAccountBody reads a form-encoded or JSON object body of string members among
// fields; an empty body is an empty one.
func readAccountBody(c *gin.Context, fields []string) (accountBody, error) {
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if c.Request.ContentLength == 0 && mt == "" {
		return accountBody{}, nil
	}
	out := accountBody{}
	switch mt {
	case formType:
		f, err := parseForm(c)
		if err != nil {
			var oe *oauthError
			if errors.As(err, &oe) && oe.Status == http.StatusRequestEntityTooLarge {
				return nil, errBodyTooLarge
			}
			return nil, malformedBody("the form could not be read")
		}
		for k := range f {
			out[k] = f.get(k)
		}
	case "application/json":
		var m map[string]json.RawMessage
		if err := readJSON(c, &m, true); err != nil {
			return nil, err
		}
		for k, raw := range m {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, invalidField(k, "must be a string")
			}
			out[k] = v
		}
	default:
		return nil, problemOf("unsupported-media-type", http.StatusUnsupportedMediaType, "Unsupported media type",
			"send the body as application/x-www-form-urlencoded or application/json")
	}
	for k := range out {
		if !slices.Contains(fields, k) {
			return nil, unknownField(k)
		}
	}
	return out, nil
}

// accountProblem writes err as problem details, with RFC 6750 §3's WWW-Authenticate for
// the authentication failures.
func (s *Server) accountProblem(c *gin.Context, err error) {
	var te *service.ThrottledError
	switch {
	case errors.Is(err, errNoBearer):
		c.Header("WWW-Authenticate", `Bearer realm="jeton"`)
		err = problemOf("unauthorized", http.StatusUnauthorized, "Unauthorized", "send an access token as Authorization: Bearer jat_...")
	case errors.Is(err, service.ErrInvalidToken):
		c.Header("WWW-Authenticate", `Bearer realm="jeton", error="invalid_token"`)
		err = problemOf("invalid-token", http.StatusUnauthorized, "Invalid token", "the token is not a live access token this endpoint takes")
	case errors.Is(err, service.ErrInsufficientScope):
		c.Header("WWW-Authenticate", `Bearer realm="jeton", error="insufficient_scope", scope="`+service.AccountScope+`"`)
		err = problemOf("insufficient-scope", http.StatusForbidden, "Insufficient scope", "the access token lacks the scope "+service.AccountScope)
	case errors.Is(err, service.ErrInvalidOTP):
		p := problemOf("invalid-otp", http.StatusBadRequest, "Invalid code", "the code is wrong or was used already")
		p.Field = "otp"
		err = p
	case errors.As(err, &te):
		err = tooManyAttempts(c, te, "too many wrong codes: try again later")
	}
	s.problem(c, err)
}

// GET /account/v1/me
func (s *Server) accountMe(c *gin.Context, caller service.AccountCaller, _ accountBody) {
	u, st, err := s.svc.AccountMe(c, caller)
	if err != nil {
		s.accountProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": u.ID.String(), "username": u.Username, "tenant": caller.Tenant.Slug,
		"created_at": u.CreatedAt, "password_changed_at": u.PasswordChangedAt, "factors": factorsOut(st)})
}
