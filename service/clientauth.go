package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

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
// secret for a public client and no secret for a confidential one are all ErrInvalidClient.
func (s *Service) AuthenticateClient(ctx context.Context, cred Credentials) (db.ClientAuth, error) {
	if cred.ClientID == "" {
		return db.ClientAuth{}, ErrInvalidClient
	}
	ca, err := s.store.ClientForAuth(ctx, cred.ClientID, s.Now())
	if errors.Is(err, db.ErrNotFound) {
		return ca, ErrInvalidClient
	}
	if err != nil {
		return ca, fmt.Errorf("authenticate client: %w", err)
	}
	if ca.Client.Disabled || ca.Tenant.Disabled || ca.Tenant.DeletedAt != nil {
		return ca, ErrInvalidClient
	}
	if ca.Client.Public {
		if cred.Secret != "" {
			return ca, ErrInvalidClient
		}
		return ca, nil
	}
	if tokens.Check(tokens.ClientSecret, cred.Secret) != nil {
		return ca, ErrInvalidClient
	}
	sum := sha256.Sum256([]byte(cred.Secret))
	ok := 0
	for _, h := range ca.Secrets {
		ok |= subtle.ConstantTimeCompare(sum[:], h)
	}
	if ok != 1 {
		return ca, ErrInvalidClient
	}
	return ca, nil
}
