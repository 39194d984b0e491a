package service

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
)

// MaxPasswordBytes bounds a password, before anything is done with it (NIST SP 800-63B-4
// lets verifiers set a maximum of at least 64 characters).
const MaxPasswordBytes = 1024

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
	if s.isBreached(pw) {
		return invalid("password", "appears in a list of passwords exposed in data breaches; choose another")
	}
	if strings.EqualFold(n, username) || strings.EqualFold(n, password.Normalize(username)) {
		return invalid("password", "is the username")
	}
	return nil
}
