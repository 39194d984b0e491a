package password

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Admission is bounded by workers + queue, and refuses at once beyond it.
func TestPoolAdmit(t *testing.T) {
	p := NewPool(LocalWorkers(2, nil), 3, 0)
	var held []*Ticket
	for i := range 5 {
		tk, err := p.Admit()
		if err != nil {
			t.Fatalf("ticket %d: %v", i, err)
		}
		held = append(held, tk)
	}
	if _, err := p.Admit(); !errors.Is(err, ErrBusy) {
		t.Fatalf("sixth ticket: %v, want ErrBusy", err)
	}
	held[0].Release()
	held[0].Release() // twice is harmless, and frees one place only
	tk, err := p.Admit()
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := p.Admit(); !errors.Is(err, ErrBusy) {
		t.Fatalf("a double release freed two places: %v", err)
	}
	tk.Release()
}

// No more than workers functions run at once, however many callers.
func TestPoolBoundsConcurrency(t *testing.T) {
	p := NewPool(LocalWorkers(3, nil), 100, 0)
	var running, peak atomic.Int32
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			tk, err := p.Admit()
			if err != nil {
				t.Error(err)
				return
			}
			defer tk.Release()
			_ = tk.Run(context.Background(), func(Hasher) {
				n := running.Add(1)
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
				<-gate
				running.Add(-1)
			})
		})
	}
	close(gate)
	wg.Wait()
	if peak.Load() > 3 {
		t.Errorf("%d ran at once, want at most 3", peak.Load())
	}
	if p.Runs() != 50 {
		t.Errorf("%d runs, want 50", p.Runs())
	}
}

// A caller whose context ends while it waits is dropped without running.
func TestPoolDropsCallersGone(t *testing.T) {
	p := NewPool(LocalWorkers(1, nil), 1, 0)
	busy, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = p.Do(context.Background(), func(Hasher) { close(busy); <-release })
	}()
	<-busy
	tk, err := p.Admit()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	ran := false
	go func() { done <- tk.Run(ctx, func(Hasher) { ran = true }) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after the caller left: %v", err)
	}
	close(release)
	if ran {
		t.Error("the function of a caller gone ran")
	}
	tk.Release()
	if err := p.Do(context.Background(), func(Hasher) {}); err != nil {
		t.Error(err)
	}
	if p.Runs() != 2 {
		t.Errorf("%d runs, want 2", p.Runs())
	}
}

// A caller whose ctx ends while its computation runs stops waiting for it (a hash starved
// of CPU must not keep a request past its deadline), and the worker stays busy until the
// computation ends: the next caller gets it only then.
func TestPoolCallerStopsWaitingForARunningComputation(t *testing.T) {
	p := NewPool(LocalWorkers(1, nil), 2, 0)
	started, release, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- p.Do(ctx, func(Hasher) { close(started); <-release; close(finished) })
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run of a caller gone mid-computation: %v, want context.Canceled", err)
	}
	select {
	case <-finished:
		t.Fatal("the computation ended before it was released")
	default:
	}
	// The worker is still busy with it, and nothing else runs on it meanwhile.
	if running, _ := p.Load(); running != 1 {
		t.Fatalf("%d computations running after the caller left, want the 1 still running", running)
	}
	close(release)
	<-finished
	ran := false
	if err := p.Do(context.Background(), func(Hasher) { ran = true }); err != nil || !ran {
		t.Fatalf("after the computation ended: ran %v, %v", ran, err)
	}
}

// With a MaxWait, a caller that could not expect its turn in time is refused before it
// waits: here computations took 50 ms lately, two workers serve a round of two at a time,
// and 120 ms allows waiting for two rounds. A caller that finds a worker free is never
// refused, however slow computations were.
func TestPoolMaxWait(t *testing.T) {
	p := NewPool(LocalWorkers(2, nil), 100, 120*time.Millisecond)
	p.Observe(50 * time.Millisecond)
	var held []*Ticket
	for i := range 6 {
		tk, err := p.Admit()
		if err != nil {
			t.Fatalf("caller %d, behind at most two rounds: %v", i+1, err)
		}
		held = append(held, tk)
		if i < 5 && p.Full() {
			t.Fatalf("Full with %d callers admitted, though one more would be admitted", i+1)
		}
	}
	// Full tells the HTTP layer before it authenticates the client: a seventh caller would
	// be refused for the wait, though places are left.
	if !p.Full() {
		t.Fatal("not Full when a seventh caller would be refused for the wait")
	}
	if _, err := p.Admit(); !errors.Is(err, ErrBusy) {
		t.Fatalf("a seventh caller, behind three rounds: %v, want ErrBusy", err)
	}
	held[0].Release()
	if p.Full() {
		t.Fatal("Full after a release")
	}
	tk, err := p.Admit()
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	tk.Release()
	for _, tk := range held[1:] {
		tk.Release()
	}
}

// Computations far slower than MaxWait (starved of CPU) shorten the queue to nothing, but
// callers that find a worker free still get in.
func TestPoolMaxWaitNeverShutsOut(t *testing.T) {
	p := NewPool(LocalWorkers(2, nil), 100, time.Second)
	p.Observe(time.Minute)
	a, err := p.Admit()
	if err != nil {
		t.Fatalf("first caller, a worker free: %v", err)
	}
	b, err := p.Admit()
	if err != nil {
		t.Fatalf("second caller, a worker free: %v", err)
	}
	if _, err := p.Admit(); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third caller would wait a minute: %v, want ErrBusy", err)
	}
	a.Release()
	b.Release()
}

// Full tells, without taking a place, whether Admit would find none (without a MaxWait).
func TestPoolFull(t *testing.T) {
	p := NewPool(LocalWorkers(1, nil), 1, 0)
	a, _ := p.Admit()
	if p.Full() {
		t.Fatal("Full with a place left")
	}
	b, _ := p.Admit()
	if !p.Full() {
		t.Fatal("not Full with every place taken")
	}
	a.Release()
	b.Release()
}
