package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/tokens"
)

// tokenGen derives the seeded tokens: the i-th token of a stream is what tokens.New mints
// when its "randomness" is SHA-256(seed, stream, i). The seeder stores SHA-256 of each
// token string, and the load generator rebuilds any token from its index, so neither holds
// millions of strings and every seeded token is a real, well-formed jeton token.
type tokenGen struct {
	seed   string
	stream string
}

// material returns the 32 bytes the i-th token is made from.
func (g tokenGen) material(i uint64) [32]byte {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], i)
	h := sha256.New()
	h.Write([]byte(g.seed))
	h.Write([]byte{0})
	h.Write([]byte(g.stream))
	h.Write([]byte{0})
	h.Write(n[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// token returns the i-th token of kind k.
func (g tokenGen) token(k tokens.Kind, i uint64) string {
	m := g.material(i)
	t, err := tokens.New(k, bytes.NewReader(m[:]))
	if err != nil {
		panic(err) // a bytes.Reader of 32 bytes cannot fail
	}
	return t
}

// id returns a version-4-shaped UUID derived from the i-th material, for row ids.
func (g tokenGen) id(i uint64) uuid.UUID {
	m := g.material(i)
	h := sha256.Sum256(m[:])
	var u uuid.UUID
	copy(u[:], h[:16])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}

// clientID returns a client_id of jeton's shape ("jc_" and 24 base36 characters) for the
// i-th seeded client.
func (g tokenGen) clientID(i uint64) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	m := g.material(i)
	b := make([]byte, 24)
	for j := range b {
		b[j] = alphabet[int(m[j])%len(alphabet)]
	}
	return "jc_" + string(b)
}

// hashOf is the stored key of a token string, as a byte slice for pgx.
func hashOf(tok string) []byte {
	h := tokens.HashOf(tok)
	return h[:]
}

// malformedToken returns a token-shaped string that fails jeton's checksum: a valid token
// with its last character changed.
func malformedToken(i uint64) string {
	t := []byte(tokenGen{seed: "malformed", stream: "malformed"}.token(tokens.Access, i))
	if t[len(t)-1] == 'A' {
		t[len(t)-1] = 'B'
	} else {
		t[len(t)-1] = 'A'
	}
	return string(t)
}
