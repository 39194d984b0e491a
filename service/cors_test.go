package service

import (
	"context"
	"errors"
	"testing"

	"github.com/jeton-auth/jeton/internal/testkit"
)

// RFC 6454 §6.2 as browsers serialise it: what a client may list is exactly what can
// arrive in an Origin header.
func TestValidOrigin(t *testing.T) {
	tests := []struct {
		name, origin string
		ok           bool
	}{
		{"https", "https://app.example", true},
		{"http with port", "http://127.0.0.1:5173", true},
		{"subdomain and hyphen", "https://my-app.eu.example.com", true},
		{"punycode", "https://xn--bcher-kva.example", true},
		{"IPv6", "http://[::1]:8000", true},
		{"highest port", "https://app.example:65535", true},
		{"trailing slash", "https://app.example/", false},
		{"path", "https://app.example/app", false},
		{"query", "https://app.example?x", false},
		{"fragment", "https://app.example#x", false},
		{"userinfo", "https://me@app.example", false},
		{"uppercase host", "https://App.example", false},
		{"uppercase scheme", "HTTPS://app.example", false},
		{"default https port", "https://app.example:443", false},
		{"default http port", "http://app.example:80", false},
		{"port zero", "https://app.example:0", false},
		{"port too high", "https://app.example:65536", false},
		{"port with leading zero", "https://app.example:08080", false},
		{"empty port", "https://app.example:", false},
		{"other scheme", "ftp://app.example", false},
		{"no scheme", "app.example", false},
		{"wildcard", "*", false},
		{"wildcard host", "https://*.example", false},
		{"opaque", "null", false},
		{"empty", "", false},
		{"non-ASCII host", "https://bücher.example", false},
		{"IPv6 not shortest", "http://[0:0:0:0:0:0:0:1]:8000", false},
		{"IPv6 zone", "http://[fe80::1%25eth0]", false},
		{"IPv4 shorthand", "http://127.1", false},
		{"trailing dot", "https://app.example.", false},
		{"space", "https://app .example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidOrigin("allowed_origins", tt.origin)
			if (err == nil) != tt.ok {
				t.Errorf("ValidOrigin(%q) = %v, want ok %v", tt.origin, err, tt.ok)
			}
		})
	}
}

// A client's origins are validated: exactly what a browser sends in Origin, or never
// matched.
func TestCORSOriginsValidated(t *testing.T) {
	e := newEnv(t, nil)
	for _, origins := range [][]string{
		{"https://spa.example/"},
		{"*"},
		{"null"},
		{"https://SPA.example"},
		{"https://spa.example:443"},
		{"ftp://spa.example"},
		{"https://spa.example", "https://spa.example"},
	} {
		_, _, err := e.svc.CreateClient(context.Background(), testkit.Actor, "a", ClientSpec{Name: "spa", AllowedOrigins: origins})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "allowed_origins" {
			t.Errorf("origins %q: %v, want a ValidationError on allowed_origins", origins, err)
		}
	}
}
