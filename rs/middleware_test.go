package rs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"slices"
)

// serve runs one request through c's middleware requiring scopes, in front of a handler that
// echoes the token it finds in the context.
func serve(c *Client, req *http.Request, scopes ...string) *httptest.ResponseRecorder {
	h := c.Middleware(RequireScopes(scopes...))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := FromContext(r.Context())
		if !ok {
			http.Error(w, "no token in the context", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": tok.Sub, "scope": tok.Scope, "sid": tok.Sid})
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func request(auth ...string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/notes", nil)
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	return req
}

// RFC 6750 §3: the status, challenge and body of every answer.
func TestMiddlewareAnswers(t *testing.T) {
	f := newFakeJeton(t)
	c, _ := newTestClient(t, f, Config{})
	live, dead := mint(t), mint(t)
	f.live(live, "u1", "s1", "c1", time.Now().Add(time.Hour), "read")
	tests := []struct {
		name      string
		req       *http.Request
		scopes    []string
		status    int
		challenge string
		body      string
	}{
		{name: "no Authorization", req: request(), status: 401, challenge: `Bearer realm="api"`},
		{name: "another scheme", req: request("Basic YTpi"), status: 401, challenge: `Bearer realm="api"`},
		{name: "token in the query string only", req: httptest.NewRequest(http.MethodGet, "/notes?access_token="+live, nil),
			status: 401, challenge: `Bearer realm="api"`},
		{name: "two Authorization headers", req: request("Bearer "+live, "Bearer "+live), status: 400,
			challenge: `Bearer realm="api", error="invalid_request", error_description="more than one Authorization header"`,
			body:      `{"error":"invalid_request","error_description":"more than one Authorization header"}`},
		{name: "Bearer without a token", req: request("Bearer"), status: 401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="the access token is malformed"`,
			body:      `{"error":"invalid_token","error_description":"the access token is malformed"}`},
		{name: "malformed", req: request("Bearer jat_nope"), status: 401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="the access token is malformed"`,
			body:      `{"error":"invalid_token","error_description":"the access token is malformed"}`},
		{name: "not active", req: request("Bearer " + dead), status: 401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="the access token is not active"`,
			body:      `{"error":"invalid_token","error_description":"the access token is not active"}`},
		{name: "missing scope", req: request("Bearer " + live), scopes: []string{"read", "write"}, status: 403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="read write"`,
			body:      `{"error":"insufficient_scope","error_description":"the access token lacks a required scope"}`},
		{name: "live", req: request("Bearer " + live), scopes: []string{"read"}, status: 200,
			body: `{"scope":["read"],"sid":"s1","sub":"u1"}`},
		{name: "scheme in lower case, extra spaces", req: request("bearer   " + live + " "), status: 200,
			body: `{"scope":["read"],"sid":"s1","sub":"u1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(c, tt.req, tt.scopes...)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, tt.challenge)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.body {
				t.Errorf("body %s, want %s", got, tt.body)
			}
		})
	}
}

// Anything that is not a well-formed access token is refused without asking jeton.
func TestMalformedNeverReachesJeton(t *testing.T) {
	f := newFakeJeton(t)
	c, _ := newTestClient(t, f, Config{})
	good := mint(t)
	for _, tok := range []string{
		"", "jat_", "abc", good[:52], good + "A", mintKind(t, "jrt_"), mintKind(t, "jak_"),
		good[:30] + "_" + good[31:], good[:47] + "000000", good[:47] + "zzzzzz", strings.ToUpper(good),
	} {
		rec := serve(c, request("Bearer "+tok))
		if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%q: %d %s", tok, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	if n := f.totalCalls(); n != 0 {
		t.Errorf("%d introspection calls, want 0", n)
	}
}

// When jeton cannot be asked and nothing valid is cached, the answer is 503 with
// Retry-After, never 401; what is cached is still served.
func TestUnavailable(t *testing.T) {
	f := newFakeJeton(t)
	clk := &clock{now: epoch}
	c, logs := newTestClient(t, f, Config{Now: clk.Now, RetryAfter: 1500 * time.Millisecond})
	runLive(t, c)
	cached, fresh := mint(t), mint(t)
	f.live(cached, "u1", "s1", "c1", epoch.Add(time.Hour), "read")
	f.live(fresh, "u2", "s2", "c1", epoch.Add(time.Hour), "read")
	if rec := serve(c, request("Bearer "+cached)); rec.Code != 200 {
		t.Fatalf("live token: %d", rec.Code)
	}
	want503 := func(name string) {
		t.Helper()
		rec := serve(c, request("Bearer "+fresh))
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "2" || rec.Header().Get("WWW-Authenticate") != "" {
			t.Errorf("%s: %d, Retry-After %q, WWW-Authenticate %q; want 503, 2, none", name, rec.Code,
				rec.Header().Get("Retry-After"), rec.Header().Get("WWW-Authenticate"))
		}
		if got := strings.TrimSpace(rec.Body.String()); !strings.HasPrefix(got, `{"error":"temporarily_unavailable"`) {
			t.Errorf("%s: body %s", name, got)
		}
	}
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		f.set(func(f *fakeJeton) { f.introspectStatus = status })
		want503(http.StatusText(status))
	}
	f.set(func(f *fakeJeton) { f.introspectStatus = http.StatusUnauthorized })
	want503("jeton refuses the resource server")
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Error("a refused resource server is not logged as an error")
	}
	if rec := serve(c, request("Bearer "+cached)); rec.Code != 200 {
		t.Errorf("cached token while jeton fails: %d, want 200", rec.Code)
	}
	f.srv.CloseClientConnections()
	f.srv.Listener.Close()
	want503("jeton unreachable")
	if _, err := c.Introspect(context.Background(), fresh); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Introspect: %v, want ErrUnavailable", err)
	}
}

// The realm is configurable and quoted.
func TestRealm(t *testing.T) {
	f := newFakeJeton(t)
	c, _ := newTestClient(t, f, Config{Realm: `notes "v2" \ api`})
	if got := serve(c, request()).Header().Get("WWW-Authenticate"); got != `Bearer realm="notes \"v2\" \\ api"` {
		t.Errorf("WWW-Authenticate %s", got)
	}
}

// WriteError answers 500 for an error Authorize did not return.
func TestWriteErrorOther(t *testing.T) {
	f := newFakeJeton(t)
	c, _ := newTestClient(t, f, Config{})
	rec := httptest.NewRecorder()
	c.WriteError(rec, io.EOF)
	if rec.Code != 500 || rec.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("%d %v", rec.Code, rec.Header())
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Error("a token in an empty context")
	}
	tok := Token{Sub: "u1", Scope: []string{"read", "write"}}
	got, ok := FromContext(NewContext(context.Background(), tok))
	if !ok || got.Sub != "u1" || !slices.Equal(got.Scope, tok.Scope) {
		t.Errorf("FromContext: %+v, %v", got, ok)
	}
	if !got.HasScope("write") || got.HasScope("admin") || got.HasScope("") {
		t.Error("HasScope")
	}
}

// Every answer field reaches the Token.
func TestTokenFields(t *testing.T) {
	f := newFakeJeton(t)
	c, _ := newTestClient(t, f, Config{})
	tok := mint(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	f.live(tok, "u1", "s1", "c1", exp, "read write")
	got := mustIntrospect(t, c, tok)
	want := Token{Sub: "u1", Username: "user-u1", ClientID: "c1", Scope: []string{"read", "write"}, Tenant: "a",
		Sid: "s1", Jti: "jti-s1", Issuer: "http://jeton", Exp: exp, Iat: exp.Add(-15 * time.Minute)}
	if got.Sub != want.Sub || got.Username != want.Username || got.ClientID != want.ClientID ||
		!slices.Equal(got.Scope, want.Scope) || got.Tenant != want.Tenant || got.Sid != want.Sid ||
		got.Jti != want.Jti || got.Issuer != want.Issuer || !got.Exp.Equal(want.Exp) || !got.Iat.Equal(want.Iat) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
