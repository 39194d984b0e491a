package keyring_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/keyring"
)

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func TestSealOpenRotation(t *testing.T) {
	old, err := keyring.Parse("k1:" + key(1))
	if err != nil {
		t.Fatal(err)
	}
	id, sealed, err := old.Seal([]byte("secret"), []byte("user|tenant"), rand.Reader)
	if err != nil || id != "k1" {
		t.Fatalf("seal: %q %v", id, err)
	}
	// A ring whose first key is new still opens what the old key sealed, and seals anew.
	both, err := keyring.Parse("k2:" + key(2) + ", k1:" + key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := both.Open(id, sealed, []byte("user|tenant")); err != nil || string(got) != "secret" {
		t.Fatalf("open under the ring with both keys: %q %v", got, err)
	}
	if both.Primary() != "k2" {
		t.Fatalf("primary %q", both.Primary())
	}
	if _, err := both.Open(id, sealed, []byte("other|tenant")); !errors.Is(err, keyring.ErrOpen) {
		t.Fatalf("other associated data: %v", err)
	}
	if _, err := both.Open("k3", sealed, []byte("user|tenant")); !errors.Is(err, keyring.ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	// The format is plain AES-256-GCM, nonce first: crypto/cipher opens it on its own.
	block, _ := aes.NewCipher(bytes.Repeat([]byte{1}, 32))
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, sealed[:12], sealed[12:], []byte("user|tenant"))
	if err != nil || string(plain) != "secret" {
		t.Fatalf("AES-GCM of the standard library: %q %v", plain, err)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, spec, want string }{
		{"empty", "", "secret key 1"},
		{"no id", key(1), "secret key 1"},
		{"short key", "k1:" + base64.StdEncoding.EncodeToString([]byte("short")), `secret key "k1"`},
		{"duplicate id", "k1:" + key(1) + ",k1:" + key(2), "twice"},
		{"bad id", "k 1:" + key(1), "secret key 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keyring.Parse(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %v, want an error with %q", tc.spec, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), key(1)) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}
