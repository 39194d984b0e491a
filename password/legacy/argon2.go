package legacy

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2Hash is an argon2i or argon2id PHC string ($argon2i$v=19$m=..,t=..,p=..$salt$hash).
// argon2d is refused: golang.org/x/crypto implements it but does not export it, and it is
// not worth a hand-rolled Argon2 (it was never meant for passwords, and no system jeton
// imports from stores it by default).
type argon2Hash struct {
	variant      string
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func (h *argon2Hash) Family() string { return h.variant }
func (h *argon2Hash) Cost() string {
	return fmt.Sprintf("%s m=%d t=%d p=%d", h.variant, h.memory, h.time, h.threads)
}

func (h *argon2Hash) Verify(pw []byte) bool {
	f := argon2.Key
	if h.variant == "argon2id" {
		f = argon2.IDKey
	}
	return equal(f(pw, h.salt, h.time, h.memory, h.threads, uint32(len(h.key))), h.key)
}

// Threads returns the argon2 parallelism of a stored argon2 hash, 0 for any other.
func Threads(stored string) int {
	if !strings.HasPrefix(stored, "$argon2") {
		return 0
	}
	h, err := parseArgon2(stored, DefaultLimits)
	if err != nil {
		return 0
	}
	return int(h.(*argon2Hash).threads)
}

func parseArgon2(s string, lim Limits) (Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, malformed("argon2", "want $variant$v=19$m=..,t=..,p=..$salt$hash")
	}
	h := &argon2Hash{variant: parts[1]}
	switch h.variant {
	case "argon2i", "argon2id":
	case "argon2d":
		return nil, fmt.Errorf("argon2d is not supported (no maintained Go implementation exports it)")
	default:
		return nil, ErrUnknown
	}
	if parts[2] != "v=19" {
		return nil, malformed(h.variant, "only version 19 (0x13) is supported")
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || seen[k] {
			return nil, malformed(h.variant, "bad parameter "+strconv.Quote(kv))
		}
		seen[k] = true
		switch k {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n > 255 {
				return nil, malformed(h.variant, "p over 255")
			}
			h.threads = uint8(n)
		default:
			return nil, malformed(h.variant, "unknown parameter "+strconv.Quote(k))
		}
	}
	if !seen["m"] || !seen["t"] || !seen["p"] || h.time < 1 || h.threads < 1 || h.memory < 8*uint32(h.threads) {
		return nil, malformed(h.variant, "m, t and p are required (t ≥ 1, p ≥ 1, m ≥ 8·p)")
	}
	if h.memory > lim.Argon2Memory {
		return nil, limitErr("argon2 memory %d KiB over %d KiB", h.memory, lim.Argon2Memory)
	}
	if h.time > lim.Argon2Time {
		return nil, limitErr("argon2 time %d over %d", h.time, lim.Argon2Time)
	}
	var err error
	if h.salt, err = phcB64(parts[4]); err != nil || len(h.salt) < 1 {
		return nil, malformed(h.variant, "bad salt")
	}
	if h.key, err = phcB64(parts[5]); err != nil || len(h.key) < 4 || len(h.key) > 1024 {
		return nil, malformed(h.variant, "bad hash")
	}
	return h, nil
}

// phcB64 decodes the PHC string format's base64: the standard alphabet without padding
// (padding tolerated).
func phcB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}
