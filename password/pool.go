package password

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy means every worker of a Pool is taken and its wait queue is full, or the queue
// is long enough that a newcomer could not expect its turn within the pool's MaxWait.
var ErrBusy = errors.New("password hashing at capacity")

// Pool bounds argon2id work: at most workers computations at once, each allocating its m
// KiB, so a thousand concurrent logins cost workers × m of memory, not a thousand × m; and
// at most queue callers waiting for a worker, so a flood is refused at once (ErrBusy)
// instead of piling up. The zero value is not usable; use NewPool.
type Pool struct {
	idle    chan Hasher   // the workers not computing; taking one is the right to compute
	places  chan struct{} // a token per admitted caller, waiting or running
	runs    atomic.Int64
	took    atomic.Int64 // moving average of a computation, in ns
	maxWait time.Duration
}

// NewPool returns a pool of len(workers) workers (at least one: a Local with crypto/rand
// when there are none) with a wait queue of queue places (at least 0). maxWait, when
// positive, also refuses a caller that could not expect its computation to be done within
// maxWait, judging by the queue ahead of it and how long computations took lately: a
// queued login must still have its answer within the request's timeout.
func NewPool(workers []Hasher, queue int, maxWait time.Duration) *Pool {
	if len(workers) == 0 {
		workers = []Hasher{Local{Rand: rand.Reader}}
	}
	queue = max(queue, 0)
	p := &Pool{idle: make(chan Hasher, len(workers)), places: make(chan struct{}, len(workers)+queue),
		maxWait: maxWait}
	for _, h := range workers {
		p.idle <- h
	}
	return p
}

// LocalWorkers returns n Local hashers (at least one) reading salts from rand.
func LocalWorkers(n int, rand io.Reader) []Hasher {
	hs := make([]Hasher, max(n, 1))
	for i := range hs {
		hs[i] = Local{Rand: rand}
	}
	return hs
}

// Workers returns how many computations may run at once.
func (p *Pool) Workers() int { return cap(p.idle) }

// Runs returns how many times a worker ran a caller's function (one verification, with a
// rehash after a successful one).
func (p *Pool) Runs() int64 { return p.runs.Load() }

// Load returns how many computations are running and how many admitted callers are not
// running one (waiting for a worker, or between Admit and Run), right now. The two are
// read separately, so they may disagree by a caller in flight.
func (p *Pool) Load() (running, waiting int) {
	running = cap(p.idle) - len(p.idle)
	return running, max(len(p.places)-running, 0)
}

// Capacity returns how many callers Admit lets in at once: workers plus queue places.
func (p *Pool) Capacity() int { return cap(p.places) }

// Ticket is a caller's place in the pool, from Admit until Release.
type Ticket struct {
	p    *Pool
	once sync.Once
}

// Admit takes a place in the pool without waiting, before any other work of the caller
// (a login reads the database only once admitted). It returns ErrBusy when the workers and
// the queue are all taken, or when the callers ahead would keep this one waiting past
// maxWait. The caller must Release the ticket.
func (p *Pool) Admit() (*Ticket, error) {
	select {
	case p.places <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	if p.refuses(len(p.places) - 1) {
		<-p.places
		return nil, ErrBusy
	}
	return &Ticket{p: p}, nil
}

// refuses reports whether a caller finding taken places already taken would be refused:
// no place is left, or it could not expect its turn within maxWait. Callers are served in
// rounds of one per worker: it waits for the rounds of those ahead of it, none while a
// worker is free, so a slow estimate (hashes starved of CPU for a while) never shuts
// logins out, it only shortens the queue.
func (p *Pool) refuses(taken int) bool {
	if taken >= cap(p.places) {
		return true
	}
	waits := taken / cap(p.idle)
	return p.maxWait > 0 && time.Duration(waits)*time.Duration(p.took.Load()) > p.maxWait
}

// Full reports whether Admit would refuse right now, for want of a place or because the
// queue is too long for maxWait: a check that costs nothing, for a caller that has work
// to do before it may take a place (a flood refused here costs no database work).
func (p *Pool) Full() bool { return p.refuses(len(p.places)) }

// Run waits for a worker and runs fn on it. A caller whose ctx ends while it waits (its
// client went away) is dropped: Run returns ctx's error and fn never runs. fn, once
// started, runs to the end (argon2id cannot be interrupted, and the worker is busy until it
// is done), but the caller stops waiting for it when ctx ends: Run then returns ctx's
// error while fn is still running, so the caller must read what fn writes only when Run
// returns nil. A hash starved of CPU (hashing runs at the lowest priority) never keeps a
// request past its deadline.
func (t *Ticket) Run(ctx context.Context, fn func(Hasher)) error {
	return t.p.run(ctx, fn)
}

// Release gives the ticket's place back. Releasing twice is harmless.
func (t *Ticket) Release() { t.once.Do(func() { <-t.p.places }) }

// Do waits for a worker, however long the queue (until ctx ends), and runs fn on it. It is
// for work whose callers are already bounded and authenticated (setting a password through
// the admin API or the CLI): the memory bound holds, only the queue bound does not apply.
func (p *Pool) Do(ctx context.Context, fn func(Hasher)) error { return p.run(ctx, fn) }

func (p *Pool) run(ctx context.Context, fn func(Hasher)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var h Hasher
	select {
	case h = <-p.idle:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Both may have been ready at once; a caller already gone is not worth a hash.
	if err := ctx.Err(); err != nil {
		p.idle <- h
		return err
	}
	p.runs.Add(1)
	done := make(chan struct{})
	go func() {
		defer func() { p.idle <- h }()
		start := time.Now()
		fn(h)
		p.Observe(time.Since(start))
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Observe folds a computation's duration into the moving average Admit judges by. Run
// calls it; a caller tells it of one done elsewhere (the first hash at start-up), so the
// first admissions judge by what a hash takes on this machine.
func (p *Pool) Observe(d time.Duration) {
	old := time.Duration(p.took.Load())
	if old > 0 {
		d = old + (d-old)/8
	}
	p.took.Store(int64(d))
}

// Close waits for the computations running to end and closes the workers that need it
// (Process). The pool must not be used afterwards.
func (p *Pool) Close() error {
	var errs []error
	for range cap(p.idle) {
		if c, ok := (<-p.idle).(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
