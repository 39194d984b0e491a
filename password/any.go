package password

import (
	"fmt"

	"github.com/jeton-auth/jeton/password/legacy"
)

// VerifyStored verifies pw against a stored hash of any family jeton verifies: jeton's own
// argon2id PHC string (the password NFKC-normalised first, see Verify), else an imported
// hash of another system (package legacy, the password as typed). It returns
// ErrMalformedHash, or legacy's error, for a hash it cannot verify.
func VerifyStored(pw, stored string) (bool, error) {
	if _, _, _, err := Parse(stored); err == nil {
		return Verify(pw, stored)
	}
	ok, err := legacy.Verify(pw, stored)
	if err == legacy.ErrUnknown {
		return false, ErrMalformedHash
	}
	return ok, err
}

// CostClass names the family and parameters of a stored hash, for padding failed logins
// per class: hashes of one class take as long to verify. It returns "" for a hash that
// cannot be verified.
func CostClass(stored string) string {
	if p, _, _, err := Parse(stored); err == nil {
		return fmt.Sprintf("argon2id m=%d t=%d p=%d", p.Memory, p.Time, p.Threads)
	}
	h, err := legacy.Parse(stored, legacy.DefaultLimits)
	if err != nil {
		return ""
	}
	return h.Cost()
}

// threadsOf returns the parallelism a verification of stored uses (1 for the families
// that have none).
func threadsOf(stored string) uint8 {
	if p, _, _, err := Parse(stored); err == nil {
		return p.Threads
	}
	if n := legacy.Threads(stored); n > 0 {
		return uint8(n)
	}
	return 1
}
