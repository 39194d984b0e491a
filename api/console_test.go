package api_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/console"
)

// The console is mounted at /console/ when configured, and absent otherwise. Its answers
// are not API operations, so this server is not wrapped in the OpenAPI validator.
func TestConsoleMounted(t *testing.T) {
	e := newEnv(t)
	files, err := console.Load()
	if err != nil {
		t.Fatal(err)
	}
	on, err := api.NewServer(api.Config{Issuer: issuer, Console: files}, e.svc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	off, err := api.NewServer(api.Config{Issuer: issuer}, e.svc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srvOn, srvOff := httptest.NewServer(on), httptest.NewServer(off)
	defer srvOn.Close()
	defer srvOff.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		name, method, url string
		status            int
		csp               bool
	}{
		{"index", "GET", srvOn.URL + "/console/", http.StatusOK, true},
		{"index, HEAD", "HEAD", srvOn.URL + "/console/", http.StatusOK, true},
		{"no trailing slash", "GET", srvOn.URL + "/console", http.StatusMovedPermanently, false},
		{"unknown file", "GET", srvOn.URL + "/console/nope.js", http.StatusNotFound, true},
		{"POST", "POST", srvOn.URL + "/console/", http.StatusMethodNotAllowed, false},
		{"the API beside it", "GET", srvOn.URL + "/healthz", http.StatusOK, false},
		{"off", "GET", srvOff.URL + "/console/", http.StatusNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != tt.status {
				t.Errorf("status %d, want %d", r.StatusCode, tt.status)
			}
			if got := r.Header.Get("Content-Security-Policy"); (got == console.CSP) != tt.csp {
				t.Errorf("CSP %q, want it: %v", got, tt.csp)
			}
			if tt.status == http.StatusMovedPermanently && r.Header.Get("Location") != "/console/" {
				t.Errorf("Location %q", r.Header.Get("Location"))
			}
		})
	}
}
