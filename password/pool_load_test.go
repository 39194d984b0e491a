package password

import (
	"context"
	"testing"
)

// Load counts what runs and what waits; Capacity is workers plus queue.
func TestPoolLoad(t *testing.T) {
	p := NewPool(LocalWorkers(1, nil), 2, 0)
	if c := p.Capacity(); c != 3 {
		t.Fatalf("capacity %d, want 3", c)
	}
	if r, w := p.Load(); r != 0 || w != 0 {
		t.Fatalf("idle pool: %d running, %d waiting", r, w)
	}
	running, release := make(chan struct{}), make(chan struct{})
	first, _ := p.Admit()
	go func() { _ = first.Run(context.Background(), func(Hasher) { close(running); <-release }) }()
	<-running
	second, _ := p.Admit()
	if r, w := p.Load(); r != 1 || w != 1 {
		t.Errorf("busy pool: %d running, %d waiting; want 1 and 1", r, w)
	}
	close(release)
	first.Release()
	second.Release()
}
