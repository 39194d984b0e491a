package rs

import (
	"crypto/sha256"
	"hash/crc32"
	"slices"
	"strings"
	"time"
)

// The shape of a jeton access token (README "Token format"), mirrored from jeton's tokens
// package so that rs needs nothing but the standard library.
const (
	accessPrefix = "jat_"
	randomLen    = 43 // base62 of 32 random bytes
	crcLen       = 6  // base62 of the CRC32 (IEEE) of the random part
	tokenLen     = len(accessPrefix) + randomLen + crcLen
)

// wellFormed reports whether s is a well-formed jeton access token: the jat_ prefix, 53
// characters, the base62 alphabet and the CRC32 checksum of the random part. Anything else
// is refused without asking jeton.
func wellFormed(s string) bool {
	if len(s) != tokenLen || !strings.HasPrefix(s, accessPrefix) {
		return false
	}
	body := s[len(accessPrefix) : len(accessPrefix)+randomLen]
	for i := 0; i < len(body); i++ {
		if base62(body[i]) < 0 {
			return false
		}
	}
	var sum uint64 // 62^6 > 2^32, so a 6-digit checksum may exceed a uint32
	for i := len(accessPrefix) + randomLen; i < tokenLen; i++ {
		d := base62(s[i])
		if d < 0 {
			return false
		}
		sum = sum*62 + uint64(d)
	}
	return sum == uint64(crc32.ChecksumIEEE([]byte(body)))
}

func base62(c byte) int {
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

// hash is SHA-256 of a token string: the cache key, and how jeton's feed names a token.
type hash [sha256.Size]byte

func hashOf(token string) hash { return sha256.Sum256([]byte(token)) }

// Token is what jeton said about a live access token (RFC 7662 §2.2).
type Token struct {
	// Sub is the user's UUID, or the client_id for a client_credentials token.
	Sub string
	// Username is the user's normalised username; empty for client_credentials tokens.
	Username string
	// ClientID is the client the token was issued to.
	ClientID string
	// Scope is the granted scope, one element per scope token.
	Scope []string
	// Tenant is the slug of the token's tenant.
	Tenant string
	// Sid is the session (login) the token descends from; empty for client_credentials.
	Sid string
	// Jti is the token's id.
	Jti string
	// Issuer is jeton's configured issuer.
	Issuer string
	// Exp and Iat are when the token expires and when it was issued.
	Exp, Iat time.Time
	// AMR is how the user authenticated (RFC 8176): ["pwd"], ["pwd","otp"] after a TOTP
	// code, ["pwd","mfa"] after a recovery code; empty for client_credentials.
	AMR []string
	// ACR is "mfa" when the login passed a second factor, "pwd" when not; empty for
	// client_credentials.
	ACR string
	// AuthTime is when the user logged in (kept across refreshes); zero for
	// client_credentials.
	AuthTime time.Time
}

// HasScope reports whether the token was granted scope s.
func (t Token) HasScope(s string) bool { return slices.Contains(t.Scope, s) }

// introspection is jeton's /introspect answer on the wire.
type introspection struct {
	Active   bool     `json:"active"`
	Scope    string   `json:"scope"`
	ClientID string   `json:"client_id"`
	Username string   `json:"username"`
	Sub      string   `json:"sub"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Iss      string   `json:"iss"`
	Jti      string   `json:"jti"`
	Tenant   string   `json:"tenant"`
	Sid      string   `json:"sid"`
	AMR      []string `json:"amr"`
	ACR      string   `json:"acr"`
	AuthTime int64    `json:"auth_time"`
}

func (in introspection) token() Token {
	t := Token{Sub: in.Sub, Username: in.Username, ClientID: in.ClientID, Scope: strings.Fields(in.Scope),
		Tenant: in.Tenant, Sid: in.Sid, Jti: in.Jti, Issuer: in.Iss,
		Exp: time.Unix(in.Exp, 0), Iat: time.Unix(in.Iat, 0), AMR: in.AMR, ACR: in.ACR}
	if in.AuthTime != 0 {
		t.AuthTime = time.Unix(in.AuthTime, 0)
	}
	return t
}
