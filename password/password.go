// Package password hashes and verifies human passwords with argon2id in PHC string form
// ($argon2id$v=19$m=..,t=..,p=..$salt$hash), after NFKC normalisation.
package password

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// OWASP is the OWASP Password Storage Cheat Sheet's argon2id floor: m=19 MiB, t=2, p=1.
var OWASP = Params{Memory: 19456, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// MaxMemory is the largest argon2id memory parameter, in KiB (1 GiB), that Parse accepts
// and so that Verify will spend on one verification.
const MaxMemory = 1 << 20

// ErrMalformedHash is returned for a stored string that is not an argon2id PHC string jeton
// can verify.
var ErrMalformedHash = errors.New("malformed argon2id PHC string")

// Normalize returns the password as it is hashed: NFKC, per NIST SP 800-63B.
func Normalize(pw string) string { return norm.NFKC.String(pw) }

// Hash returns the PHC string of pw under p, with a salt read from rand.
// It returns an error only if rand fails.
func Hash(pw string, p Params, rand io.Reader) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(Normalize(pw)), salt, p.Time, p.Memory, p.Threads, keyLen)
	return format(p, salt, key), nil
}

// Unmatchable returns a PHC string under p that no password matches: a random salt and a
// random key, not the hash of anything. Verifying against it costs what verifying a real
// hash under p does (the key is derived from the salt before it is compared), which is
// what a login for an unknown user needs, without spending a hash at start-up.
func Unmatchable(p Params, rand io.Reader) (string, error) {
	b := make([]byte, saltLen+keyLen)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	return format(p, b[:saltLen], b[saltLen:]), nil
}

func format(p Params, salt, key []byte) string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// Verify reports whether pw matches the PHC string phc, comparing in constant time.
// It returns ErrMalformedHash when phc cannot be parsed.
func Verify(pw, phc string) (bool, error) {
	p, salt, key, err := Parse(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(Normalize(pw)), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// Parse splits a PHC string into its parameters, salt and key.
// It returns ErrMalformedHash for anything but argon2id version 19 with sane parameters.
func Parse(phc string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return p, nil, nil, ErrMalformedHash
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrMalformedHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, ErrMalformedHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, ErrMalformedHash
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, ErrMalformedHash
		}
	}
	// Bounds keep a corrupt or hostile row from asking for absurd work: each verification
	// allocates m KiB, and the hashing pool's memory bound assumes sane rows.
	if p.Time < 1 || p.Time > 64 || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory {
		return p, nil, nil, ErrMalformedHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, ErrMalformedHash
	}
	key, err := enc.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}

// NeedsRehash reports whether phc was made with parameters other than p.
func NeedsRehash(phc string, p Params) bool {
	got, _, _, err := Parse(phc)
	return err != nil || got != p
}
