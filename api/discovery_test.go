package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/api"
)

// getMetadata fetches and decodes the RFC 8414 document at base+path, failing on anything
// but a 200 JSON object.
func getMetadata(t *testing.T, c *http.Client, base, path string) map[string]any {
	t.Helper()
	resp, err := c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return m
}

// RFC 8414 §2, §3.2: the document parses, has no empty arrays, names the configured issuer,
// and its endpoints answer.
func TestDiscoveryDocument(t *testing.T) {
	e := newEnv(t)
	m := getMetadata(t, e.srv.Client(), e.srv.URL, "/.well-known/oauth-authorization-server")

	if m["issuer"] != issuer {
		t.Errorf("issuer %v, want %s", m["issuer"], issuer)
	}
	for k, v := range m {
		if arr, ok := v.([]any); ok && len(arr) == 0 {
			t.Errorf("%s is an empty array", k)
		}
	}
	for _, absent := range []string{"scopes_supported", "authorization_endpoint"} {
		if _, ok := m[absent]; ok {
			t.Errorf("document has %s: %v", absent, m[absent])
		}
	}
	want := map[string][]any{
		"grant_types_supported": {"password", "refresh_token", "client_credentials",
			"urn:jeton:params:oauth:grant-type:mfa-otp", "urn:jeton:params:oauth:grant-type:mfa-recovery-code",
			"http://auth0.com/oauth/grant-type/mfa-otp", "http://auth0.com/oauth/grant-type/mfa-recovery-code",
			"authorization_code"},
		"response_types_supported":                      {"code"},
		"code_challenge_methods_supported":              {"S256"},
		"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post", "none"},
	}
	for k, v := range want {
		if diff := cmp.Diff(v, m[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}

	// Each endpoint lives under the issuer and answers a request without client
	// authentication with 401, not 404.
	for _, k := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint", "authorization_challenge_endpoint"} {
		t.Run(k, func(t *testing.T) {
			endpoint := str(m, k)
			path, ok := strings.CutPrefix(endpoint, issuer)
			if !ok || !strings.HasPrefix(path, "/") {
				t.Fatalf("%s = %q, not under the issuer %s", k, endpoint, issuer)
			}
			r := e.post(path, nil, url.Values{"grant_type": {"client_credentials"}, "token": {"jat_x"}})
			expectOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		})
	}
}

// RFC 8414 §3: for an issuer with a path the document is also served with the well-known
// segment inserted before the path, and its endpoints keep the path.
func TestDiscoveryIssuerWithPath(t *testing.T) {
	e := newEnv(t)
	const withPath = "https://auth.example.com/tenants/x"
	h, err := api.NewServer(api.Config{Issuer: withPath}, e.svc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(validating(t, h))
	t.Cleanup(srv.Close)
	for _, path := range []string{"/.well-known/oauth-authorization-server/tenants/x", "/.well-known/oauth-authorization-server"} {
		m := getMetadata(t, srv.Client(), srv.URL, path)
		if m["issuer"] != withPath || m["token_endpoint"] != withPath+"/token" {
			t.Errorf("GET %s: issuer %v, token_endpoint %v", path, m["issuer"], m["token_endpoint"])
		}
	}
}
