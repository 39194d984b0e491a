package service

import (
	"crypto/rand"
	"testing"
	"time"
)

// RFC 6238 Appendix B, SHA-1 rows, their last 6 digits (the 8-digit values truncated as
// RFC 4226 §5.3 does: modulo 10^6).
func TestTOTPStepRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		code string
	}{
		{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"},
		{1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
	} {
		now := time.Unix(tc.unix, 0)
		if got := totpStep(secret, tc.code, now, 0); got != tc.unix/30 {
			t.Errorf("at %d, code %s: step %d, want %d", tc.unix, tc.code, got, tc.unix/30)
		}
		if got := totpStep(secret, tc.code, now, tc.unix/30); got != 0 {
			t.Errorf("at %d: a replay of the last step was accepted", tc.unix)
		}
		if got := totpStep(secret, tc.code, now.Add(2*time.Minute), 0); got != 0 {
			t.Errorf("at %d: a code 4 steps old was accepted", tc.unix)
		}
	}
}

// Ten distinct codes of 10 symbols of a 32-symbol alphabet (50 bits), each stored as its
// salted hash, and read back as people type them.
func TestRecoveryCodes(t *testing.T) {
	codes, rc, err := newRecoveryCodes(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 || len(rc.Hashes) != 10 || len(recoveryAlphabet) != 32 {
		t.Fatalf("%d codes, %d hashes, alphabet of %d", len(codes), len(rc.Hashes), len(recoveryAlphabet))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		n := normalizeRecoveryCode(c)
		if len(n) != recoveryCodeLen || seen[n] {
			t.Fatalf("code %q", c)
		}
		seen[n] = true
		if string(recoveryHash(rc.Salt, n)) != string(rc.Hashes[i]) {
			t.Fatalf("code %q does not hash to what is stored", c)
		}
	}
	if normalizeRecoveryCode("abcde-fghio") != "ABCDEFGH10" {
		t.Fatalf("normalised %q", normalizeRecoveryCode("abcde-fghio"))
	}
}
