// Package tokens mints, checks and hashes jeton's opaque secrets: access and refresh tokens,
// client secrets, admin keys, mfa_tokens, auth_sessions and authorization codes.
//
// A token is a four-character prefix, 43 base62 characters carrying 32 bytes from
// crypto/rand, and 6 base62 characters of the CRC32 (IEEE) of those 43 characters:
// 53 characters in all. The checksum lets jeton (and secret scanners) reject a mistyped or
// made-up token without a database read; it is not a secret. Only SHA-256 of the whole
// token string is ever stored.
package tokens

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
)

// Kind is a token's prefix.
type Kind string

// The kinds of secret jeton issues.
const (
	Access       Kind = "jat_"
	Refresh      Kind = "jrt_"
	ClientSecret Kind = "jcs_"
	AdminKey     Kind = "jak_"
	// MFA is an mfa_token: a login whose password was right, waiting for its second factor.
	MFA Kind = "jmt_"
	// AuthSession is an auth_session of the authorization challenge endpoint.
	AuthSession Kind = "jas_"
	// AuthCode is an authorization code the challenge endpoint issued.
	AuthCode Kind = "jac_"
	// PasswordReset lets its holder set a user's password once (POST
	// /account/v1/password-reset).
	PasswordReset Kind = "jpr_"
)

const (
	alphabet   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	prefixLen  = 4
	randomLen  = 43 // ceil(256 / log2(62))
	crcLen     = 6  // ceil(32 / log2(62))
	randomSize = 32
	// Len is the length of every token jeton issues.
	Len = prefixLen + randomLen + crcLen
)

// ErrMalformed is returned by Check for a string that is not a well-formed token.
var ErrMalformed = errors.New("malformed token")

// Hash is SHA-256 of a token string: the only form in which a token is stored.
type Hash [sha256.Size]byte

// Hex is the lowercase hex of the hash: how a token is named outside the database.
func (h Hash) Hex() string { return hex.EncodeToString(h[:]) }

// HashOf returns the storage key of the token string s.
func HashOf(s string) Hash { return sha256.Sum256([]byte(s)) }

// New mints a token of kind k with randomness from rand (crypto/rand.Reader in production).
// It returns an error only if rand fails.
func New(k Kind, rand io.Reader) (string, error) {
	var b [randomSize]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("token randomness: %w", err)
	}
	buf := make([]byte, 0, Len)
	buf = append(buf, k...)
	buf = appendBase62(buf, new(big.Int).SetBytes(b[:]), randomLen)
	sum := crc32.ChecksumIEEE(buf[prefixLen:])
	buf = appendBase62(buf, new(big.Int).SetUint64(uint64(sum)), crcLen)
	return string(buf), nil
}

// Check reports whether s is a well-formed token of kind k: prefix, length, alphabet and
// checksum. It reads no database and returns ErrMalformed otherwise.
func Check(k Kind, s string) error {
	if len(s) != Len || s[:prefixLen] != string(k) {
		return ErrMalformed
	}
	body := s[prefixLen : prefixLen+randomLen]
	for i := 0; i < len(body); i++ {
		if digit(body[i]) < 0 {
			return ErrMalformed
		}
	}
	var sum uint64
	for i := prefixLen + randomLen; i < Len; i++ {
		d := digit(s[i])
		if d < 0 {
			return ErrMalformed
		}
		sum = sum*62 + uint64(d)
	}
	if sum != uint64(checksum(body)) {
		return ErrMalformed
	}
	return nil
}

// checksum is crc32.ChecksumIEEE of s without converting s to a []byte, which would
// allocate: every /introspect checks a token and a client secret.
func checksum(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

// KindOf returns the kind named by s's prefix, or "" when s is not a well-formed token of
// a known kind.
func KindOf(s string) Kind {
	for _, k := range []Kind{Access, Refresh, ClientSecret, AdminKey, MFA, AuthSession, AuthCode, PasswordReset} {
		if Check(k, s) == nil {
			return k
		}
	}
	return ""
}

// appendBase62 appends n as exactly width base62 digits, most significant first.
func appendBase62(dst []byte, n *big.Int, width int) []byte {
	out := make([]byte, width)
	base := big.NewInt(62)
	rem := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.QuoRem(n, base, rem)
		out[i] = alphabet[rem.Int64()]
	}
	return append(dst, out...)
}

func digit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
