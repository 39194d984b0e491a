package breach

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/FastFilter/xorfilter"
	"golang.org/x/sys/unix"
)

// Filter is a breach filter file mapped into memory: the pages are the kernel's page
// cache, shared by every process that maps the same file.
type Filter struct {
	data    []byte
	filters []xorfilter.BinaryFuse[uint8] // Fingerprints point into data; nil for an empty shard
	entries uint64
}

// Open maps the filter file at path read-only. It returns ErrFormat for a file that is not
// one.
func Open(path string) (*Filter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < dataStart {
		return nil, fmt.Errorf("%s: %w", path, ErrFormat)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	dir, entries, err := parse(data)
	if err != nil {
		unix.Munmap(data)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	bf := &Filter{data: data, filters: make([]xorfilter.BinaryFuse[uint8], shards), entries: entries}
	for i, s := range dir {
		if s.length == 0 {
			continue
		}
		bf.filters[i] = xorfilter.BinaryFuse[uint8]{Seed: s.seed, SegmentLength: s.segmentLength,
			SegmentLengthMask: s.segmentLengthMask, SegmentCount: s.segmentCount,
			SegmentCountLength: s.segmentCountLength, Fingerprints: data[s.offset : s.offset+s.length]}
	}
	return bf, nil
}

// Entries returns how many distinct hashes the filter was built from.
func (f *Filter) Entries() uint64 { return f.entries }

// ContainsSHA1 reports whether the SHA-1 sum is (probably) in the list.
func (f *Filter) ContainsSHA1(sum [sha1.Size]byte) bool {
	s := &f.filters[sum[0]]
	if s.Fingerprints == nil {
		return false
	}
	return s.Contains(binary.LittleEndian.Uint64(sum[1:9]))
}

// Contains reports whether the password, as typed, is (probably) in the list: Pwned
// Passwords hashes the password's UTF-8 bytes without normalisation.
func (f *Filter) Contains(pw string) bool { return f.ContainsSHA1(sha1.Sum([]byte(pw))) }

// Close unmaps the file. The filter must not be used afterwards.
func (f *Filter) Close() error {
	f.filters = nil
	return unix.Munmap(f.data)
}

// List is the breach filter a server checks passwords against, replaced in place by
// Reload (on SIGHUP) without a lookup ever reading an unmapped page. A new file must be
// renamed into place (as Import does), never written over the mapped one: truncating a
// mapped file faults the processes reading it.
type List struct {
	path string
	mu   sync.RWMutex
	f    *Filter
}

// OpenList opens the filter at path.
func OpenList(path string) (*List, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	return &List{path: path, f: f}, nil
}

// Reload maps the file at the list's path again (an import renames a new file into
// place) and unmaps the previous one. On error the previous filter stays in use.
func (l *List) Reload() error {
	f, err := Open(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Contains reports whether pw is (probably) in the current filter.
func (l *List) Contains(pw string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.f.Contains(pw)
}

// Entries returns the current filter's entry count.
func (l *List) Entries() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.f.entries
}

// Close unmaps the current filter.
func (l *List) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
