// Package console serves jeton's admin console, a single-page app that talks only to the
// admin API. `make console` builds it from this directory's sources (Vite, Preact,
// TypeScript) into www/dist, which is git-ignored and embedded in the binary. A checkout
// that never built it embeds www/placeholder only, a committed page saying how to build
// it: go:embed needs its files at compile time, and both directories sit under www.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where the console is mounted.
const Prefix = "/console/"

//go:embed all:www
var www embed.FS

// CSP allows nothing but the console's own files and the admin API on the same origin: no
// inline script or style, no other origin, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Files are the console's files: the built app, else the placeholder page.
type Files struct {
	// Built is false when the binary carries only the placeholder page.
	Built bool
	files map[string]file
}

type file struct {
	body []byte
	etag string
	// immutable files carry a content hash in their name (Vite's assets/): cached for a
	// year; every other file (index.html) is revalidated on each load.
	immutable bool
}

// Load reads the embedded files once; serving never touches the embed.FS again.
func Load() (*Files, error) { return load(www) }

func load(root fs.FS) (*Files, error) {
	f := &Files{Built: true, files: map[string]file{}}
	dir := "www/dist"
	if _, err := fs.Stat(root, dir+"/index.html"); err != nil {
		f.Built, dir = false, "www/placeholder"
	}
	sub, err := fs.Sub(root, dir)
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		f.files[p] = file{body: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`,
			immutable: strings.HasPrefix(p, "assets/")}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	if _, ok := f.files["index.html"]; !ok {
		return nil, fmt.Errorf("console assets: no index.html in %s", dir)
	}
	return f, nil
}

// ServeHTTP serves the file under Prefix named by the request path: GET and HEAD only,
// index.html for the prefix itself, 404 for anything else.
func (f *Files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	file, ok := f.files[name]
	if !ok || path.Clean(name) != name {
		h.Set("Cache-Control", "no-cache")
		http.NotFound(w, r)
		return
	}
	if file.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", file.etag)
	// ServeContent picks the type from the name and answers If-None-Match and Range.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(file.body))
}
