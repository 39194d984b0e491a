package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// RFC 6749 §3.2, RFC 7662 §4, RFC 7009 §2: only POST, 405 with Allow otherwise,
// and nothing in the query string is ever acted on.
func TestOtherMethodsNotAllowed(t *testing.T) {
	w := newWorld(t)
	creds := "?" + url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword},
		"client_id": {w.app.ID}, "client_secret": {w.app.Secret}}.Encode()
	tests := []struct{ method, target string }{
		{http.MethodGet, "/token"},
		{http.MethodGet, "/token" + creds},
		{http.MethodGet, "/introspect"},
		{http.MethodGet, "/introspect?token=jat_x"},
		{http.MethodPut, "/revoke"},
		{http.MethodDelete, "/token"},
		{http.MethodPatch, "/introspect"},
		{http.MethodHead, "/revoke"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			h := headers("Content-Type", formType, "Authorization", basic(w.app.ID, w.app.Secret))
			r := w.send(tt.method, tt.target, h, passwordForm().Encode())
			if r.Status != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405; body %s", r.Status, r.Body)
			}
			// OPTIONS answers CORS preflights (api/cors.go).
			if got := r.Header.Get("Allow"); got != "POST, OPTIONS" {
				t.Errorf("Allow = %q, want POST, OPTIONS", got)
			}
			if strings.Contains(string(r.Body), "access_token") {
				t.Errorf("body %s", r.Body)
			}
		})
	}
	t.Run("health endpoints allow GET", func(t *testing.T) {
		r := w.send(http.MethodPost, "/healthz", nil, "")
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != http.MethodGet {
			t.Errorf("POST /healthz: %d, Allow %q", r.Status, r.Header.Get("Allow"))
		}
	})
}

// RFC 6749 §2.3.1, RFC 6750 §2.3: credentials, tokens and grant parameters are read from
// the body only.
func TestQueryStringIgnored(t *testing.T) {
	w := newWorld(t)
	at := w.mustLogin()
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "?" + v.Encode()
	}
	tests := []struct {
		name   string
		target string
		as     *client
		form   url.Values
		status int
		code   string
	}{
		{"token client credentials", "/token" + q("client_id", w.app.ID, "client_secret", w.app.Secret), nil, passwordForm(), 401, "invalid_client"},
		{"token grant parameters", "/token" + q("grant_type", "password", "username", "alice", "password", testkit.AlicePassword), &w.app, url.Values{}, 400, "invalid_request"},
		{"token password", "/token" + q("password", testkit.AlicePassword), &w.app, url.Values{"grant_type": {"password"}, "username": {"alice"}}, 400, "invalid_request"},
		{"introspect client credentials", "/introspect" + q("client_id", w.rs.ID, "client_secret", w.rs.Secret), nil, url.Values{"token": {at}}, 401, "invalid_client"},
		{"introspect token", "/introspect" + q("token", at), &w.rs, url.Values{}, 400, "invalid_request"},
		{"introspect access_token", "/introspect" + q("access_token", w.rs.Secret), nil, url.Values{"token": {at}}, 401, "invalid_client"},
		{"revoke client credentials", "/revoke" + q("client_id", w.app.ID, "client_secret", w.app.Secret), nil, url.Values{"token": {at}}, 401, "invalid_client"},
		{"revoke token", "/revoke" + q("token", at), &w.app, url.Values{}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers("Content-Type", formType)
			if tt.as != nil {
				h.Set("Authorization", basic(tt.as.ID, tt.as.Secret))
			}
			wantError(t, w.send(http.MethodPost, tt.target, h, tt.form.Encode()), tt.status, tt.code)
		})
	}
	if in := w.introspect(w.rs, at); in["active"] != true {
		t.Errorf("the token in the query string was revoked: %v", in)
	}
}

// RFC 6749 §10.14: hostile input is a 4xx RFC 6749 §5.2 error (or an inactive
// token), never a 500 and never internals.
func TestHostileInputNeverServerError(t *testing.T) {
	w := newWorld(t)
	at := w.mustLogin()
	app := basic(w.app.ID, w.app.Secret)
	rs := basic(w.rs.ID, w.rs.Secret)
	b64 := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	login := func(extra ...string) string { return passwordForm(extra...).Encode() }
	sqlish := []string{`alice' OR '1'='1`, `alice'--`, `'; SELECT pg_sleep(5)--`, `\x00`, `%`, `$1`}
	type req struct {
		name, path, auth, body string
	}
	var tests []req
	for _, s := range sqlish {
		tests = append(tests,
			req{"token username " + s, "/token", app, login("username", s)},
			req{"token password " + s, "/token", app, login("password", s)},
			req{"token scope " + s, "/token", app, login("scope", s)},
			req{"token grant_type " + s, "/token", app, login("grant_type", s)},
			req{"token form client_id " + s, "/token", "", login("client_id", s)},
			req{"token form client_secret " + s, "/token", "", login("client_id", w.app.ID, "client_secret", s)},
			req{"token basic client_id " + s, "/token", basic(s, w.app.Secret), login()},
			req{"token basic secret " + s, "/token", basic(w.app.ID, s), login()},
			req{"introspect token " + s, "/introspect", rs, url.Values{"token": {s}}.Encode()},
			req{"introspect hint " + s, "/introspect", rs, url.Values{"token": {at}, "token_type_hint": {s}}.Encode()},
			req{"revoke token " + s, "/revoke", app, url.Values{"token": {s}}.Encode()},
			req{"revoke hint " + s, "/revoke", app, url.Values{"token": {"x"}, "token_type_hint": {s}}.Encode()},
		)
	}
	tests = append(tests,
		req{"basic client_id with NUL", "/token", b64("jc_a%00b:" + w.app.Secret), login()},
		req{"basic client_id raw NUL", "/token", b64("jc_a\x00b:" + w.app.Secret), login()},
		req{"basic client_id invalid UTF-8", "/token", b64("jc_%C3%28:" + w.app.Secret), login()},
		req{"basic client_id raw invalid UTF-8", "/token", b64("jc_\xff\xfe:" + w.app.Secret), login()},
		req{"basic secret with NUL", "/token", b64(w.app.ID + ":%00"), login()},
		req{"basic secret invalid UTF-8", "/token", b64(w.app.ID + ":\xff"), login()},
		req{"basic client_id bad escape", "/token", b64("jc_%zz:" + w.app.Secret), login()},
		req{"basic client_id CR LF", "/token", b64("jc_a%0D%0AX-Injected: 1:" + w.app.Secret), login()},
		req{"basic client_id 8 KiB", "/token", basic(strings.Repeat("j", 8<<10), w.app.Secret), login()},
		req{"basic only the scheme", "/token", "Basic", login()},
		req{"basic empty", "/token", "Basic ", login()},
		req{"basic colon only", "/token", b64(":"), login()},
		req{"introspect basic client_id with NUL", "/introspect", b64("jc_a%00b:" + w.rs.Secret), url.Values{"token": {at}}.Encode()},
		req{"introspect basic client_id invalid UTF-8", "/introspect", b64("jc_\xff:" + w.rs.Secret), url.Values{"token": {at}}.Encode()},
		req{"revoke basic client_id with NUL", "/revoke", b64("jc_a%00b:x"), url.Values{"token": {at}}.Encode()},
		req{"revoke basic client_id invalid UTF-8", "/revoke", b64("jc_%ff:x"), url.Values{"token": {at}}.Encode()},
		req{"username of 256 four-byte characters", "/token", app, login("username", strings.Repeat("𝒜", 256))},
		req{"username with a control character", "/token", app, login("username", "al\x01ice")},
		req{"password with CR LF", "/token", app, login("password", "a\r\nb")},
		req{"password of 64 KiB minus the rest", "/token", app, login("password", strings.Repeat("p", 60<<10))},
		req{"token of 60 KiB", "/introspect", rs, url.Values{"token": {strings.Repeat("j", 60<<10)}}.Encode()},
		req{"many parameters", "/token", app, strings.Repeat("a=1&", 10000) + login()},
		req{"empty body", "/token", app, ""},
		req{"only ampersands", "/token", app, "&&&"},
		req{"value without name", "/token", app, "=value&" + login()},
		req{"name with invalid UTF-8", "/token", app, "%ff=1&" + login()},
		req{"scope of many tokens", "/token", app, login("scope", strings.Repeat("read ", 5000)+"read")},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers("Content-Type", formType)
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			r := w.send(http.MethodPost, tt.path, h, tt.body)
			if r.Status >= 500 || r.Status < 200 {
				t.Fatalf("status %d, body %s", r.Status, r.Body)
			}
			wantNoStore(t, r)
			body := strings.ToLower(string(r.Body))
			for _, leak := range []string{"sql", "pgx", "pq:", "syntax", "panic", "goroutine", "runtime"} {
				if strings.Contains(body, leak) {
					t.Errorf("body %s contains %q", r.Body, leak)
				}
			}
			if r.Status == http.StatusOK {
				return // an inactive answer, an empty revocation, or a login that is allowed to work
			}
			if strings.Contains(body, at[:12]) || strings.Contains(body, w.app.Secret[:12]) {
				t.Errorf("error body %s echoes a secret", r.Body)
			}
			m := r.JSON(t)
			if code, _ := m["error"].(string); !errorChars.MatchString(code) {
				t.Errorf("error %v", m["error"])
			}
			if d, ok := m["error_description"]; ok {
				if s, _ := d.(string); !errorChars.MatchString(s) {
					t.Errorf("error_description %q", d)
				}
			}
		})
	}
	if in := w.introspect(w.rs, at); in["active"] != true {
		t.Errorf("alice's token after the barrage: %v", in)
	}
}

// The process and its database answer.
func TestHealth(t *testing.T) {
	w := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		t.Run(path, func(t *testing.T) {
			r := w.send(http.MethodGet, path, nil, "")
			if r.Status != http.StatusOK {
				t.Errorf("status %d, body %s", r.Status, r.Body)
			}
			if got := r.JSON(t)["status"]; got != "ok" {
				t.Errorf("status member %v", got)
			}
		})
	}
}

// RFC 8414 §3.3: iss and the discovery document are the configured issuer,
// whatever Host or forwarding headers say.
func TestIssuerIgnoresRequestHost(t *testing.T) {
	w := newWorld(t)
	at := w.mustLogin()
	forged := headers("Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https",
		"X-Forwarded-Prefix", "/evil", "Forwarded", "host=evil.example;proto=https")
	t.Run("introspection", func(t *testing.T) {
		h := forged.Clone()
		h.Set("Content-Type", formType)
		h.Set("Authorization", basic(w.rs.ID, w.rs.Secret))
		r := w.send(http.MethodPost, "/introspect", h, url.Values{"token": {at}}.Encode())
		if m := r.JSON(t); m["active"] != true || m["iss"] != issuer {
			t.Errorf("introspection %s, want iss %s", r.Body, issuer)
		}
	})
	t.Run("discovery", func(t *testing.T) {
		r := w.send(http.MethodGet, "/.well-known/oauth-authorization-server", forged, "")
		if r.Status != http.StatusOK {
			t.Fatalf("status %d %s", r.Status, r.Body)
		}
		m := r.JSON(t)
		want := map[string]any{"issuer": issuer, "token_endpoint": issuer + "/token",
			"introspection_endpoint": issuer + "/introspect", "revocation_endpoint": issuer + "/revoke"}
		got := map[string]any{}
		for k := range want {
			got[k] = m[k]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("discovery (-want +got):\n%s", diff)
		}
		if strings.Contains(string(r.Body), "evil") {
			t.Errorf("discovery mentions the forged host: %s", r.Body)
		}
	})
}

// RFC 7009 §2.2.1: when the database is away the answer is 503 with Retry-After, never a
// 200 that claims a revocation, and /readyz says so. New connections are refused (the
// database stops accepting them and the pool drops the ones it had), as in a restart.
func TestDatabaseOutage(t *testing.T) {
	pool := dbtest.New(t)
	w, at := loggedIn(t, pool)
	alterDatabase(t, pool, "WITH ALLOW_CONNECTIONS false")

	tests := []struct {
		name string
		path string
		as   *client
		form url.Values
	}{
		{"login", "/token", &w.app, passwordForm()},
		{"introspect", "/introspect", &w.rs, url.Values{"token": {at}}},
		{"revoke", "/revoke", &w.app, url.Values{"token": {at}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantUnavailable(t, w.post(tt.path, tt.as, tt.form))
		})
	}
	t.Run("readyz", func(t *testing.T) {
		if r := w.send(http.MethodGet, "/readyz", nil, ""); r.Status != http.StatusServiceUnavailable {
			t.Errorf("status %d %s, want 503", r.Status, r.Body)
		}
		if r := w.send(http.MethodGet, "/healthz", nil, ""); r.Status != http.StatusOK {
			t.Errorf("/healthz %d, want 200: the process still answers", r.Status)
		}
	})
}

// A read-only server (a standby a pooler or proxy sent jeton to, or a primary restarting
// read-only mid-failover) refuses every write with SQLSTATE 25006: each write answers 503
// with Retry-After, never a 500.
func TestReadOnlyDatabase(t *testing.T) {
	pool := dbtest.New(t)
	w, at := loggedIn(t, pool)
	key := w.mustAdminKey("")
	alterDatabase(t, pool, "SET default_transaction_read_only = on")

	for _, tt := range []struct {
		name string
		path string
		form url.Values
	}{
		{"login", "/token", passwordForm()},
		{"revoke", "/revoke", url.Values{"token": {at}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantUnavailable(t, w.post(tt.path, &w.app, tt.form))
		})
	}
	t.Run("admin", func(t *testing.T) {
		r := w.admin(key, http.MethodPost, "/admin/v1/tenants", map[string]any{"slug": "b"})
		if r.Status != http.StatusServiceUnavailable || !strings.HasSuffix(fmt.Sprint(r.JSON(t)["type"]), "/unavailable") {
			t.Errorf("POST /admin/v1/tenants: %d %s, want a 503 unavailable problem", r.Status, r.Body)
		}
	})
	if logs := w.logs.String(); !strings.Contains(logs, "SQLSTATE 25006") {
		t.Errorf("no 25006 in the logs: the 503s had another cause\n%s", logs)
	}
}

// alterDatabase runs ALTER DATABASE on pool's database with clause, from the maintenance
// database (a database cannot refuse connections to itself), and ends every session on
// it, so that new ones get the change: the pool's, and, behind a pooler (make
// test-pgbouncer), the server connections the pooler would otherwise keep handing out.
func alterDatabase(t *testing.T, pool *pgxpool.Pool, clause string) {
	t.Helper()
	var name string
	if err := pool.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	cfg := pool.Config().ConnConfig.Copy()
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Exec(t.Context(), "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" "+clause)
	if err == nil {
		_, err = admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = $1`, name)
	}
	admin.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pool.Reset()
}

// loggedIn is a tenant with a password client, a resource server and alice on pool, and
// an access token of alice's.
func loggedIn(t *testing.T, pool *pgxpool.Pool) (world, string) {
	t.Helper()
	e := newEnv(t, onPool(pool))
	e.mustTenant("a")
	w := world{env: e,
		app: e.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password"}}),
		rs:  e.mustClient("a", service.ClientSpec{Name: "api", Introspect: true}),
	}
	w.alice = e.mustUser("a", "alice", testkit.AlicePassword)
	return w, w.mustLogin()
}

// wantUnavailable checks for RFC 6749's temporarily_unavailable with Retry-After.
func wantUnavailable(t *testing.T, r response) {
	t.Helper()
	wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if got := r.Header.Get("Retry-After"); got == "" {
		t.Error("no Retry-After")
	}
}
