package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/tokens"
)

// Credentials are what a request presented to authenticate its client. Secret is empty for
// a public client.
type Credentials struct {
	ClientID string
	Secret   string
}

// AuthenticateClient checks the credentials and returns the client with its tenant. A
// disabled client, a disabled or deleted tenant, an unknown client_id, a wrong secret, a
// secret for a public client and no secret for a confidential one are all ErrInvalidClient
// (db.ClientAuth.Authenticates).
func (s *Service) AuthenticateClient(ctx context.Context, cred Credentials) (db.ClientAuth, error) {
	hash, ok := secretHash(cred.Secret)
	if !ok || !plausibleClientID(cred.ClientID) {
		return db.ClientAuth{}, ErrInvalidClient
	}
	ca, err := s.store.ClientForAuth(ctx, cred.ClientID, s.Now())
	if errors.Is(err, db.ErrNotFound) {
		return ca, ErrInvalidClient
	}
	if err != nil {
		return ca, fmt.Errorf("authenticate client: %w", err)
	}
	if !ca.Authenticates(hash) {
		return ca, ErrInvalidClient
	}
	return ca, nil
}

// secretHash is the SHA-256 of the client secret a request presented, nil for none. A
// secret that is not a client secret at all (tokens.Check) is no client's, public or
// confidential: ok is false, and the request fails without a database read.
func secretHash(secret string) (hash []byte, ok bool) {
	if secret == "" {
		return nil, true
	}
	if tokens.Check(tokens.ClientSecret, secret) != nil {
		return nil, false
	}
	sum := sha256.Sum256([]byte(secret))
	return sum[:], true
}

// plausibleClientID reports whether id can name a client at all: "jc_" and at most 64 ASCII
// letters, digits, '_' or '-'. Anything else is unknown without a database read, which
// also keeps NUL and invalid UTF-8 (PostgreSQL text refuses both: a 500) out of the query.
func plausibleClientID(id string) bool {
	if len(id) > 64 || !strings.HasPrefix(id, "jc_") {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
