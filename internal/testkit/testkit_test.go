package testkit_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/internal/testkit"
)

func TestClock(t *testing.T) {
	c := testkit.NewClock(testkit.Start)
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(testkit.Start.Add(time.Hour)) {
		t.Fatalf("after Advance: %v", got)
	}
	c.Set(testkit.Start.Add(-time.Minute))
	if got := c.Now(); !got.Equal(testkit.Start.Add(-time.Minute)) {
		t.Fatalf("after Set: %v", got)
	}
}

// Concurrent writes all land, whole; run with -race to check the locking.
func TestBufferConcurrentWrites(t *testing.T) {
	var b testkit.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("line\n"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != 800 {
		t.Fatalf("%d lines, want 800", got)
	}
	b.Logger().Debug("hello", "k", "v")
	if !strings.Contains(b.String(), "level=DEBUG msg=hello k=v") {
		t.Fatalf("the logger wrote %q", b.String()[len(b.String())-40:])
	}
}
