package rs

import (
	"net/http"
	"slices"
	"time"
)

// RequireACR makes a handler require a token whose login's authentication context class
// is one of values ("mfa": a second factor was passed). Any other answers RFC 9470's 401
// insufficient_user_authentication with acr_values.
func RequireACR(values ...string) Option {
	return func(o *options) { o.acrs = append(o.acrs, values...) }
}

// MaxAge makes a handler require a token whose user logged in at most d ago, in whole
// seconds as max_age says it: d is rounded down to the second, and a d under a second is
// one second (rounding it down to 0 would turn the check off). An older login answers
// RFC 9470's 401 insufficient_user_authentication with max_age. A d of 0 or less sets no
// limit.
func MaxAge(d time.Duration) Option {
	if d > 0 {
		d = max(d.Truncate(time.Second), time.Second)
	}
	return func(o *options) { o.maxAge = d }
}

// stepUp checks tok against the authentication o requires (RFC 9470 §3).
func (c *Client) stepUp(tok Token, o options) error {
	if len(o.acrs) > 0 && !slices.Contains(o.acrs, tok.ACR) {
		return &Error{Status: http.StatusUnauthorized, Code: "insufficient_user_authentication",
			Description: "a stronger authentication is required", ACRValues: o.acrs, MaxAge: o.maxAge}
	}
	if o.maxAge > 0 && (tok.AuthTime.IsZero() || c.cfg.Now().Sub(tok.AuthTime) > o.maxAge) {
		return &Error{Status: http.StatusUnauthorized, Code: "insufficient_user_authentication",
			Description: "a more recent authentication is required", ACRValues: o.acrs, MaxAge: o.maxAge}
	}
	return nil
}
