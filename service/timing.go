package service

import (
	"context"
	"sync"
	"time"

	"github.com/jeton-auth/jeton/password"
)

// failurePad keeps failed logins indistinguishable by timing while hashes of several
// argon2id parameter generations are stored: after the parameters change, users not yet
// rehashed verify faster (or slower) than unknown users, whose dummy hash has the current
// parameters. It keeps a moving average of how long a verification takes under each set of
// parameters it has seen, and every failed verification is padded to the slowest of them.
// A success is never padded; it says so anyway.
type failurePad struct {
	mu   sync.Mutex
	took map[password.Params]time.Duration
}

// observe records that verifying under p took d.
func (f *failurePad) observe(p password.Params, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.took == nil {
		f.took = map[password.Params]time.Duration{}
	}
	if old, ok := f.took[p]; ok {
		d = old + (d-old)/8 // an average over the last few, which follows load
	}
	f.took[p] = d
}

// target is how long a failed verification should take: the slowest generation's average.
func (f *failurePad) target() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var t time.Duration
	for _, d := range f.took {
		t = max(t, d)
	}
	return t
}

// wait pads a failed verification that took took, unless ctx ends first. It runs after the
// hashing worker was given back: the pad costs time, not capacity.
func (f *failurePad) wait(ctx context.Context, took time.Duration) {
	Wait(ctx, f.target()-took)
}

// Wait waits for d, or until ctx ends if that comes first.
func Wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
