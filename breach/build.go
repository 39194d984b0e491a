package breach

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/FastFilter/xorfilter"
)

// Progress hears how an import advances: Read after each chunk of input with the bytes
// read so far, Built after each shard. Either may be nil.
type Progress struct {
	Read  func(bytes int64)
	Built func(shards int)
}

// Stats is what an import did.
type Stats struct {
	Lines   int64 // input lines read
	Entries int64 // distinct keys in the filter
	Bytes   int64 // size of the filter file
}

// Import reads a Pwned Passwords SHA-1 list from r (one HEX or HEX:COUNT line per hash,
// any order, upper or lower case, blank lines ignored) and writes the filter to path,
// replacing it only once it is complete. Keys are spilled to one temporary file per shard
// under tmpDir ("" for the system's), so memory holds one shard at a time: about 30 bytes
// per entry of the largest shard, some 120 MiB for a billion lines.
func Import(r io.Reader, path, tmpDir string, p Progress) (Stats, error) {
	dir, err := os.MkdirTemp(tmpDir, "jeton-breach-")
	if err != nil {
		return Stats{}, err
	}
	defer os.RemoveAll(dir)
	var st Stats
	if st.Lines, err = spill(r, dir, p.Read); err != nil {
		return st, err
	}
	out, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-")
	if err != nil {
		return st, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	if st.Entries, st.Bytes, err = build(dir, out, p.Built); err != nil {
		return st, err
	}
	if err := out.Sync(); err != nil {
		return st, err
	}
	if err := out.Close(); err != nil {
		return st, err
	}
	return st, os.Rename(out.Name(), path)
}

func shardFile(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("%02x", i)) }

// spill parses every line and appends its 64-bit key (the hash's bytes 1..8) to the file
// of its shard (byte 0).
func spill(r io.Reader, dir string, read func(int64)) (int64, error) {
	files := make([]*os.File, shards)
	bufs := make([]*bufio.Writer, shards)
	for i := range files {
		f, err := os.Create(shardFile(dir, i))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		files[i], bufs[i] = f, bufio.NewWriterSize(f, 32<<10)
	}
	cr := &countingReader{r: r}
	sc := bufio.NewScanner(cr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var n, reported int64
	var sum [20]byte
	var key [8]byte
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		h, _, _ := bytes.Cut(line, []byte(":"))
		if len(h) != 40 {
			return n, fmt.Errorf("line %d: want 40 hex digits of a SHA-1, optionally :COUNT", n)
		}
		if _, err := hex.Decode(sum[:], h); err != nil {
			return n, fmt.Errorf("line %d: %w", n, err)
		}
		copy(key[:], sum[1:9])
		if _, err := bufs[sum[0]].Write(key[:]); err != nil {
			return n, err
		}
		if read != nil && cr.n-reported >= 4<<20 {
			reported = cr.n
			read(cr.n)
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("line %d: %w", n+1, err)
	}
	if read != nil {
		read(cr.n)
	}
	for i, b := range bufs {
		if err := b.Flush(); err != nil {
			return n, err
		}
		if err := files[i].Close(); err != nil {
			return n, err
		}
	}
	return n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// build makes each shard's filter from its spilled keys and writes the file.
func build(dir string, out *os.File, built func(int)) (entries, size int64, err error) {
	head := make([]byte, dataStart)
	var b xorfilter.BinaryFuseBuilder
	off := uint64(dataStart)
	w := bufio.NewWriterSize(out, 1<<20)
	if _, err := w.Write(head); err != nil {
		return 0, 0, err
	}
	for i := range shards {
		keys, err := readKeys(shardFile(dir, i))
		if err != nil {
			return 0, 0, err
		}
		os.Remove(shardFile(dir, i))
		// Sorting first drops duplicate lines, which the construction handles badly.
		slices.Sort(keys)
		keys = slices.Compact(keys)
		entries += int64(len(keys))
		var s shard
		if len(keys) > 0 {
			f, err := xorfilter.BuildBinaryFuse[uint8](&b, keys)
			if err != nil {
				return 0, 0, fmt.Errorf("shard %02x: %w", i, err)
			}
			s = shard{seed: f.Seed, segmentLength: f.SegmentLength, segmentLengthMask: f.SegmentLengthMask,
				segmentCount: f.SegmentCount, segmentCountLength: f.SegmentCountLength,
				offset: off, length: uint64(len(f.Fingerprints))}
			if _, err := w.Write(f.Fingerprints); err != nil {
				return 0, 0, err
			}
			off += s.length
		}
		s.put(head[headerSize+i*entrySize:])
		if built != nil {
			built(i + 1)
		}
	}
	if err := w.Flush(); err != nil {
		return 0, 0, err
	}
	putHeader(head, uint64(entries))
	if _, err := out.WriteAt(head, 0); err != nil {
		return 0, 0, err
	}
	return entries, int64(off), nil
}

func readKeys(path string) ([]uint64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw)%8 != 0 {
		return nil, errors.New("breach: truncated spill file")
	}
	keys := make([]uint64, len(raw)/8)
	for i := range keys {
		keys[i] = binary.LittleEndian.Uint64(raw[i*8:])
	}
	return keys, nil
}
