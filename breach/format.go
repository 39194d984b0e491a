// Package breach builds and reads jeton's offline breached-password filter: the SHA-1
// hashes of a Pwned Passwords list in binary fuse filters (8-bit fingerprints, so about
// 1.13 bytes per entry and a false-positive rate near 1/256), one per first byte of the
// hash, in one file that every instance memory-maps.
//
// File layout, little endian: a 32-byte header (magic "JETONBRF", version, shard count,
// total entries, reserved), one 40-byte directory entry per shard (the filter's seed,
// segment length, mask, count and count×length, the fingerprints' offset and length),
// then the fingerprints of every shard.
package breach

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	magic      = "JETONBRF"
	version    = 1
	shards     = 256 // by the hash's first byte
	headerSize = 32
	entrySize  = 40
	dataStart  = headerSize + shards*entrySize
)

// ErrFormat is returned for a file that is not a breach filter jeton can read.
var ErrFormat = errors.New("not a jeton breach filter file")

// shard is one binary fuse filter's parameters and where its fingerprints lie in the file.
type shard struct {
	seed               uint64
	segmentLength      uint32
	segmentLengthMask  uint32
	segmentCount       uint32
	segmentCountLength uint32
	offset, length     uint64
}

func putHeader(b []byte, entries uint64) {
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[8:], version)
	binary.LittleEndian.PutUint32(b[12:], shards)
	binary.LittleEndian.PutUint64(b[16:], entries)
}

func (s shard) put(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], s.seed)
	binary.LittleEndian.PutUint32(b[8:], s.segmentLength)
	binary.LittleEndian.PutUint32(b[12:], s.segmentLengthMask)
	binary.LittleEndian.PutUint32(b[16:], s.segmentCount)
	binary.LittleEndian.PutUint32(b[20:], s.segmentCountLength)
	binary.LittleEndian.PutUint64(b[24:], s.offset)
	binary.LittleEndian.PutUint64(b[32:], s.length)
}

// parse checks the header and directory of a mapped file and returns its shards and the
// number of entries it was built from.
func parse(b []byte) ([]shard, uint64, error) {
	if len(b) < dataStart || string(b[:8]) != magic {
		return nil, 0, ErrFormat
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != version {
		return nil, 0, fmt.Errorf("%w: version %d", ErrFormat, v)
	}
	if n := binary.LittleEndian.Uint32(b[12:]); n != shards {
		return nil, 0, fmt.Errorf("%w: %d shards", ErrFormat, n)
	}
	entries := binary.LittleEndian.Uint64(b[16:])
	out := make([]shard, shards)
	for i := range out {
		e := b[headerSize+i*entrySize:]
		s := shard{
			seed:               binary.LittleEndian.Uint64(e[0:]),
			segmentLength:      binary.LittleEndian.Uint32(e[8:]),
			segmentLengthMask:  binary.LittleEndian.Uint32(e[12:]),
			segmentCount:       binary.LittleEndian.Uint32(e[16:]),
			segmentCountLength: binary.LittleEndian.Uint32(e[20:]),
			offset:             binary.LittleEndian.Uint64(e[24:]),
			length:             binary.LittleEndian.Uint64(e[32:]),
		}
		// Contains reads below segmentCountLength + 2×segmentLength, within a segment
		// whose length is a power of two.
		if s.length > 0 && (s.offset < dataStart || s.offset > uint64(len(b)) || s.length > uint64(len(b))-s.offset ||
			uint64(s.segmentCountLength)+2*uint64(s.segmentLength) > s.length ||
			s.segmentLength == 0 || s.segmentLength&s.segmentLengthMask != 0 || s.segmentLengthMask != s.segmentLength-1) {
			return nil, 0, fmt.Errorf("%w: shard %d out of bounds", ErrFormat, i)
		}
		out[i] = s
	}
	return out, entries, nil
}
