package service

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/keyring"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// RFC 6238 as every authenticator app reads it: SHA-1, 6 digits, 30-second steps; a
// code is accepted within one step of the server's clock.
const (
	totpPeriod     = 30
	totpSkew       = 1
	totpSecretSize = 20 // 160 bits (RFC 4226 §4's recommendation)
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpStep returns the time step, later than after, whose code is code (within totpSkew
// steps of now), or 0 when there is none: a wrong code, or a replay of a step already
// used (RFC 6238 §5.2).
func totpStep(secret []byte, code string, now time.Time, after int64) int64 {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return 0
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	cur := now.Unix() / totpPeriod
	var found int64
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(b32, time.Unix(step*totpPeriod, 0), totpOpts)
		// Every candidate is compared, so the time says nothing about which matched.
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > after && found == 0 {
			found = step
		}
	}
	return found
}

// Recovery codes: 10 per user, each 10 characters of an alphabet without look-alikes
// (Crockford's base32: 50 bits), stored only as SHA-256 of the user's salt and the code.
const (
	recoveryCodeCount = 10
	recoveryCodeLen   = 10
	recoveryAlphabet  = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// newRecoveryCodes returns fresh codes, formatted XXXXX-XXXXX, and what to store.
func newRecoveryCodes(rand io.Reader) ([]string, db.RecoveryCodes, error) {
	rc := db.RecoveryCodes{Salt: make([]byte, 16)}
	if _, err := io.ReadFull(rand, rc.Salt); err != nil {
		return nil, rc, fmt.Errorf("recovery codes: %w", err)
	}
	codes := make([]string, 0, recoveryCodeCount)
	buf := make([]byte, recoveryCodeLen)
	for range recoveryCodeCount {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, rc, fmt.Errorf("recovery codes: %w", err)
		}
		for i, b := range buf {
			buf[i] = recoveryAlphabet[b&31] // 32 symbols: 5 unbiased bits per byte
		}
		code := string(buf)
		rc.Hashes = append(rc.Hashes, recoveryHash(rc.Salt, code))
		codes = append(codes, code[:5]+"-"+code[5:])
	}
	return codes, rc, nil
}

// normalizeRecoveryCode reads a code as a person may type it: any case, with or without
// the hyphen and spaces, Crockford's look-alikes (O, I, L) as the digits they stand for.
func normalizeRecoveryCode(s string) string {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s))
	return strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(s)
}

func recoveryHash(salt []byte, code string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(code))
	return h.Sum(nil)
}

// factorAD is the associated data a user's factor secret is sealed with: the user's and
// the tenant's ids, so a sealed secret copied to another user's row does not open.
func factorAD(tenant, user uuid.UUID) []byte {
	return append(append([]byte("jeton totp v1|"), user[:]...), tenant[:]...)
}

// SealTOTPSecret seals a raw TOTP secret of the tenant's user under keys' first key as
// jeton stores it (mfa_totp.key_id and secret): for importing factors made elsewhere, and
// for the bench's seeding. It returns the key's id and the sealed bytes.
func SealTOTPSecret(keys *keyring.Ring, tenant, user uuid.UUID, secret []byte, rand io.Reader) (string, []byte, error) {
	return keys.Seal(secret, factorAD(tenant, user), rand)
}
