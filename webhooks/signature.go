// Package webhooks provides what jeton needs to send a signed request to a URL an operator
// configured (tenants' webhooks and the legacy-login hook): the Standard Webhooks signature
// (standardwebhooks.com), the secrets it is keyed by, and an HTTP sender that connects only
// to public addresses and follows no redirect.
package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SecretPrefix starts every signing secret, as Standard Webhooks writes them.
const SecretPrefix = "whsec_"

// secretBytes is the entropy of a new secret: 256 bits, like every secret jeton makes.
const secretBytes = 32

// minSecretBytes is the shortest key a secret given by an operator may have.
const minSecretBytes = 16

// ErrSecret means a string is not a signing secret.
var ErrSecret = errors.New("not a webhook signing secret")

// NewSecret returns a new secret, "whsec_" and the base64 of 32 bytes read from r, and
// those bytes (the HMAC key). It returns r's error.
func NewSecret(r io.Reader) (string, []byte, error) {
	key := make([]byte, secretBytes)
	if _, err := io.ReadFull(r, key); err != nil {
		return "", nil, fmt.Errorf("webhook secret: %w", err)
	}
	return FormatSecret(key), key, nil
}

// FormatSecret writes key as a secret: "whsec_" and its standard base64.
func FormatSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret returns the HMAC key of a "whsec_..." secret: the base64-decoded part after
// the prefix, of at least 16 bytes. It returns ErrSecret for anything else.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, ErrSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < minSecretBytes {
		return nil, ErrSecret
	}
	return key, nil
}

// Sign returns the webhook-signature header of one attempt: for each key, "v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body", separated by spaces (Standard Webhooks,
// "Signature scheme"; two keys while a secret is being rotated). timestamp is in seconds
// since the Unix epoch, as in the webhook-timestamp header.
func Sign(id string, timestamp int64, body []byte, keys ...[]byte) string {
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(id))
		m.Write([]byte{'.'})
		m.Write([]byte(strconv.FormatInt(timestamp, 10)))
		m.Write([]byte{'.'})
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}
