package rs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Option adjusts what one protected handler requires.
type Option func(*options)

type options struct {
	scopes []string
	acrs   []string
	maxAge time.Duration
}

// RequireScopes makes a handler require every one of scopes (RFC 6750 §3.1
// insufficient_scope otherwise).
func RequireScopes(scopes ...string) Option {
	return func(o *options) { o.scopes = append(o.scopes, scopes...) }
}

// Error is why Authorize refused a request, and how to answer it (RFC 6750 §3).
type Error struct {
	// Status is the HTTP status: 400, 401, 403, or 503 when jeton could not be asked.
	Status int
	// Code is the RFC 6750 §3.1 error code: "invalid_request", "invalid_token" or
	// "insufficient_scope"; empty when the request carried no bearer token at all (§3.1:
	// no error code then) and for 503.
	Code string
	// Description is a short human-readable explanation (error_description).
	Description string
	// Scope is, for insufficient_scope, the scopes the handler requires.
	Scope []string
	// ACRValues and MaxAge are, for insufficient_user_authentication (RFC 9470 §3), the
	// authentication the handler requires: the user must log in again that way.
	ACRValues []string
	MaxAge    time.Duration
	// RetryAfter is, for 503, when to try again.
	RetryAfter time.Duration
	// Err is the cause: ErrMalformed, ErrInactive, an ErrUnavailable error, or nil.
	Err error
}

// Error describes the refusal: status, code and description.
func (e *Error) Error() string {
	s := "rs: " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Unwrap returns the cause, for errors.Is(err, rs.ErrInactive) and the like.
func (e *Error) Unwrap() error { return e.Err }

// Authorize authenticates r by its `Authorization: Bearer` header (RFC 6750 §2.1; tokens in
// the query string or the body are never looked at) and checks the scopes opts require. A
// string that is not a well-formed jeton access token is refused without asking jeton. It
// returns the token, or an *Error.
func (c *Client) Authorize(r *http.Request, opts ...Option) (Token, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	vals := r.Header.Values("Authorization")
	if len(vals) > 1 {
		return Token{}, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "more than one Authorization header"}
	}
	if len(vals) == 0 {
		return Token{}, &Error{Status: http.StatusUnauthorized}
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return Token{}, &Error{Status: http.StatusUnauthorized} // no bearer token: no error code
	}
	tok, err := c.Introspect(r.Context(), strings.TrimSpace(cred))
	switch {
	case errors.Is(err, ErrMalformed):
		return Token{}, &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the access token is malformed", Err: err}
	case errors.Is(err, ErrInactive):
		return Token{}, &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the access token is not active", Err: err}
	case err != nil:
		// Never 401: every client would log in again at once.
		return Token{}, &Error{Status: http.StatusServiceUnavailable, RetryAfter: c.cfg.RetryAfter, Description: "the access token cannot be checked now", Err: err}
	}
	for _, s := range o.scopes {
		if !tok.HasScope(s) {
			return Token{}, &Error{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "the access token lacks a required scope", Scope: o.scopes}
		}
	}
	if err := c.stepUp(tok, o); err != nil {
		return Token{}, err
	}
	return tok, nil
}

// WriteError answers a request that Authorize refused: the status, a WWW-Authenticate
// challenge for 400, 401 and 403 (RFC 6750 §3), Retry-After for 503, and a JSON body with
// the error code. Any other error is a 500.
func (c *Client) WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: "server_error"}
	}
	h := w.Header()
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		h.Set("WWW-Authenticate", c.challenge(e))
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(max(1, int((e.RetryAfter+time.Second-1)/time.Second))))
	}
	h.Set("Cache-Control", "no-store")
	code := e.Code
	if e.Status == http.StatusServiceUnavailable {
		code = "temporarily_unavailable"
	}
	if code == "" {
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	body := map[string]string{"error": code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	_ = json.NewEncoder(w).Encode(body) // the client may be gone; nothing to do about it
}

// challenge is the RFC 6750 §3 WWW-Authenticate value for e.
func (c *Client) challenge(e *Error) string {
	s := "Bearer realm=" + quote(c.cfg.Realm)
	if e.Code == "" {
		return s
	}
	s += ", error=" + quote(e.Code)
	if e.Description != "" {
		s += ", error_description=" + quote(e.Description)
	}
	if len(e.Scope) > 0 {
		s += ", scope=" + quote(strings.Join(e.Scope, " "))
	}
	if len(e.ACRValues) > 0 {
		s += ", acr_values=" + quote(strings.Join(e.ACRValues, " "))
	}
	if e.MaxAge > 0 {
		s += ", max_age=" + quote(strconv.FormatInt(int64(e.MaxAge/time.Second), 10))
	}
	return s
}

// quote writes s as an RFC 9110 §5.6.4 quoted-string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// Middleware returns net/http middleware that lets a request through only with a live
// jeton access token holding the scopes opts require, and puts the token in its context
// (FromContext). Refused requests are answered by WriteError.
func (c *Client) Middleware(opts ...Option) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := c.Authorize(r, opts...)
			if err != nil {
				c.WriteError(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), tok)))
		})
	}
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying t, as the middleware does (and tests of
// handlers may).
func NewContext(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// FromContext returns the token the middleware accepted for this request, and false when
// ctx carries none.
func FromContext(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(ctxKey{}).(Token)
	return t, ok
}
