package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, f *Files, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	return w
}

func TestBuiltAssets(t *testing.T) {
	f, err := load(fstest.MapFS{
		"www/placeholder/index.html":      {Data: []byte("placeholder")},
		"www/dist/index.html":             {Data: []byte("<!doctype html><script type=module src=/console/assets/index-abc123.js></script>")},
		"www/dist/assets/index-abc123.js": {Data: []byte("console.log(1)")},
		"www/dist/favicon.svg":            {Data: []byte("<svg/>")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Built {
		t.Fatal("Built is false with www/dist present")
	}
	tests := []struct {
		name, method, path       string
		status                   int
		cache, contentType, body string
	}{
		{"index", "GET", "/console/", 200, "no-cache", "text/html; charset=utf-8", "<!doctype html>"},
		{"index by name", "GET", "/console/index.html", 200, "no-cache", "text/html; charset=utf-8", "<!doctype html>"},
		{"hashed asset", "GET", "/console/assets/index-abc123.js", 200, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8", "console.log"},
		{"other file", "HEAD", "/console/favicon.svg", 200, "no-cache", "image/svg+xml", ""},
		{"unknown", "GET", "/console/nope.js", 404, "no-cache", "text/plain; charset=utf-8", "404"},
		{"traversal", "GET", "/console/assets/../index.html", 404, "no-cache", "text/plain; charset=utf-8", "404"},
		{"method", "POST", "/console/", 405, "", "text/plain; charset=utf-8", "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, f, tt.method, tt.path, nil)
			h := w.Result().Header
			if w.Code != tt.status || h.Get("Cache-Control") != tt.cache || h.Get("Content-Type") != tt.contentType ||
				!strings.HasPrefix(w.Body.String(), tt.body) {
				t.Errorf("%d %q %q %q", w.Code, h.Get("Cache-Control"), h.Get("Content-Type"), w.Body.String())
			}
			if h.Get("Content-Security-Policy") != CSP || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("CSP %q, nosniff %q", h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"))
			}
		})
	}
	etag := serve(t, f, "GET", "/console/", nil).Result().Header.Get("ETag")
	if w := serve(t, f, "GET", "/console/", http.Header{"If-None-Match": {etag}}); etag == "" || w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %q: %d", etag, w.Code)
	}
}

func TestPlaceholder(t *testing.T) {
	f, err := load(fstest.MapFS{"www/placeholder/index.html": {Data: []byte("build it with make console")}})
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(t, f, "GET", "/console/", nil); f.Built || w.Code != 200 || w.Body.String() != "build it with make console" {
		t.Errorf("built %v: %d %q", f.Built, w.Code, w.Body.String())
	}
}

// The embedded files load, built or not, and the CSP forbids what the issue forbids.
func TestEmbedded(t *testing.T) {
	f, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(t, f, "GET", "/console/", nil); w.Code != 200 {
		t.Errorf("index: %d", w.Code)
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP %q lacks %q", CSP, want)
		}
	}
	if strings.Contains(CSP, "unsafe") || strings.Contains(CSP, "http") {
		t.Errorf("CSP %q allows inline code or another origin", CSP)
	}
}

// BenchmarkLoad is what the console adds to jeton serve's start-up: reading and hashing
// the embedded files once.
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}
