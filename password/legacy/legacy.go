// Package legacy parses and verifies the password hashes other systems stored, so that
// their users can be imported with them and log in: argon2i PHC (argon2id is jeton's own
// form, verified by package password), bcrypt, scrypt PHC and Firebase's modified scrypt,
// PBKDF2 (PHC, passlib and Django forms), crypt(3) md5/sha256/sha512, LDAP {SHA}/{SSHA*},
// and salted digests and HMACs described by a JSON object. Parse refuses parameters past
// Limits, so that an imported hash cannot make a login cost more than a native one.
package legacy

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// Hash is one parsed legacy hash.
type Hash interface {
	// Family names the hash family ("bcrypt", "pbkdf2-sha256", ...).
	Family() string
	// Cost names the family and its cost parameters: hashes of one Cost take as long to
	// verify, so a failed login is padded per Cost.
	Cost() string
	// Verify reports whether pw (its bytes as the user typed them) matches.
	Verify(pw []byte) bool
}

// Limits are the largest parameters Parse accepts. Each bounds the time or the memory of
// one verification.
type Limits struct {
	BcryptCost       int    // log2 rounds
	ScryptMemory     int64  // bytes: 128·N·r
	ScryptP          int    // parallelism, which multiplies the time
	PBKDF2Iterations int    // iterations
	Argon2Memory     uint32 // KiB
	Argon2Time       uint32 // passes
	CryptRounds      int    // sha256-crypt and sha512-crypt rounds
}

// DefaultLimits keeps a verification of any family within about a second and 256 MiB.
var DefaultLimits = Limits{
	BcryptCost:       14,
	ScryptMemory:     256 << 20,
	ScryptP:          16,
	PBKDF2Iterations: 10_000_000,
	Argon2Memory:     256 << 10,
	Argon2Time:       64,
	CryptRounds:      1_000_000,
}

// ErrUnknown is returned by Parse for a string in no family it knows.
var ErrUnknown = errors.New("unknown password hash format")

// ErrLimit is wrapped by Parse's error for parameters past the limits.
var ErrLimit = errors.New("password hash parameters exceed the limit")

func limitErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrLimit, fmt.Sprintf(format, args...))
}

func malformed(family, why string) error {
	return fmt.Errorf("malformed %s hash: %s", family, why)
}

// Parse parses a stored legacy hash: a string in one of the families' own forms, or the
// JSON text of an Object (it starts with "{"). It returns ErrUnknown for no known family,
// an error wrapping ErrLimit for parameters past lim, and a descriptive error for a
// malformed hash of a known family.
func Parse(s string, lim Limits) (Hash, error) {
	switch {
	case isLDAP(s):
		return parseLDAP(s)
	case strings.HasPrefix(s, "{"):
		return parseObject([]byte(s), lim)
	case strings.HasPrefix(s, "argon2$argon2"), strings.HasPrefix(s, "bcrypt$$2"):
		// Django's argon2 and bcrypt hashers: the algorithm's name, "$", the hash.
		rest := s[strings.IndexByte(s, '$')+1:]
		if !strings.HasPrefix(rest, "$") {
			rest = "$" + rest // argon2$argon2id$... leaves out the hash's own leading "$"
		}
		return Parse(rest, lim)
	case strings.HasPrefix(s, "$argon2"):
		return parseArgon2(s, lim)
	case strings.HasPrefix(s, "$2"):
		return parseBcrypt(s, lim)
	case strings.HasPrefix(s, "$scrypt$"):
		return parseScrypt(s, lim)
	case strings.HasPrefix(s, "$pbkdf2"), strings.HasPrefix(s, "pbkdf2_"):
		return parsePBKDF2(s, lim)
	case strings.HasPrefix(s, "$1$"), strings.HasPrefix(s, "$5$"), strings.HasPrefix(s, "$6$"):
		return parseCrypt(s, lim)
	}
	return nil, ErrUnknown
}

// Verify parses stored under DefaultLimits and verifies pw against it. It returns Parse's
// error for a hash it cannot verify.
func Verify(pw, stored string) (bool, error) {
	h, err := Parse(stored, DefaultLimits)
	if err != nil {
		return false, err
	}
	return h.Verify([]byte(pw)), nil
}

func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
