package breach

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// listed are passwords the synthetic list names, as Pwned Passwords would.
var listed = []string{"correct horse battery staple", "Tr0ub4dor&3", "hunter2hunter2", "пароль-пароль"}

// synthetic writes a Pwned Passwords style list: n random SHA-1 lines plus the hashes of
// pw, shuffled, with counts, mixed case, CRLF line ends and a duplicate.
func synthetic(t testing.TB, n int, pw []string) []byte {
	t.Helper()
	r := rand.New(rand.NewChaCha8([32]byte{7}))
	var lines []string
	var sum [20]byte
	for range n {
		for i := range sum {
			sum[i] = byte(r.Uint32())
		}
		lines = append(lines, fmt.Sprintf("%X:%d", sum, 1+r.IntN(1000)))
	}
	for _, p := range pw {
		lines = append(lines, fmt.Sprintf("%X:%d", sha1.Sum([]byte(p)), 3))
	}
	lines = append(lines, strings.ToLower(fmt.Sprintf("%x", sha1.Sum([]byte(pw[0])))))
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

func mustImport(t testing.TB, list []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "breached.jbf")
	var built int
	st, err := Import(bytes.NewReader(list), path, t.TempDir(), Progress{Built: func(n int) { built = n }})
	if err != nil {
		t.Fatal(err)
	}
	if built != shards {
		t.Errorf("progress saw %d shards built, want %d", built, shards)
	}
	fi, _ := os.Stat(path)
	if st.Bytes != fi.Size() {
		t.Errorf("Stats.Bytes = %d, file is %d", st.Bytes, fi.Size())
	}
	return path
}

func TestSyntheticList(t *testing.T) {
	const n = 1_000_000
	path := mustImport(t, synthetic(t, n, listed))
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.Entries(), uint64(n+len(listed)); got != want {
		t.Errorf("Entries = %d, want %d (the duplicate counted once)", got, want)
	}
	// Shards of 4,000 keys need a larger size factor than the 1.13 of a billion entries.
	if fi, _ := os.Stat(path); float64(fi.Size())/float64(n) > 1.4 {
		t.Errorf("file is %.2f bytes per entry, want at most 1.4", float64(fi.Size())/float64(n))
	}
	for _, p := range listed {
		if !f.Contains(p) {
			t.Errorf("Contains(%q) = false for a listed password", p)
		}
	}
	const probes = 100_000
	hits := 0
	for i := range probes {
		if f.Contains(fmt.Sprintf("unlisted password %d", i)) {
			hits++
		}
	}
	rate := float64(hits) / probes
	t.Logf("false positives: %d of %d unlisted passwords (%.3f%%)", hits, probes, 100*rate)
	if rate >= 0.005 {
		t.Errorf("false-positive rate %.3f%%, want below 0.5%%", 100*rate)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "breached.jbf")
	importTo := func(pw ...string) {
		t.Helper()
		if _, err := Import(bytes.NewReader(synthetic(t, 1000, pw)), path, dir, Progress{}); err != nil {
			t.Fatal(err)
		}
	}
	importTo("first listed password")
	l, err := OpenList(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.Contains("first listed password") || l.Contains("second listed password") {
		t.Fatal("first list not as built")
	}
	importTo("second listed password")
	if !l.Contains("first listed password") {
		t.Error("the mapped filter changed before Reload")
	}
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if l.Contains("first listed password") || !l.Contains("second listed password") {
		t.Error("after Reload the list is not the new file's")
	}
	// A broken file leaves the working filter in place. It is renamed into place, as an
	// import does: truncating a mapped file would fault its readers.
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(garbage, path); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(); !errors.Is(err, ErrFormat) {
		t.Errorf("Reload of garbage = %v, want ErrFormat", err)
	}
	if !l.Contains("second listed password") {
		t.Error("a failed Reload dropped the working filter")
	}
}

func TestImportRefusesBadLines(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"short", "ABC:1\n", "line 1: want 40 hex digits"},
		{"not hex", strings.Repeat("Z", 40) + ":1\n", "line 1: encoding/hex"},
		{"second line", strings.Repeat("A", 40) + ":1\nnope\n", "line 2:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			_, err := Import(strings.NewReader(tc.in), path, t.TempDir(), Progress{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Error("a failed import left a file")
			}
		})
	}
}

func TestOpenRefusesCorruptDirectory(t *testing.T) {
	path := mustImport(t, synthetic(t, 1000, listed))
	b, _ := os.ReadFile(path)
	b[headerSize+39] = 0x7f // shard 0's length past the file
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, b, 0o600)
	if _, err := Open(bad); !errors.Is(err, ErrFormat) {
		t.Errorf("Open = %v, want ErrFormat", err)
	}
}

func BenchmarkImport(b *testing.B) {
	list := synthetic(b, 1_000_000, listed)
	b.ResetTimer()
	for range b.N {
		mustImport(b, list)
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkContains(b *testing.B) {
	f, err := Open(mustImport(b, synthetic(b, 1_000_000, listed)))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ResetTimer()
	for i := range b.N {
		f.Contains(listed[i%len(listed)])
	}
}
