package service

import (
	"fmt"
	"testing"

	"github.com/jeton-auth/jeton/db"
)

// The client cache holds no secrets and at most maxCachedClients entries.
func TestClientCacheBounded(t *testing.T) {
	c := newClientCache()
	for i := range maxCachedClients + 10 {
		c.put(db.ClientAuth{Client: db.Client{ID: fmt.Sprintf("jc_%d", i)}, Secrets: [][]byte{{1}}})
	}
	if n := len(c.entries); n != maxCachedClients {
		t.Errorf("%d entries, want %d", n, maxCachedClients)
	}
	last := fmt.Sprintf("jc_%d", maxCachedClients+9)
	ca, ok := c.get(last)
	if !ok || ca.Secrets != nil {
		t.Errorf("last entry %v %v: want it, without secrets", ok, ca.Secrets)
	}
	c.put(ca) // replacing an entry evicts nothing
	if n := len(c.entries); n != maxCachedClients {
		t.Errorf("%d entries after a replacement, want %d", n, maxCachedClients)
	}
	c.forget(last)
	if _, ok := c.get(last); ok {
		t.Error("forgotten entry still there")
	}
}
