package legacy

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// pbkdf2Hash is PBKDF2 (RFC 8018) with HMAC-SHA-1, -256 or -512, in any of the forms below.
type pbkdf2Hash struct {
	digest    string // sha1, sha256, sha512
	iter      int
	salt, key []byte
}

func (h *pbkdf2Hash) Family() string { return "pbkdf2-" + h.digest }
func (h *pbkdf2Hash) Cost() string   { return fmt.Sprintf("pbkdf2-%s i=%d", h.digest, h.iter) }

func (h *pbkdf2Hash) Verify(pw []byte) bool {
	var got []byte
	var err error
	switch h.digest {
	case "sha1":
		got, err = pbkdf2.Key(sha1.New, string(pw), h.salt, h.iter, len(h.key))
	case "sha256":
		got, err = pbkdf2.Key(sha256.New, string(pw), h.salt, h.iter, len(h.key))
	default:
		got, err = pbkdf2.Key(sha512.New, string(pw), h.salt, h.iter, len(h.key))
	}
	return err == nil && equal(got, h.key)
}

var pbkdf2Digests = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

// ab64 is passlib's "adapted base64": the standard alphabet with '.' for '+', no padding.
func ab64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.ReplaceAll(s, ".", "+"))
}

// parsePBKDF2 reads three forms:
//   - PHC: $pbkdf2-sha256$i=iterations[,l=length]$salt$hash (unpadded standard base64);
//   - passlib: $pbkdf2-sha256$iterations$salt$hash ($pbkdf2$ for SHA-1; adapted base64);
//   - Django: pbkdf2_sha256$iterations$salt$hash (the salt as text, the hash in padded
//     standard base64).
func parsePBKDF2(s string, lim Limits) (Hash, error) {
	parts := strings.Split(s, "$")
	h := &pbkdf2Hash{}
	var iter, salt, key string
	decode := ab64
	switch {
	case strings.HasPrefix(s, "pbkdf2_"):
		if len(parts) != 4 {
			return nil, malformed("django pbkdf2", "want pbkdf2_sha256$iterations$salt$hash")
		}
		h.digest, iter, key = strings.TrimPrefix(parts[0], "pbkdf2_"), parts[1], parts[3]
		h.salt = []byte(parts[2])
		decode = base64.StdEncoding.DecodeString
	case len(parts) == 5 && parts[0] == "":
		h.digest, iter, salt, key = strings.TrimPrefix(parts[1], "pbkdf2"), parts[2], parts[3], parts[4]
		h.digest = strings.TrimPrefix(h.digest, "-")
		if h.digest == "" {
			h.digest = "sha1"
		}
		if strings.HasPrefix(iter, "i=") {
			opts := strings.Split(iter, ",")
			iter = strings.TrimPrefix(opts[0], "i=")
			decode = phcB64
		}
	default:
		return nil, malformed("pbkdf2", "want $pbkdf2-sha256$iterations$salt$hash")
	}
	if _, ok := pbkdf2Digests[h.digest]; !ok {
		return nil, malformed("pbkdf2", "unknown digest "+strconv.Quote(h.digest))
	}
	var err error
	if h.iter, err = strconv.Atoi(iter); err != nil || h.iter < 1 {
		return nil, malformed("pbkdf2", "bad iteration count")
	}
	if h.iter > lim.PBKDF2Iterations {
		return nil, limitErr("pbkdf2 iterations %d over %d", h.iter, lim.PBKDF2Iterations)
	}
	if h.salt == nil {
		if h.salt, err = decode(salt); err != nil {
			return nil, malformed("pbkdf2", "bad salt")
		}
	}
	if h.key, err = decode(key); err != nil || len(h.key) < 8 || len(h.key) > 1024 {
		return nil, malformed("pbkdf2", "bad hash")
	}
	return h, nil
}
