package api

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

// oauthError is an RFC 6749 §5.2 error: its code, HTTP status and an optional description;
// RetryAfter, for 429 and 503, is the Retry-After header's seconds (1 when 0).
type oauthError struct {
	Code       string
	Status     int
	Desc       string
	RetryAfter int
}

func (e *oauthError) Error() string { return e.Code }

var (
	errTooLarge  = &oauthError{Code: "invalid_request", Status: http.StatusRequestEntityTooLarge, Desc: "request body too large"}
	errForbidden = &oauthError{Code: "unauthorized_client", Status: http.StatusForbidden}
)

func badRequest(desc string) error {
	return &oauthError{Code: "invalid_request", Status: http.StatusBadRequest, Desc: desc}
}

// oauthErrorOf maps any error to what the client sees. Errors that are not the client's
// fault become server_error (or temporarily_unavailable when the database is away) and
// their detail goes only to the log.
func oauthErrorOf(err error) (*oauthError, bool) {
	var oe *oauthError
	if errors.As(err, &oe) {
		return oe, true
	}
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		return &oauthError{Code: ve.OAuth.Error(), Status: http.StatusBadRequest, Desc: ve.Field + " " + ve.Reason}, true
	}
	for _, known := range []error{service.ErrInvalidRequest, service.ErrInvalidGrant, service.ErrUnauthorizedClient,
		service.ErrUnsupportedGrantType, service.ErrInvalidScope, service.ErrInvalidSession} {
		if errors.Is(err, known) {
			return &oauthError{Code: known.Error(), Status: http.StatusBadRequest}, true
		}
	}
	if errors.Is(err, service.ErrInvalidClient) {
		return &oauthError{Code: "invalid_client", Status: http.StatusUnauthorized}, true
	}
	// A throttled login and a full hashing pool use RFC 6749 §5.2's temporarily_unavailable
	// (defined for the authorization endpoint) with 429 and 503: an extension, documented in
	// docs/SECURITY.md. The body is the same for every username.
	var te *service.ThrottledError
	if errors.As(err, &te) {
		return &oauthError{Code: "temporarily_unavailable", Status: http.StatusTooManyRequests,
			RetryAfter: int(te.RetryAfter / time.Second)}, true
	}
	if errors.Is(err, service.ErrBusy) || errors.Is(err, context.Canceled) || errors.Is(err, service.ErrLegacyUnavailable) {
		// context.Canceled: the client went away while waiting; nobody reads this answer.
		return &oauthError{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable}, true
	}
	if unavailable(err) {
		return &oauthError{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable}, false
	}
	return &oauthError{Code: "server_error", Status: http.StatusInternalServerError}, false
}

// unavailable reports whether err means the request could not be served for now, through
// no fault of its own: the database is away or out of time (db.ErrUnavailable, which db
// decides), the request's timeout passed while it waited for something else (a hashing
// worker), or a password hashing worker failed. The client may simply retry.
func unavailable(err error) bool {
	var workerErr *password.WorkerError
	return errors.Is(err, db.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &workerErr) // a hashing worker that died: the next login gets a new one
}

// DefaultRefusalDelay is how long jeton serve holds a refused login's answer (see
// Config.RefusalDelay): the 1-second Retry-After of a full hashing pool.
const DefaultRefusalDelay = time.Second

// fail writes err as an RFC 6749 §5.2 error body and logs what the client does not see.
func (s *Server) fail(c *gin.Context, err error) {
	var pcr *service.PasswordChangeRequiredError
	if errors.As(err, &pcr) {
		passwordChangeRequired(c, pcr)
		return
	}
	oe, expected := oauthErrorOf(err)
	if !expected {
		s.log.ErrorContext(c, "request failed", slog.String("request_id", requestID(c)), slog.Any("err", err))
	}
	var te *service.ThrottledError
	if s.cfg.RefusalDelay > 0 && (c.FullPath() == "/token" || c.FullPath() == "/authorize-challenge") && (errors.Is(err, service.ErrBusy) || errors.As(err, &te)) {
		s.holdRefusal(c, min(s.cfg.RefusalDelay, time.Duration(max(oe.RetryAfter, 1))*time.Second))
	}
	switch oe.Status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Basic realm="jeton"`)
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		c.Header("Retry-After", strconv.Itoa(max(oe.RetryAfter, 1)))
	}
	body := gin.H{"error": oe.Code}
	if oe.Desc != "" {
		body["error_description"] = safeDescription(oe.Desc)
	}
	c.AbortWithStatusJSON(oe.Status, body)
}

// safeDescription keeps only the characters RFC 6749 §5.2 allows in error_description.
func safeDescription(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x20 || r == 0x21 || (r >= 0x23 && r <= 0x5b) || (r >= 0x5d && r <= 0x7e) {
			return r
		}
		return -1
	}, s)
}

// holdRefusal waits between d and twice d before a refusal is written, or less if the
// client goes away or the request's timeout nears: the refusal must still be what the
// client reads. The spread keeps a flood's refusals, which all arrive at once, from all
// coming back at once a second later, and so on every second.
func (s *Server) holdRefusal(c *gin.Context, d time.Duration) {
	d += rand.N(d + 1)
	if dl, ok := c.Request.Context().Deadline(); ok {
		d = min(d, time.Until(dl)-50*time.Millisecond)
	}
	service.Wait(c.Request.Context(), d)
}
