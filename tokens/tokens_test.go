package tokens

import (
	"bytes"
	"crypto/rand"
	"hash/crc32"
	"regexp"
	"testing"
)

func TestNewIsWellFormedAndUnique(t *testing.T) {
	re := regexp.MustCompile(`^jat_[0-9A-Za-z]{49}$`)
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		tok, err := New(Access, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(tok) {
			t.Fatalf("token %q does not match %s", tok, re)
		}
		if err := Check(Access, tok); err != nil {
			t.Fatalf("Check(%q) = %v", tok, err)
		}
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
}

func TestExtremesEncodeToFixedWidth(t *testing.T) {
	for _, fill := range []byte{0x00, 0xff} {
		tok, err := New(Refresh, bytes.NewReader(bytes.Repeat([]byte{fill}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != Len {
			t.Fatalf("len(%q) = %d, want %d", tok, len(tok), Len)
		}
		if err := Check(Refresh, tok); err != nil {
			t.Fatalf("Check(%q) = %v", tok, err)
		}
	}
}

func TestCheckRejects(t *testing.T) {
	good, err := New(Access, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := []struct{ name, tok string }{
		{"empty", ""},
		{"truncated", good[:Len-1]},
		{"extended", good + "0"},
		{"wrong prefix", "jrt_" + good[4:]},
		{"flipped random char", flip(10)},
		{"flipped checksum char", flip(Len - 1)},
		{"bad alphabet", good[:20] + "-" + good[21:]},
		{"non-ascii", good[:20] + "é" + good[22:]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Check(Access, c.tok); err != ErrMalformed {
				t.Fatalf("Check(%q) = %v, want ErrMalformed", c.tok, err)
			}
		})
	}
}

func TestHashIsSHA256OfWholeString(t *testing.T) {
	// echo -n jat_x | sha256sum
	if got, want := HashOf("jat_x").Hex(), "fb12944fdf8ba23d6b27a33514bfb3f2d350d63a0c8de6afa0935b403e6cc76a"; got != want {
		t.Fatalf("HashOf(jat_x).Hex() = %s, want %s", got, want)
	}
}

func TestKindOf(t *testing.T) {
	for _, k := range []Kind{Access, Refresh, ClientSecret, AdminKey} {
		tok, _ := New(k, rand.Reader)
		if got := KindOf(tok); got != k {
			t.Fatalf("KindOf(%q) = %q, want %q", tok, got, k)
		}
	}
	if got := KindOf("jat_nope"); got != "" {
		t.Fatalf("KindOf(malformed) = %q", got)
	}
}

func FuzzCheck(f *testing.F) {
	good, _ := New(Access, rand.Reader)
	f.Add(good)
	f.Add("")
	f.Add("jat_" + string(make([]byte, 49)))
	f.Fuzz(func(t *testing.T, s string) {
		if Check(Access, s) == nil && (len(s) != Len || s[:4] != "jat_") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzChecksum: the allocation-free checksum Check uses is crc32.ChecksumIEEE, which New
// uses.
func FuzzChecksum(f *testing.F) {
	f.Add("")
	f.Add("0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := checksum(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Fatalf("checksum(%q) = %08x, want %08x", s, got, want)
		}
	})
}
