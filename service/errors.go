package service

import (
	"errors"
	"fmt"

	"github.com/jeton-auth/jeton/db"
)

// The OAuth errors of RFC 6749 §5.2 the grants return. api maps each to its status and
// body in one place.
var (
	ErrInvalidRequest       = errors.New("invalid_request")
	ErrInvalidClient        = errors.New("invalid_client")
	ErrInvalidGrant         = errors.New("invalid_grant")
	ErrUnauthorizedClient   = errors.New("unauthorized_client")
	ErrUnsupportedGrantType = errors.New("unsupported_grant_type")
	ErrInvalidScope         = errors.New("invalid_scope")
)

// ErrNotFound and ErrConflict are the store's, re-exported so callers of the service need
// not import db.
var (
	ErrNotFound = db.ErrNotFound
	ErrConflict = db.ErrConflict
)

// ValidationError says which input field is wrong and why. For OAuth requests it also
// carries the RFC 6749 error it maps to (ErrInvalidRequest or ErrInvalidScope).
type ValidationError struct {
	Field  string
	Reason string
	OAuth  error
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap lets errors.Is match the OAuth error.
func (e *ValidationError) Unwrap() error { return e.OAuth }

func invalid(field, reason string) error {
	return &ValidationError{Field: field, Reason: reason, OAuth: ErrInvalidRequest}
}

func invalidScope(reason string) error {
	return &ValidationError{Field: "scope", Reason: reason, OAuth: ErrInvalidScope}
}
