package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// byteSize is a flag holding a number of bytes ("512MiB", "1GiB", "1048576"), or one of
// autoMemoryLimit and noMemoryLimit ("auto", "off").
type byteSize int64

const (
	autoMemoryLimit byteSize = -1
	noMemoryLimit   byteSize = 0
)

// UnmarshalText reads a size, "auto" or "off" (also "0").
func (b *byteSize) UnmarshalText(text []byte) error {
	v := strings.TrimSpace(string(text))
	switch v {
	case "auto":
		*b = autoMemoryLimit
		return nil
	case "off", "0":
		*b = noMemoryLimit
		return nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return fmt.Errorf("not a size: %q (use e.g. 512MiB, 2GiB, auto or off)", v)
	}
	*b = byteSize(n * mult)
	return nil
}

// memoryHeadroom is what "auto" allows beyond start-up's footprint, the hashing workers
// and the open connections: request handling.
const memoryHeadroom = 32 << 20

// connMemory is what "auto" allows per open client connection: an idle one's goroutine
// stack and buffers take about 20 KiB (the bench measures it), one whose request is being
// answered, or held (a refused login), more. With less, a thousand held refusals kept the
// collector running several times a second, scanning their stacks, in make bench's flood.
const connMemory = 64 << 10

// hashMemoryFactor is how many times a worker's m KiB "auto" allows when the workers hash
// in this process (--hash-processes=false): argon2id (x/crypto)
// allocates its m afresh per verification, so a busy worker holds the block it is
// filling and, until the next collection, the one it dropped. A tighter limit makes the
// runtime hand the dropped block back to the OS and fault a new one in for every hash:
// measured with make bench, that cut the password grant's throughput by a fifth.
const hashMemoryFactor = 2.5

// setMemoryLimit sets the Go runtime's soft memory limit (debug.SetMemoryLimit) from the
// flag: without a limit the garbage collector lets argon2id's garbage grow to twice what
// is live before collecting; with one it collects as the limit nears, which keeps a login
// flood's peak bounded by the workers, not by the number of logins. First it returns to
// the OS what start-up (migrations, the dummy hash) left behind. "auto" allows what the
// runtime uses at that point, plus memoryHeadroom, plus hashMemoryFactor × workers ×
// memKiB (workers: those hashing in this process, none with hashing processes), plus
// connMemory for each connection open (conns; nil counts none), and follows
// the connections until ctx ends: a limit below what is live would make the collector run
// without pause. "off" leaves the runtime's setting (GOMEMLIMIT) alone. The limit is soft:
// jeton never fails for it.
func setMemoryLimit(ctx context.Context, b byteSize, workers int, memKiB uint32, conns func() int, log *slog.Logger) {
	debug.FreeOSMemory()
	switch b {
	case noMemoryLimit:
		return
	case autoMemoryLimit:
	default:
		debug.SetMemoryLimit(int64(b))
		log.Info("memory limit", slog.Int64("bytes", int64(b)), slog.Int("hash_workers", workers))
		return
	}
	base := runtimeMemory() + memoryHeadroom + int64(hashMemoryFactor*float64(workers)*float64(memKiB)*1024)
	limit := func() int64 {
		if conns == nil {
			return base
		}
		return base + int64(conns())*connMemory
	}
	debug.SetMemoryLimit(limit())
	log.Info("memory limit", slog.Int64("bytes", limit()), slog.Int("hash_workers", workers), slog.Bool("follows_connections", conns != nil))
	if conns == nil {
		return
	}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				debug.SetMemoryLimit(limit())
			}
		}
	}()
}

// runtimeMemory is the memory the Go runtime holds from the OS, as its memory limit counts
// it.
func runtimeMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
