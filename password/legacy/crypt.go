package legacy

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// cryptHash is crypt(3)'s md5-crypt ($1$, Poul-Henning Kamp's FreeBSD algorithm) or
// sha256-crypt / sha512-crypt ($5$, $6$, Ulrich Drepper's "Unix crypt using SHA-256 and
// SHA-512"). No maintained Go library of standing implements them, so they are written
// here from those specifications, and tested with their vectors.
type cryptHash struct {
	id     string // "1", "5", "6"
	rounds int    // 0: the default, not written out
	salt   string
	stored string
}

func (h *cryptHash) Family() string {
	return map[string]string{"1": "md5-crypt", "5": "sha256-crypt", "6": "sha512-crypt"}[h.id]
}

func (h *cryptHash) Cost() string {
	return fmt.Sprintf("%s rounds=%d", h.Family(), h.effectiveRounds())
}

func (h *cryptHash) effectiveRounds() int {
	if h.rounds == 0 {
		return 5000
	}
	return h.rounds
}

func (h *cryptHash) Verify(pw []byte) bool {
	var out string
	if h.id == "1" {
		out = md5Crypt(pw, h.salt)
	} else {
		out = shaCrypt(h.id, pw, h.salt, h.rounds)
	}
	return equal([]byte(out), []byte(h.stored))
}

func parseCrypt(s string, lim Limits) (Hash, error) {
	h := &cryptHash{id: s[1:2], stored: s}
	rest := s[3:]
	if h.id != "1" && strings.HasPrefix(rest, "rounds=") {
		r, after, ok := strings.Cut(strings.TrimPrefix(rest, "rounds="), "$")
		n, err := strconv.Atoi(r)
		if !ok || err != nil || n < 1 {
			return nil, malformed(h.Family(), "bad rounds")
		}
		// The specification clamps to [1000, 999999999]; the written rounds are then the
		// clamped ones, so a hash that verifies always names what it cost.
		h.rounds, rest = min(max(n, 1000), 999_999_999), after
		if n != h.rounds {
			return nil, malformed(h.Family(), "rounds outside 1000..999999999")
		}
		if h.rounds > lim.CryptRounds {
			return nil, limitErr("%s rounds %d over %d", h.Family(), h.rounds, lim.CryptRounds)
		}
	}
	salt, sum, ok := strings.Cut(rest, "$")
	maxSalt, sumLen := 16, map[string]int{"1": 22, "5": 43, "6": 86}[h.id]
	if h.id == "1" {
		maxSalt = 8
	}
	if !ok || len(salt) > maxSalt || len(sum) != sumLen || !cryptAlphabet(salt+sum) {
		return nil, malformed(h.Family(), "want $id$[rounds=n$]salt$hash")
	}
	h.salt = salt
	return h, nil
}

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func cryptAlphabet(s string) bool {
	for i := range len(s) {
		if !strings.ContainsRune(itoa64, rune(s[i])) {
			return false
		}
	}
	return true
}

// b64From24 appends n characters of the 24-bit group b2 b1 b0, least significant first.
func b64From24(out []byte, b2, b1, b0 byte, n int) []byte {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for range n {
		out = append(out, itoa64[w&0x3f])
		w >>= 6
	}
	return out
}

// md5Crypt is md5-crypt with salt (at most 8 characters).
func md5Crypt(pw []byte, salt string) string {
	alt := md5.Sum(append(append(append([]byte{}, pw...), salt...), pw...))
	ctx := md5.New()
	ctx.Write(pw)
	ctx.Write([]byte("$1$" + salt))
	for n := len(pw); n > 0; n -= 16 {
		ctx.Write(alt[:min(n, 16)])
	}
	for i := len(pw); i > 0; i >>= 1 {
		if i&1 == 1 {
			ctx.Write([]byte{0})
		} else {
			ctx.Write(pw[:1])
		}
	}
	final := stretch(md5.New, ctx.Sum(nil), pw, []byte(salt), 1000)
	out := []byte("$1$" + salt + "$")
	for _, g := range [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		out = b64From24(out, final[g[0]], final[g[1]], final[g[2]], 4)
	}
	return string(b64From24(out, 0, 0, final[11], 2))
}

// shaCrypt is sha256-crypt (id "5") or sha512-crypt ("6"); rounds 0 means the default
// 5000, not written in the output.
func shaCrypt(id string, pw []byte, salt string, rounds int) string {
	newHash, size := sha256.New, 32
	if id == "6" {
		newHash, size = sha512.New, 64
	}
	sum := func(parts ...[]byte) []byte {
		h := newHash()
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	s := []byte(salt)
	b := sum(pw, s, pw)
	a := newHash()
	a.Write(pw)
	a.Write(s)
	writeRepeated(a, b, len(pw), size)
	for i := len(pw); i > 0; i >>= 1 {
		if i&1 == 1 {
			a.Write(b)
		} else {
			a.Write(pw)
		}
	}
	final := a.Sum(nil)
	dp := newHash()
	for range len(pw) {
		dp.Write(pw)
	}
	p := repeatTo(dp.Sum(nil), len(pw))
	ds := newHash()
	for range 16 + int(final[0]) {
		ds.Write(s)
	}
	sp := repeatTo(ds.Sum(nil), len(s))
	n := rounds
	if n == 0 {
		n = 5000
	}
	final = stretch(newHash, final, p, sp, n)
	out := []byte("$" + id + "$")
	if rounds != 0 {
		out = append(out, "rounds="+strconv.Itoa(rounds)+"$"...)
	}
	out = append(out, salt+"$"...)
	return string(encodeSHACrypt(out, final))
}

// stretch is the loop of rounds both crypt families run on the digest: each round hashes
// the previous digest with the password bytes p and, on rounds not a multiple of 3, the
// salt bytes s; the order depends on the round's parity and on its being a multiple of 7.
// md5-crypt passes the password and salt as they are, sha-crypt the P and S sequences
// its specification derives from them.
func stretch(newHash func() hash.Hash, digest, p, s []byte, rounds int) []byte {
	for i := range rounds {
		c := newHash()
		if i&1 == 1 {
			c.Write(p)
		} else {
			c.Write(digest)
		}
		if i%3 != 0 {
			c.Write(s)
		}
		if i%7 != 0 {
			c.Write(p)
		}
		if i&1 == 1 {
			c.Write(digest)
		} else {
			c.Write(p)
		}
		digest = c.Sum(nil)
	}
	return digest
}

// encodeSHACrypt appends the digest in the specification's byte order: groups of three
// bytes taken a third of the digest apart, rotating, then the bytes left over.
func encodeSHACrypt(out, d []byte) []byte {
	if len(d) == 32 {
		// The specification's table: (0,10,20), (21,1,11), (12,22,2), (3,13,23), ...
		out = rotatingGroups(out, d, 10, [3][3]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}})
		return b64From24(out, 0, d[31], d[30], 3)
	}
	// (0,21,42), (22,43,1), (44,2,23), (3,24,45), ...
	out = rotatingGroups(out, d, 21, [3][3]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}})
	return b64From24(out, 0, 0, d[63], 2)
}

// rotatingGroups appends n groups of four characters, group i from the digest bytes i,
// i+n and i+2n, put in the order order[i%3] names.
func rotatingGroups(out, d []byte, n int, order [3][3]int) []byte {
	for i := range n {
		g, o := [3]byte{d[i], d[i+n], d[i+2*n]}, order[i%3]
		out = b64From24(out, g[o[0]], g[o[1]], g[o[2]], 4)
	}
	return out
}

// writeRepeated writes n bytes of b (of size bytes), repeated, to h.
func writeRepeated(h hash.Hash, b []byte, n, size int) {
	for ; n > size; n -= size {
		h.Write(b)
	}
	h.Write(b[:n])
}

func repeatTo(b []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, b[:min(len(b), n-len(out))]...)
	}
	return out
}
