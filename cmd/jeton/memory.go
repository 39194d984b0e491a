package main

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// byteSize is a flag holding a number of bytes ("512MiB", "1GiB", "1048576"), or one of
// autoMemoryLimit and noMemoryLimit.
type byteSize int64

const (
	autoMemoryLimit byteSize = -1
	noMemoryLimit   byteSize = 0
)

func (b *byteSize) String() string {
	switch *b {
	case autoMemoryLimit:
		return "auto"
	case noMemoryLimit:
		return "off"
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(v string) error {
	switch v = strings.TrimSpace(v); v {
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

// memoryHeadroom is what "auto" allows beyond start-up's footprint and the hashing
// workers: request handling and a few thousand idle connections.
const memoryHeadroom = 16 << 20

// setMemoryLimit sets the Go runtime's soft memory limit (debug.SetMemoryLimit) from the
// flag: argon2id allocates its m KiB afresh per verification, and without a limit the
// garbage collector lets that garbage grow to twice what is live before collecting; with
// one it collects as the limit nears, which keeps a login flood's peak close to the
// workers' live memory. First it returns to the OS what start-up (migrations, the dummy
// hash) left behind; auto then allows what the runtime uses at that point, plus
// memoryHeadroom, plus 1.25 × workers × memKiB; off leaves the runtime's setting
// (GOMEMLIMIT) alone. The limit is soft: jeton never fails for it.
func setMemoryLimit(b byteSize, workers int, memKiB uint32, log *slog.Logger) {
	debug.FreeOSMemory()
	limit := int64(b)
	if b == autoMemoryLimit {
		limit = runtimeMemory() + memoryHeadroom + int64(workers)*int64(memKiB)<<10*5/4
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
		log.Info("memory limit", slog.Int64("bytes", limit), slog.Int("hash_workers", workers))
	}
}

// runtimeMemory is the memory the Go runtime holds from the OS, as its memory limit counts
// it.
func runtimeMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
