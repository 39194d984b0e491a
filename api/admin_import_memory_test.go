package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// usersReader generates an import of n users, each line about 1.5 KiB (a salted digest
// with a long salt), without holding it: the body exists only as it is read. It samples
// the Go heap every 256 KiB it hands out.
type usersReader struct {
	n, i     int
	buf      []byte
	read     int64
	peakHeap uint64
}

func (r *usersReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.i == r.n {
			return 0, io.EOF
		}
		salt := strings.Repeat(fmt.Sprintf("%06x", r.i), 250)
		r.buf = fmt.Appendf(nil, `{"username":"bulk%07d","password_hash":{"algorithm":"md5","hash":"900150983cd24fb0d6963f7d28e17f72","salt":%q,"salt_encoding":"hex","position":"prefix","encoding":"hex"}}`+"\n",
			r.i, salt)
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	before := r.read
	r.read += int64(n)
	if before>>18 != r.read>>18 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		r.peakHeap = max(r.peakHeap, ms.HeapInuse)
	}
	return n, nil
}

// An import far larger than the memory it may take is streamed: the Go heap (client,
// server and database driver together, in this test process) stays far below the body's
// size from start to end.
func TestImportMemoryStaysFlat(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("a")
	key := e.mustAdminKey("")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	body := &usersReader{n: 60_000}
	req, err := http.NewRequest("POST", e.srv.URL+tenantPath("a", "users", "import"), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	r := e.do(req)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil || m["imported"] != float64(body.n) {
		t.Fatalf("summary %s", r.Body)
	}
	grew := int64(body.peakHeap) - int64(base)
	t.Logf("body %d MiB; heap in use %d MiB before, at most %d MiB during (%+d MiB)",
		body.read>>20, base>>20, body.peakHeap>>20, grew>>20)
	if body.read < 90<<20 {
		t.Fatalf("the body is only %d bytes", body.read)
	}
	// Garbage the collector has not reclaimed yet counts too (GOGC lets the heap reach
	// twice what is live), so the bound is half the body, not a tight figure.
	if grew > body.read/2 {
		t.Errorf("the heap grew by %d MiB for a %d MiB import: the body is not streamed", grew>>20, body.read>>20)
	}
}
