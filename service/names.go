package service

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
	"golang.org/x/text/secure/precis"
)

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidSlug checks a tenant slug.
func ValidSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return invalid("slug", "must match [a-z0-9][a-z0-9-]{0,62}")
	}
	return nil
}

// NormalizeUsername returns the username as stored and compared: PRECIS
// UsernameCaseMapped (RFC 8265). It returns a ValidationError for a username PRECIS rejects.
func NormalizeUsername(u string) (string, error) {
	if u == "" {
		return "", invalid("username", "is required")
	}
	if len(u) > 256 {
		return "", invalid("username", "is longer than 256 bytes")
	}
	n, err := precis.UsernameCaseMapped.String(u)
	if err != nil {
		return "", invalid("username", "is not a valid username (RFC 8265)")
	}
	return n, nil
}

// ParseScope splits a scope parameter (RFC 6749 §3.3) into its tokens, without duplicates.
// The empty string is no scope. It returns a ValidationError mapping to invalid_scope for
// anything outside the syntax.
func ParseScope(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			return nil, invalidScope("scope tokens are separated by single spaces")
		}
		for i := 0; i < len(tok); i++ {
			// scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
			if c := tok[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, invalidScope("scope tokens are printable ASCII without '\"' or '\\'")
			}
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// validScopes checks a configured scope list (a client's or user's) with ParseScope's rules.
func validScopes(field string, scopes []string) error {
	for _, s := range scopes {
		if one, err := ParseScope(s); err != nil || len(one) != 1 {
			return invalid(field, "each scope is printable ASCII without spaces, '\"' or '\\'")
		}
	}
	return nil
}

// MinPasswordFloor is the least minimum password length a deployment or tenant may set
// (NIST SP 800-63B-4: 8 characters when a password is one of several factors; jeton's
// default is 15, its single-factor minimum). MaxMinPasswordLength is the largest.
const (
	MinPasswordFloor     = 8
	MaxMinPasswordLength = 64
)

// minPasswordLength is the tenant's minimum password length, else the deployment's.
func (s *Service) minPasswordLength(t db.Tenant) int {
	if t.MinPasswordLength != nil {
		return *t.MinPasswordLength
	}
	return s.cfg.MinPasswordLength
}

// validPassword applies the password policy of NIST SP 800-63B-4 §3.1.1.2 before any
// hashing: at most MaxPasswordBytes bytes; at least the tenant's minimum length counted in
// code points after NFKC; not on the common-password blocklist nor the username, compared
// without case; no composition rules. A NUL, which no login form can carry, is refused.
func (s *Service) validPassword(t db.Tenant, username, pw string) error {
	if len(pw) > MaxPasswordBytes {
		return invalid("password", "is longer than 1024 bytes")
	}
	if !utf8.ValidString(pw) || strings.ContainsRune(pw, 0) {
		return invalid("password", "is not valid UTF-8 text")
	}
	n := password.Normalize(pw)
	if min := s.minPasswordLength(t); utf8.RuneCountInString(n) < min {
		return invalid("password", fmt.Sprintf("is shorter than %d characters", min))
	}
	if password.IsCommon(pw) {
		return invalid("password", "is one of the most common passwords")
	}
	if strings.EqualFold(n, username) || strings.EqualFold(n, password.Normalize(username)) {
		return invalid("password", "is the username")
	}
	return nil
}
