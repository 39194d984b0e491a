package legacy

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// scryptHash is scrypt (RFC 7914) in the PHC form passlib writes:
// $scrypt$ln=log2(N),r=..,p=..$salt$hash, salt and hash in unpadded standard base64.
type scryptHash struct {
	ln, r, p  int
	salt, key []byte
}

func (h *scryptHash) Family() string { return "scrypt" }
func (h *scryptHash) Cost() string   { return fmt.Sprintf("scrypt ln=%d r=%d p=%d", h.ln, h.r, h.p) }

func (h *scryptHash) Verify(pw []byte) bool {
	got, err := scrypt.Key(pw, h.salt, 1<<h.ln, h.r, h.p, len(h.key))
	return err == nil && equal(got, h.key)
}

// checkScrypt applies lim to N = 2^ln, r and p.
func checkScrypt(family string, ln, r, p int, lim Limits) error {
	if ln < 1 || ln > 30 || r < 1 || p < 1 || r*p >= 1<<30 {
		return malformed(family, "want 1 ≤ ln ≤ 30, r ≥ 1, p ≥ 1")
	}
	if mem := int64(128) * int64(1<<ln) * int64(r); mem > lim.ScryptMemory {
		return limitErr("scrypt memory 128·N·r = %d bytes over %d", mem, lim.ScryptMemory)
	}
	if p > lim.ScryptP {
		return limitErr("scrypt p %d over %d", p, lim.ScryptP)
	}
	return nil
}

func parseScrypt(s string, lim Limits) (Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 5 || parts[0] != "" {
		return nil, malformed("scrypt", "want $scrypt$ln=..,r=..,p=..$salt$hash")
	}
	h := &scryptHash{}
	vals := map[string]*int{"ln": &h.ln, "r": &h.r, "p": &h.p}
	seen := 0
	for _, kv := range strings.Split(parts[2], ",") {
		k, v, _ := strings.Cut(kv, "=")
		dst, ok := vals[k]
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, malformed("scrypt", "bad parameter "+strconv.Quote(kv))
		}
		*dst = n
		seen++
	}
	if seen != 3 {
		return nil, malformed("scrypt", "ln, r and p are required")
	}
	if err := checkScrypt("scrypt", h.ln, h.r, h.p, lim); err != nil {
		return nil, err
	}
	var err error
	if h.salt, err = phcB64(parts[3]); err != nil {
		return nil, malformed("scrypt", "bad salt")
	}
	if h.key, err = phcB64(parts[4]); err != nil || len(h.key) < 4 || len(h.key) > 1024 {
		return nil, malformed("scrypt", "bad hash")
	}
	return h, nil
}

// firebaseScrypt is Firebase Authentication's modified scrypt: the key is scrypt(password,
// salt ‖ salt_separator, N = 2^mem_cost, r = rounds, p = 1, 32 bytes), and the stored hash
// is the project's signer key encrypted with AES-256-CTR under that key and a zero IV.
type firebaseScrypt struct {
	memCost, rounds              int
	salt, separator, signer, key []byte
}

func (h *firebaseScrypt) Family() string { return "firebase-scrypt" }
func (h *firebaseScrypt) Cost() string {
	return fmt.Sprintf("firebase-scrypt mem_cost=%d rounds=%d", h.memCost, h.rounds)
}

func (h *firebaseScrypt) Verify(pw []byte) bool {
	salt := append(append([]byte{}, h.salt...), h.separator...)
	dk, err := scrypt.Key(pw, salt, 1<<h.memCost, h.rounds, 1, 32)
	if err != nil {
		return false
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return false
	}
	out := make([]byte, len(h.signer))
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(out, h.signer)
	return equal(out, h.key)
}

func parseFirebase(o *Object, lim Limits) (Hash, error) {
	const fam = "firebase-scrypt"
	h := &firebaseScrypt{memCost: o.MemCost, rounds: o.Rounds}
	if err := checkScrypt(fam, h.memCost, h.rounds, 1, lim); err != nil {
		return nil, err
	}
	var err error
	for _, f := range []struct {
		name, v string
		dst     *[]byte
	}{{"hash", o.Hash, &h.key}, {"salt", o.Salt, &h.salt}, {"signer_key", o.SignerKey, &h.signer},
		{"salt_separator", o.SaltSeparator, &h.separator}} {
		if *f.dst, err = stdB64(f.v); err != nil {
			return nil, malformed(fam, f.name+" is not standard base64")
		}
	}
	if len(h.key) == 0 || len(h.signer) != len(h.key) {
		return nil, malformed(fam, "hash and signer_key must be of one length")
	}
	return h, nil
}
