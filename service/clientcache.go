package service

import (
	"context"
	"sync"

	"github.com/jeton-auth/jeton/db"
)

// maxCachedClients bounds the client cache; past it an arbitrary entry makes room.
const maxCachedClients = 10_000

// clientCache keeps, by client_id, the client and its tenant as the database last showed
// them to a successful client_credentials grant, without their secrets. Nothing is ever
// decided on an entry alone: the grant's one statement writes the token only if the
// secret presented is valid then and the client and tenant are still at the entry's
// versions (db.IssueClientToken), so a rotated-out secret, a disabled client or any other
// change made through any instance is seen by the very next request. Otherwise the request
// is decided afresh on the database, and the entry replaced or dropped. No LISTEN feeds it,
// so nothing is missed when a connection drops.
type clientCache struct {
	mu      sync.RWMutex
	entries map[string]db.ClientAuth
}

func newClientCache() *clientCache { return &clientCache{entries: map[string]db.ClientAuth{}} }

func (c *clientCache) get(id string) (db.ClientAuth, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ca, ok := c.entries[id]
	return ca, ok
}

func (c *clientCache) put(ca db.ClientAuth) {
	ca.Secrets = nil
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[ca.Client.ID]; !ok && len(c.entries) >= maxCachedClients {
		for id := range c.entries {
			delete(c.entries, id)
			break
		}
	}
	c.entries[ca.Client.ID] = ca
}

func (c *clientCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// ClientCredentials authenticates the client presenting cred and runs the client
// credentials grant (RFC 6749 §4.4) for it, with the actor that actor names for it. A
// client seen before is authenticated by the statement that issues its token, against the
// database's state at that moment (see clientCache): one round trip. Any other outcome,
// and a first request, authenticate as AuthenticateClient does and then issue the token,
// so errors are theirs: ErrInvalidClient with a zero ClientAuth, or the authenticated
// client with ErrUnauthorizedClient (a public client, or one without the grant),
// ErrInvalidScope, or the database's error.
func (s *Service) ClientCredentials(ctx context.Context, cred Credentials, scope string, actor func(db.ClientAuth) db.Actor) (db.ClientAuth, TokenResponse, error) {
	hash, _ := secretHash(cred.Secret) // nil for none or a malformed one: AuthenticateClient refuses it
	if ca, ok := s.clients.get(cred.ClientID); ok && !ca.Client.Public && hash != nil {
		if resp, err := s.clientCredentials(ctx, ca, hash, scope, actor(ca)); err == nil {
			return ca, resp, nil
		}
		// A wrong secret, a change since the entry, a refusal: decided afresh below.
		s.clients.forget(cred.ClientID)
	}
	ca, err := s.AuthenticateClient(ctx, cred)
	if err != nil {
		return db.ClientAuth{}, TokenResponse{}, err
	}
	resp, err := s.clientCredentials(ctx, ca, hash, scope, actor(ca))
	if err == nil {
		s.clients.put(ca)
	}
	return ca, resp, err
}
