package service

import (
	"context"
	"sync"
	"time"
)

// failurePad keeps failed logins indistinguishable by timing while hashes of several
// argon2id parameter generations, or imported hashes of other families, are stored: after
// the parameters change, users not yet rehashed (or not yet logged in since their import)
// verify faster (or slower) than unknown users, whose dummy hash has the current
// parameters. It keeps a moving average of how long a verification takes under each set of
// parameters it has seen, and every failed verification is padded to the slowest of them.
// A success is never padded; it says so anyway.
type failurePad struct {
	mu   sync.Mutex
	took map[string]time.Duration // by password.CostClass
}

// maxClasses bounds the classes remembered; only imports add classes, and few.
const maxClasses = 1024

// observe records that verifying a hash of cost class c (password.CostClass) took d.
func (f *failurePad) observe(c string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.took == nil {
		f.took = map[string]time.Duration{}
	}
	old, ok := f.took[c]
	if ok {
		d = old + (d-old)/8 // an average over the last few, which follows load
	} else if len(f.took) >= maxClasses {
		return
	}
	f.took[c] = d
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
