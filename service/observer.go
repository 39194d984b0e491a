package service

import "time"

// Observer hears what the service did, for metrics (metrics.Metrics implements it). Its
// methods run on the request's goroutine, so they must be quick and never block. They get
// only bounded values: a grant type, a revocation target, counts and durations; never a
// tenant, client, user, username or token.
type Observer interface {
	// TokenIssued: a grant (GrantPassword, GrantRefreshToken, GrantClientCredentials)
	// answered with new tokens. A refresh is TokenIssued(GrantRefreshToken).
	TokenIssued(grant string)
	// Revoked: a revocation took effect. target is "token" (an access token), "session"
	// (a refresh token with its session, or an admin's session DELETE), or "user",
	// "client" or "tenant" for a bulk revocation.
	Revoked(target string)
	// RefreshReuseDetected: a used refresh token came back, and its session was revoked.
	RefreshReuseDetected()
	// LoginThrottled: a password login was refused by the brute-force throttles (429).
	LoginThrottled()
	// HashRejected: a password login was refused because the hashing pool's workers and
	// queue were all taken (503).
	HashRejected()
	// HashWaited: a password login waited d for a hashing worker.
	HashWaited(d time.Duration)
	// Swept: a sweep pass ended after took, with what it deleted and its error (nil when it
	// completed or was skipped).
	Swept(st SweepStats, took time.Duration, err error)
}

// NopObserver is the Observer a service has by default: it ignores everything.
type NopObserver struct{}

// TokenIssued does nothing.
func (NopObserver) TokenIssued(string) {}

// Revoked does nothing.
func (NopObserver) Revoked(string) {}

// RefreshReuseDetected does nothing.
func (NopObserver) RefreshReuseDetected() {}

// LoginThrottled does nothing.
func (NopObserver) LoginThrottled() {}

// HashRejected does nothing.
func (NopObserver) HashRejected() {}

// HashWaited does nothing.
func (NopObserver) HashWaited(time.Duration) {}

// Swept does nothing.
func (NopObserver) Swept(SweepStats, time.Duration, error) {}

// WithObserver makes the service report what it does to o (nil keeps NopObserver).
func WithObserver(o Observer) Option {
	return func(s *Service) {
		if o != nil {
			s.obs = o
		}
	}
}
