package legacy

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
)

// digestHash is a digest, or an HMAC, of the salt and password concatenated: an LDAP
// {SHA}/{SSHA*} string (RFC 2307 and OpenLDAP's salted forms: base64 of digest ‖ salt) or
// an Object.
type digestHash struct {
	family string
	digest string // md5, sha1, sha256, sha512
	key    []byte // nil: a plain digest; else the HMAC key
	salt   []byte
	prefix bool // the salt before the password
	sum    []byte
}

func (h *digestHash) Family() string { return h.family }
func (h *digestHash) Cost() string   { return "digest" }

var digests = map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New,
	"sha512": sha512.New}

func (h *digestHash) Verify(pw []byte) bool {
	var d hash.Hash
	if h.key != nil {
		d = hmac.New(digests[h.digest], h.key)
	} else {
		d = digests[h.digest]()
	}
	if h.prefix {
		d.Write(h.salt)
		d.Write(pw)
	} else {
		d.Write(pw)
		d.Write(h.salt)
	}
	return equal(d.Sum(nil), h.sum)
}

var ldapSchemes = map[string]string{"{SHA}": "sha1", "{SSHA}": "sha1", "{SHA256}": "sha256",
	"{SSHA256}": "sha256", "{SHA512}": "sha512", "{SSHA512}": "sha512"}

func isLDAP(s string) bool {
	scheme, _, ok := strings.Cut(s, "}")
	_, known := ldapSchemes[scheme+"}"]
	return ok && known
}

func parseLDAP(s string) (Hash, error) {
	scheme, b64, _ := strings.Cut(s, "}")
	scheme += "}"
	h := &digestHash{family: "ldap-" + strings.ToLower(strings.Trim(scheme, "{}")), digest: ldapSchemes[scheme]}
	raw, err := base64.StdEncoding.DecodeString(b64)
	size := digests[h.digest]().Size()
	salted := strings.HasPrefix(scheme, "{SS")
	if err != nil || len(raw) < size || (!salted && len(raw) != size) {
		return nil, malformed(h.family, "want base64 of the digest (and salt)")
	}
	h.sum, h.salt = raw[:size], raw[size:]
	return h, nil
}

// Object is a password_hash given as a JSON object: a salted digest
// {"algorithm":"md5|sha1|sha256|sha512","hash","salt","position":"prefix|suffix",
// "encoding":"hex|base64"}, an HMAC of the same ("algorithm":"hmac-sha256", ..., "key" in
// standard base64), or Firebase's scrypt ("algorithm":"firebase-scrypt", "hash", "salt",
// "signer_key", "salt_separator" in standard base64, "rounds", "mem_cost"). The salt of a
// digest or HMAC is in encoding, like the hash, unless salt_encoding says otherwise
// ("utf8": the salt's text itself).
type Object struct {
	Algorithm     string `json:"algorithm"`
	Hash          string `json:"hash"`
	Salt          string `json:"salt,omitempty"`
	Position      string `json:"position,omitempty"`
	Encoding      string `json:"encoding,omitempty"`
	SaltEncoding  string `json:"salt_encoding,omitempty"`
	Key           string `json:"key,omitempty"`
	SignerKey     string `json:"signer_key,omitempty"`
	SaltSeparator string `json:"salt_separator,omitempty"`
	Rounds        int    `json:"rounds,omitempty"`
	MemCost       int    `json:"mem_cost,omitempty"`
}

func parseObject(b []byte, lim Limits) (Hash, error) {
	var o Object
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("password_hash object: %v", err)
	}
	return o.parse(lim)
}

func (o *Object) parse(lim Limits) (Hash, error) {
	if o.Algorithm == "firebase-scrypt" {
		return parseFirebase(o, lim)
	}
	h := &digestHash{family: o.Algorithm, digest: strings.TrimPrefix(o.Algorithm, "hmac-")}
	if _, ok := digests[h.digest]; !ok {
		return nil, fmt.Errorf("unknown password_hash algorithm %q (want md5, sha1, sha256, sha512, hmac-..., firebase-scrypt)", o.Algorithm)
	}
	decode := map[string]func(string) ([]byte, error){
		"hex": hex.DecodeString, "base64": stdB64,
		"utf8": func(s string) ([]byte, error) { return []byte(s), nil },
	}
	enc, ok := decode[o.Encoding]
	if !ok || o.Encoding == "utf8" {
		return nil, malformed(o.Algorithm, `encoding must be "hex" or "base64"`)
	}
	saltEnc := enc
	if o.SaltEncoding != "" {
		if saltEnc, ok = decode[o.SaltEncoding]; !ok {
			return nil, malformed(o.Algorithm, `salt_encoding must be "hex", "base64" or "utf8"`)
		}
	}
	var err error
	if h.sum, err = enc(o.Hash); err != nil || len(h.sum) != digests[h.digest]().Size() {
		return nil, malformed(o.Algorithm, "hash is not a "+h.digest+" digest in "+o.Encoding)
	}
	if h.salt, err = saltEnc(o.Salt); err != nil {
		return nil, malformed(o.Algorithm, "bad salt encoding")
	}
	switch o.Position {
	case "prefix":
		h.prefix = true
	case "suffix", "":
		if o.Salt != "" && o.Position == "" {
			return nil, malformed(o.Algorithm, `position must be "prefix" or "suffix"`)
		}
	default:
		return nil, malformed(o.Algorithm, `position must be "prefix" or "suffix"`)
	}
	if strings.HasPrefix(o.Algorithm, "hmac-") {
		if h.key, err = stdB64(o.Key); err != nil || len(h.key) == 0 {
			return nil, malformed(o.Algorithm, "key must be standard base64")
		}
	} else if o.Key != "" {
		return nil, malformed(o.Algorithm, "key is only for hmac-*")
	}
	return h, nil
}

// Canonical returns the stored form of an Object: its compact JSON.
func (o *Object) Canonical() string {
	b, _ := json.Marshal(o)
	return string(b)
}

func stdB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
