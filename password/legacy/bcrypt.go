package legacy

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// bcryptHash is a $2a$, $2b$ or $2y$ hash. All three verify alike: $2y$ is crypt_blowfish's
// name for $2b$, and $2a$ differs only for passwords that hit the old wraparound bug.
type bcryptHash struct {
	stored []byte
	cost   int
}

func (h *bcryptHash) Family() string { return "bcrypt" }
func (h *bcryptHash) Cost() string   { return fmt.Sprintf("bcrypt %d", h.cost) }

// Verify compares at most the first 72 bytes of pw, as every bcrypt does.
func (h *bcryptHash) Verify(pw []byte) bool {
	if len(pw) > 72 {
		pw = pw[:72]
	}
	return bcrypt.CompareHashAndPassword(h.stored, pw) == nil
}

func parseBcrypt(s string, lim Limits) (Hash, error) {
	if len(s) < 4 || s[3] != '$' || (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') {
		return nil, ErrUnknown
	}
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil || len(s) != 60 {
		return nil, malformed("bcrypt", "want $2b$cost$ and 53 characters of salt and hash")
	}
	if cost > lim.BcryptCost {
		return nil, limitErr("bcrypt cost %d over %d", cost, lim.BcryptCost)
	}
	return &bcryptHash{stored: []byte(s), cost: cost}, nil
}
