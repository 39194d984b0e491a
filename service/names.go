package service

import (
	"regexp"
	"slices"
	"strings"

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
