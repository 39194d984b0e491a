// Package keyring encrypts the secrets jeton must read back (TOTP factor secrets) under a
// ring of AES-256-GCM keys given by configuration: the first key encrypts, every key
// decrypts, so keys rotate without a flag day.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// KeySize is the size of every key: AES-256.
const KeySize = 32

// ErrUnknownKey is returned by Open for a ciphertext sealed under a key the ring lacks.
var ErrUnknownKey = errors.New("keyring: unknown key id")

// ErrOpen is returned by Open when the ciphertext or its associated data was altered.
var ErrOpen = errors.New("keyring: ciphertext does not authenticate")

// Ring is an ordered set of keys. The zero value, and nil, hold no key.
type Ring struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Parse reads "id:base64key" entries separated by commas (standard or URL base64, padded
// or not), each key 32 bytes. It returns an error naming the bad entry by position, never
// by its content, which is secret.
func Parse(spec string) (*Ring, error) {
	r := &Ring{aeads: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(strings.TrimSpace(spec), ",") {
		id, enc, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok || !idRE.MatchString(id) {
			return nil, fmt.Errorf("secret key %d: want id:base64key with an id of letters, digits, '.', '_' or '-'", i+1)
		}
		if _, dup := r.aeads[id]; dup {
			return nil, fmt.Errorf("secret key %d: id %q appears twice", i+1, id)
		}
		key, err := decodeKey(enc)
		if err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("secret key %q: want %d bytes in base64", id, KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secret key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret key %q: %w", id, err)
		}
		r.ids = append(r.ids, id)
		r.aeads[id] = aead
	}
	return r, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Load returns the ring of the file at path when path is not empty (the file's content is
// the same list as JETON_SECRET_KEYS, so keys stay out of ps), else of env; nil, without
// error, when both are empty.
func Load(path, env string) (*Ring, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("secret keys file: %w", err)
		}
		return Parse(string(b))
	}
	if strings.TrimSpace(env) == "" {
		return nil, nil
	}
	return Parse(env)
}

// Generate returns a spec of one new key named id, read from rand.
func Generate(id string, rand io.Reader) (string, error) {
	var k [KeySize]byte
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return "", fmt.Errorf("key randomness: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(k[:]), nil
}

// Usable reports whether r holds a key.
func (r *Ring) Usable() bool { return r != nil && len(r.ids) > 0 }

// Primary returns the id of the key Seal uses, "" for an empty ring.
func (r *Ring) Primary() string {
	if !r.Usable() {
		return ""
	}
	return r.ids[0]
}

// Seal encrypts plaintext under the first key with ad as associated data, reading the
// nonce from rand. It returns the key's id and nonce||ciphertext.
func (r *Ring) Seal(plaintext, ad []byte, rand io.Reader) (keyID string, sealed []byte, err error) {
	if !r.Usable() {
		return "", nil, errors.New("keyring: no key configured")
	}
	aead := r.aeads[r.ids[0]]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return "", nil, fmt.Errorf("nonce randomness: %w", err)
	}
	return r.ids[0], aead.Seal(nonce, nonce, plaintext, ad), nil
}

// Open decrypts what Seal returned under keyID with the same ad. It returns
// ErrUnknownKey or ErrOpen.
func (r *Ring) Open(keyID string, sealed, ad []byte) ([]byte, error) {
	if r == nil {
		return nil, ErrUnknownKey
	}
	aead, ok := r.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, ErrOpen
	}
	out, err := aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
