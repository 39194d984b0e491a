package main

import (
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/internal/testkit"
)

// Access log lines reach the log whole and in order: on the periodic flush, when the
// buffer fills, and on Close.
func TestLineBuffer(t *testing.T) {
	var out testkit.Buffer
	b := newLineBuffer(&out)
	b.Write([]byte("one\n"))
	b.Write([]byte("two\n"))
	deadline := time.Now().Add(10 * time.Second)
	for out.String() != "one\ntwo\n" {
		if time.Now().After(deadline) {
			t.Fatalf("not flushed: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	big := strings.Repeat("x", logBufferSize-2) + "\n"
	b.Write([]byte("three\n"))
	b.Write([]byte(big)) // does not fit beside "three": that goes first
	b.Write([]byte("four\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "one\ntwo\nthree\n" + big + "four\n"; out.String() != want {
		t.Errorf("after Close: %d bytes, want %d, in order", len(out.String()), len(want))
	}
}
