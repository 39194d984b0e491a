package api_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"golang.org/x/oauth2"
)

const formType = "application/x-www-form-urlencoded"

// send makes a request with a raw body; header may set Host, which goes to req.Host.
func (e *env) send(method, target string, header http.Header, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+target, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	return e.do(req)
}

// headers builds a header from name, value pairs.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// passwordForm is alice's password-grant body; extra name, value pairs are set on it.
func passwordForm(extra ...string) url.Values {
	f := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// errorChars is what RFC 6749 §5.2 allows in error and error_description.
var errorChars = regexp.MustCompile(`^[\x20-\x21\x23-\x5B\x5D-\x7E]+$`)

// wantNoStore checks the RFC 6749 §5.1 cache headers.
func wantNoStore(t *testing.T, r response) {
	t.Helper()
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := r.Header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", got)
	}
}

// wantError checks an RFC 6749 §5.2 error: status, JSON with exactly error (and maybe a
// clean error_description), the cache headers, and for 401 the Basic challenge.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	wantNoStore(t, r)
	m := r.JSON(t)
	if m["error"] != code {
		t.Errorf("error = %v, want %s; body %s", m["error"], code, r.Body)
	}
	for k, v := range m {
		switch k {
		case "error":
		case "error_description":
			if s, ok := v.(string); !ok || !errorChars.MatchString(s) {
				t.Errorf("error_description %q is not RFC 6749 §5.2 text", v)
			}
		default:
			t.Errorf("unexpected member %q in %s", k, r.Body)
		}
	}
	wantChallenge := ""
	if status == http.StatusUnauthorized {
		wantChallenge = `Basic realm="jeton"`
	}
	if got := r.Header.Get("WWW-Authenticate"); got != wantChallenge {
		t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
	}
}

// wantToken checks a successful token response (RFC 6749 §5.1) and returns the token.
func wantToken(t *testing.T, r response, scope string) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	wantNoStore(t, r)
	m := r.JSON(t)
	at, _ := m["access_token"].(string)
	if !regexp.MustCompile(`^jat_[0-9A-Za-z]{49}$`).MatchString(at) {
		t.Errorf("access_token = %q, want jat_ and 49 base62 characters", at)
	}
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(900) || m["scope"] != scope {
		t.Errorf("token response %s, want Bearer, 900 s, scope %q", r.Body, scope)
	}
	return at
}

// basicRaw is an Authorization header over id:secret exactly as given (no encoding).
func basicRaw(idSecret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(idSecret))
}

// loginWorld adds, to tenant a, a public client and a confidential client without the
// password grant.
type loginWorld struct {
	world
	pub, cc client
}

func newLoginWorld(t *testing.T) loginWorld {
	w := newWorld(t)
	return loginWorld{world: w,
		pub: w.mustClient("a", service.ClientSpec{Name: "spa", Public: true, GrantTypes: []string{"password"},
			Scopes: []string{"read", "write"}}),
		cc: w.mustClient("a", service.ClientSpec{Name: "batch", GrantTypes: []string{"client_credentials"},
			Scopes: []string{"read"}}),
	}
}

// RFC 6749 §2.3: Basic (urlencoded parts, §2.3.1) or form, never both; a public client
// sends only its client_id.
func TestClientAuthentication(t *testing.T) {
	w := newLoginWorld(t)
	app, pub := w.app, w.pub
	tests := []struct {
		name   string
		auth   string     // Authorization header
		query  string     // appended to /token
		form   url.Values // added to alice's password form
		status int
		code   string // "" for success
	}{
		{name: "basic", auth: basic(app.ID, app.Secret), status: 200},
		{name: "form", form: url.Values{"client_id": {app.ID}, "client_secret": {app.Secret}}, status: 200},
		{name: "basic with percent-encoded parts",
			auth:   basicRaw(strings.ReplaceAll(app.ID, "_", "%5F") + ":" + strings.ReplaceAll(app.Secret, "_", "%5F")),
			status: 200},
		{name: "basic scheme in lower case", auth: "basic " + strings.TrimPrefix(basic(app.ID, app.Secret), "Basic "), status: 200},
		{name: "public client by form client_id", form: url.Values{"client_id": {pub.ID}}, status: 200},
		{name: "public client by basic with empty secret", auth: basicRaw(pub.ID + ":"), status: 200},

		{name: "basic and form client_id", auth: basic(app.ID, app.Secret),
			form: url.Values{"client_id": {app.ID}}, status: 400, code: "invalid_request"},
		{name: "basic and form client_secret", auth: basic(app.ID, app.Secret),
			form: url.Values{"client_secret": {app.Secret}}, status: 400, code: "invalid_request"},
		{name: "basic and another client's form client_id", auth: basic(app.ID, app.Secret),
			form: url.Values{"client_id": {w.cc.ID}, "client_secret": {w.cc.Secret}}, status: 400, code: "invalid_request"},

		{name: "basic wrong secret", auth: basic(app.ID, app.Secret+"x"), status: 401, code: "invalid_client"},
		{name: "basic another client's secret", auth: basic(app.ID, w.cc.Secret), status: 401, code: "invalid_client"},
		{name: "basic unknown client", auth: basic("jc_unknown", app.Secret), status: 401, code: "invalid_client"},
		{name: "basic empty secret for confidential client", auth: basicRaw(app.ID + ":"), status: 401, code: "invalid_client"},
		{name: "basic without colon", auth: basicRaw(app.ID), status: 401, code: "invalid_client"},
		{name: "basic not base64", auth: "Basic !!!", status: 401, code: "invalid_client"},
		{name: "bearer scheme", auth: "Bearer " + app.Secret, status: 401, code: "invalid_client"},
		{name: "form wrong secret", form: url.Values{"client_id": {app.ID}, "client_secret": {"jcs_x"}}, status: 401, code: "invalid_client"},
		{name: "form confidential client without secret", form: url.Values{"client_id": {app.ID}}, status: 401, code: "invalid_client"},
		{name: "form secret without client_id", form: url.Values{"client_secret": {app.Secret}}, status: 401, code: "invalid_client"},
		{name: "no client authentication", status: 401, code: "invalid_client"},
		{name: "credentials only in query string",
			query:  "?" + url.Values{"client_id": {app.ID}, "client_secret": {app.Secret}}.Encode(),
			status: 401, code: "invalid_client"},
		{name: "public client sending a secret by form", form: url.Values{"client_id": {pub.ID}, "client_secret": {app.Secret}},
			status: 401, code: "invalid_client"},
		{name: "public client sending a secret by basic", auth: basic(pub.ID, app.Secret), status: 401, code: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := passwordForm()
			for k, v := range tt.form {
				f[k] = v
			}
			h := headers("Content-Type", formType)
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			r := w.send(http.MethodPost, "/token"+tt.query, h, f.Encode())
			if tt.code == "" {
				at := wantToken(t, r, "read write")
				if in := w.introspect(w.rs, at); in["active"] != true || in["username"] != "alice" {
					t.Errorf("introspection %v", in)
				}
				return
			}
			wantError(t, r, tt.status, tt.code)
		})
	}
}

// A bad secret and an unknown client_id must not tell each other apart.
func TestInvalidClientResponsesIdentical(t *testing.T) {
	w := newWorld(t)
	wrong := w.post("/token", &client{ID: w.app.ID, Secret: w.app.Secret + "x"}, passwordForm())
	unknown := w.post("/token", &client{ID: "jc_000000000000000000000000", Secret: w.app.Secret}, passwordForm())
	if string(wrong.Body) != `{"error":"invalid_client"}` || string(unknown.Body) != string(wrong.Body) {
		t.Errorf("bodies %s and %s, want both {\"error\":\"invalid_client\"}", wrong.Body, unknown.Body)
	}
	if diff := cmp.Diff(stableHeaders(wrong.Header), stableHeaders(unknown.Header)); diff != "" {
		t.Errorf("headers differ (-wrong secret +unknown client):\n%s", diff)
	}
}

// stableHeaders drops the headers that differ between any two responses.
func stableHeaders(h http.Header) http.Header {
	h = h.Clone()
	h.Del("Date")
	h.Del("X-Request-Id")
	return h
}

// RFC 6749 §5.2: unknown user, wrong password, disabled user (and the other
// ways a login can fail on the user) give one answer.
func TestInvalidGrantIndistinguishable(t *testing.T) {
	w := newWorld(t)
	w.mustUser("a", "carol", testkit.AlicePassword)
	if _, err := w.svc.UpdateUser(context.Background(), w.cli, "a", "carol", func(u *db.User) { u.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	w.mustTenant("b")
	w.mustUser("b", "bob", testkit.AlicePassword)

	tests := []struct{ name, username, password string }{
		{"wrong password", "alice", testkit.AlicePassword + "!"},
		{"unknown user", "nobody", testkit.AlicePassword},
		{"disabled user with right password", "carol", testkit.AlicePassword},
		{"disabled user with wrong password", "carol", "wrong password here"},
		{"user of another tenant", "bob", testkit.AlicePassword},
		{"username PRECIS rejects", "al ice", testkit.AlicePassword},
		{"username longer than 256 bytes", strings.Repeat("a", 300), testkit.AlicePassword},
		{"password longer than 1024 bytes", "alice", strings.Repeat("p", 2000)},
		{"password differing only in case", "alice", strings.ToUpper(testkit.AlicePassword)},
	}
	var first response
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {tt.username}, "password": {tt.password}})
			wantError(t, r, http.StatusBadRequest, "invalid_grant")
			if string(r.Body) != `{"error":"invalid_grant"}` {
				t.Errorf("body %s, want exactly {\"error\":\"invalid_grant\"}", r.Body)
			}
			if i == 0 {
				first = r
				return
			}
			if diff := cmp.Diff(stableHeaders(first.Header), stableHeaders(r.Header)); diff != "" {
				t.Errorf("headers differ from %q (-first +this):\n%s", tests[0].name, diff)
			}
		})
	}
	// The username is compared after PRECIS case mapping: a login still works as ALICE.
	wantToken(t, w.post("/token", &w.app, passwordForm("username", "ALICE")), "read write")
}

func TestTokenRequestErrors(t *testing.T) {
	w := newLoginWorld(t)
	big := passwordForm("pad", strings.Repeat("x", api.MaxBodyBytes)).Encode()
	tests := []struct {
		name   string
		as     *client
		ctype  string // Content-Type; formType when empty
		body   string
		status int
		code   string
	}{
		{name: "missing grant_type", body: "username=alice&password=x", status: 400, code: "invalid_request"},
		{name: "empty grant_type", body: "grant_type=&username=alice&password=x", status: 400, code: "invalid_request"},
		{name: "missing username", body: "grant_type=password&password=x", status: 400, code: "invalid_request"},
		{name: "empty username", body: "grant_type=password&username=&password=x", status: 400, code: "invalid_request"},
		{name: "missing password", body: "grant_type=password&username=alice", status: 400, code: "invalid_request"},
		{name: "empty password", body: "grant_type=password&username=alice&password=", status: 400, code: "invalid_request"},
		{name: "unknown grant_type", body: "grant_type=foo", status: 400, code: "unsupported_grant_type"},
		{name: "authorization_code grant, not a first-party client", body: "grant_type=authorization_code&code=x", status: 400, code: "unauthorized_client"},
		{name: "implicit grant", body: "grant_type=implicit", status: 400, code: "unsupported_grant_type"},
		{name: "jwt-bearer grant", body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", status: 400, code: "unsupported_grant_type"},
		{name: "grant_type in other case", body: passwordForm("grant_type", "Password").Encode(), status: 400, code: "unsupported_grant_type"},
		{name: "client without the password grant", as: &w.cc, body: passwordForm().Encode(), status: 400, code: "unauthorized_client"},
		{name: "client without client_credentials", body: "grant_type=client_credentials", status: 400, code: "unauthorized_client"},
		{name: "public client using client_credentials", as: &client{ID: w.pub.ID},
			body: "grant_type=client_credentials", status: 400, code: "unauthorized_client"},
		{name: "scope outside the client's", body: passwordForm("scope", "admin").Encode(), status: 400, code: "invalid_scope"},
		{name: "scope partly outside the client's", body: passwordForm("scope", "read admin").Encode(), status: 400, code: "invalid_scope"},
		{name: "scope with a quote", body: passwordForm("scope", `read"x`).Encode(), status: 400, code: "invalid_scope"},
		{name: "scope with a backslash", body: passwordForm("scope", `read\`).Encode(), status: 400, code: "invalid_scope"},
		{name: "scope with two spaces", body: passwordForm("scope", "read  write").Encode(), status: 400, code: "invalid_scope"},
		{name: "repeated grant_type", body: "grant_type=password&" + passwordForm().Encode(), status: 400, code: "invalid_request"},
		{name: "repeated username", body: "username=bob&" + passwordForm().Encode(), status: 400, code: "invalid_request"},
		{name: "repeated password", body: "password=x&" + passwordForm().Encode(), status: 400, code: "invalid_request"},
		{name: "repeated empty scope", body: "scope=&scope=&" + passwordForm().Encode(), status: 400, code: "invalid_request"},
		{name: "repeated unknown parameter", body: "foo=1&foo=2&" + passwordForm().Encode(), status: 400, code: "invalid_request"},
		{name: "repeated parameter with a hostile name", body: "%22%5C%C3%A9%0D%0A=1&%22%5C%C3%A9%0D%0A=2&" + passwordForm().Encode(),
			status: 400, code: "invalid_request"},
		{name: "JSON body", ctype: "application/json", body: `{"grant_type":"password","username":"alice","password":"x"}`, status: 400, code: "invalid_request"},
		{name: "form body as text/plain", ctype: "text/plain", body: passwordForm().Encode(), status: 400, code: "invalid_request"},
		{name: "multipart body", ctype: "multipart/form-data; boundary=x",
			body: "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n--x--\r\n", status: 400, code: "invalid_request"},
		{name: "no content type", ctype: "-", body: passwordForm().Encode(), status: 400, code: "invalid_request"},
		{name: "semicolon separator", body: "grant_type=password;username=alice;password=x", status: 400, code: "invalid_request"},
		{name: "bad percent escape", body: "grant_type=password&username=%zz&password=x", status: 400, code: "invalid_request"},
		{name: "truncated percent escape", body: "grant_type=password&username=alice&password=%", status: 400, code: "invalid_request"},
		{name: "invalid UTF-8", body: "grant_type=password&username=%C3%28&password=x", status: 400, code: "invalid_request"},
		{name: "NUL in username", body: "grant_type=password&username=al%00ice&password=x", status: 400, code: "invalid_request"},
		{name: "NUL in password", body: "grant_type=password&username=alice&password=x%00", status: 400, code: "invalid_request"},
		{name: "CR LF in username", body: "grant_type=password&username=a%0D%0ASet-Cookie%3A+x%3D1&password=x", status: 400, code: "invalid_request"},
		{name: "DEL in username", body: passwordForm("username", "al\x7fice").Encode(), status: 400, code: "invalid_request"},
		{name: "C1 control in username", body: passwordForm("username", "al\u0085ice").Encode(), status: 400, code: "invalid_request"},
		// In a scope the same characters break RFC 6749 §3.3's syntax.
		{name: "NUL in scope", body: passwordForm("scope", "read\x00").Encode(), status: 400, code: "invalid_scope"},
		{name: "control character in scope", body: passwordForm("scope", "read\x01write").Encode(), status: 400, code: "invalid_scope"},
		{name: "tab in scope", body: passwordForm("scope", "read\twrite").Encode(), status: 400, code: "invalid_scope"},
		{name: "invalid UTF-8 in scope", body: passwordForm().Encode() + "&scope=%C3%28", status: 400, code: "invalid_scope"},
		{name: "non-ASCII scope", body: passwordForm("scope", "réad").Encode(), status: 400, code: "invalid_scope"},
		{name: "NUL in scope of a refresh", body: "grant_type=refresh_token&refresh_token=jrt_x&scope=%00", status: 400, code: "invalid_scope"},
		// A malformed refresh token is an invalid grant, whatever it holds.
		{name: "malformed refresh token", body: "grant_type=refresh_token&refresh_token=jrt_nope", status: 400, code: "invalid_grant"},
		{name: "refresh token of SQL", body: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"jrt_' OR '1'='1"}}.Encode(), status: 400, code: "invalid_grant"},
		{name: "access token as refresh token", body: "grant_type=refresh_token&refresh_token=jat_" + strings.Repeat("0", 49), status: 400, code: "invalid_grant"},
		{name: "body over 64 KiB", body: big, status: 413, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := tt.as
			if as == nil {
				as = &w.app
			}
			h := headers("Content-Type", formType, "Authorization", basic(as.ID, as.Secret))
			switch tt.ctype {
			case "":
			case "-":
				h.Del("Content-Type")
			default:
				h.Set("Content-Type", tt.ctype)
			}
			r := w.send(http.MethodPost, "/token", h, tt.body)
			wantError(t, r, tt.status, tt.code)
			if r.Header.Get("Set-Cookie") != "" {
				t.Errorf("Set-Cookie %q", r.Header.Get("Set-Cookie"))
			}
		})
	}
}

// RFC 6749 §3.2: a parameter without a value is omitted; §3.2 also says unknown parameters
// are ignored. The form body's limit is inclusive.
func TestTokenRequestAccepted(t *testing.T) {
	w := newLoginWorld(t)
	exactly := func() string {
		b := passwordForm().Encode() + "&pad="
		return b + strings.Repeat("x", api.MaxBodyBytes-len(b))
	}
	tests := []struct {
		name  string
		ctype string
		body  string
		scope string
	}{
		{name: "no scope", body: passwordForm().Encode(), scope: "read write"},
		{name: "empty scope", body: passwordForm("scope", "").Encode(), scope: "read write"},
		{name: "one scope", body: passwordForm("scope", "read").Encode(), scope: "read"},
		{name: "repeated scope token", body: passwordForm("scope", "write write").Encode(), scope: "write"},
		{name: "unknown parameters", body: passwordForm("foo", "bar", "x-tenant", "b").Encode(), scope: "read write"},
		{name: "empty unknown parameter", body: passwordForm().Encode() + "&foo=", scope: "read write"},
		{name: "charset in content type", ctype: formType + "; charset=UTF-8", body: passwordForm().Encode(), scope: "read write"},
		{name: "body of exactly 64 KiB", body: exactly(), scope: "read write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := tt.ctype
			if ctype == "" {
				ctype = formType
			}
			r := w.send(http.MethodPost, "/token", headers("Content-Type", ctype, "Authorization", basic(w.app.ID, w.app.Secret)), tt.body)
			at := wantToken(t, r, tt.scope)
			if in := w.introspect(w.rs, at); in["active"] != true || in["scope"] != tt.scope || in["tenant"] != "a" {
				t.Errorf("introspection %v", in)
			}
		})
	}
}

// Long passwords up to the documented 1024 bytes work and are never truncated; a password
// may hold any Unicode (RFC 6749 App. B: UTF-8) and is NFKC-normalised.
func TestPasswordsAccepted(t *testing.T) {
	w := newWorld(t)
	tests := []struct{ name, set, login string }{
		{"64 characters", strings.Repeat("pw", 32), strings.Repeat("pw", 32)},
		{"1024 bytes", strings.Repeat("p", 1024), strings.Repeat("p", 1024)},
		{"unicode", "£€ pass Ⅻ with full-width ＡＢＣ", "£€ pass Ⅻ with full-width ＡＢＣ"},
		{"NFKC folds full-width letters and roman numerals", "£€ pass Ⅻ with full-width ＡＢＣ", "£€ pass XII with full-width ABC"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			username := fmt.Sprintf("user%d", i)
			w.mustUser("a", username, tt.set)
			form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {tt.login}}
			wantToken(t, w.post("/token", &w.app, form), "read write")
			r := []rune(tt.login)
			form.Set("password", string(r[:len(r)-1]))
			wantError(t, w.post("/token", &w.app, form), http.StatusBadRequest, "invalid_grant")
		})
	}
}

// A chunked body has no Content-Length to refuse up front; it is cut at the same limit.
func TestChunkedBodyOverLimit(t *testing.T) {
	w := newWorld(t)
	body := passwordForm().Encode() + "&pad=" + strings.Repeat("x", api.MaxBodyBytes)
	// io.MultiReader hides the length, so the client sends the body chunked.
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+"/token", io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	if req.ContentLength != 0 {
		t.Fatalf("request has a length (%d): it would not be sent chunked", req.ContentLength)
	}
	req.Header.Set("Content-Type", formType)
	req.Header.Set("Authorization", basic(w.app.ID, w.app.Secret))
	wantError(t, w.do(req), http.StatusRequestEntityTooLarge, "invalid_request")
}

// A token from golang.org/x/oauth2's PasswordCredentialsToken is accepted by
// /introspect, with either way of sending the client's credentials, and the library reads
// jeton's errors.
func TestOAuth2LibraryPasswordCredentials(t *testing.T) {
	w := newWorld(t)
	for _, style := range []struct {
		name string
		s    oauth2.AuthStyle
	}{{"header", oauth2.AuthStyleInHeader}, {"params", oauth2.AuthStyleInParams}} {
		t.Run(style.name, func(t *testing.T) {
			cfg := oauth2.Config{ClientID: w.app.ID, ClientSecret: w.app.Secret, Scopes: []string{"read"},
				Endpoint: oauth2.Endpoint{TokenURL: w.srv.URL + "/token", AuthStyle: style.s}}
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, w.srv.Client())
			tok, err := cfg.PasswordCredentialsToken(ctx, "alice", testkit.AlicePassword)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.Expiry.IsZero() || tok.Extra("scope") != "read" {
				t.Errorf("token type %q, expiry %v, scope %v", tok.TokenType, tok.Expiry, tok.Extra("scope"))
			}
			in := w.introspect(w.rs, tok.AccessToken)
			if in["active"] != true || in["scope"] != "read" || in["username"] != "alice" || in["client_id"] != w.app.ID {
				t.Errorf("introspection %v", in)
			}

			_, err = cfg.PasswordCredentialsToken(ctx, "alice", "wrong password")
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != 400 {
				t.Errorf("wrong password: %v, want a 400 invalid_grant RetrieveError", err)
			}
			cfg.ClientSecret += "x"
			_, err = cfg.PasswordCredentialsToken(ctx, "alice", testkit.AlicePassword)
			if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
				t.Errorf("wrong secret: %v, want a 401 invalid_client RetrieveError", err)
			}
		})
	}
}

// One end-to-end run over TLS with a real client.
func TestEndToEndOverTLS(t *testing.T) {
	w := newWorld(t)
	tlsSrv := httptest.NewTLSServer(w.srv.Config.Handler)
	t.Cleanup(tlsSrv.Close)
	w.srv = tlsSrv
	if !strings.HasPrefix(w.srv.URL, "https://") {
		t.Fatalf("server URL %s", w.srv.URL)
	}
	cfg := oauth2.Config{ClientID: w.app.ID, ClientSecret: w.app.Secret,
		Endpoint: oauth2.Endpoint{TokenURL: w.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := cfg.PasswordCredentialsToken(context.WithValue(t.Context(), oauth2.HTTPClient, w.srv.Client()), "alice", testkit.AlicePassword)
	if err != nil {
		t.Fatal(err)
	}
	if in := w.introspect(w.rs, tok.AccessToken); in["active"] != true || in["sub"] != w.alice.ID.String() {
		t.Fatalf("introspection %v", in)
	}
	if r := w.post("/revoke", &w.app, url.Values{"token": {tok.AccessToken}}); r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Fatalf("revoke: %d %q", r.Status, r.Body)
	}
	if r := w.post("/introspect", &w.rs, url.Values{"token": {tok.AccessToken}}); string(r.Body) != `{"active":false}` {
		t.Fatalf("after revoke: %s", r.Body)
	}
}

// RFC 6749 §5.1 and RFC 7662 §4: token, error and introspection answers are never cached.
func TestNoStoreOnOAuthResponses(t *testing.T) {
	w := newWorld(t)
	at, _ := w.login(w.app, "alice", testkit.AlicePassword)["access_token"].(string)
	tests := []struct {
		name   string
		path   string
		as     *client
		form   url.Values
		status int
	}{
		{"token success", "/token", &w.app, passwordForm(), 200},
		{"token invalid_grant", "/token", &w.app, passwordForm("password", "nope"), 400},
		{"token invalid_client", "/token", nil, passwordForm(), 401},
		{"token invalid_request", "/token", &w.app, url.Values{}, 400},
		{"introspect active", "/introspect", &w.rs, url.Values{"token": {at}}, 200},
		{"introspect inactive", "/introspect", &w.rs, url.Values{"token": {"jat_x"}}, 200},
		{"introspect forbidden", "/introspect", &w.app, url.Values{"token": {at}}, 403},
		{"introspect invalid_client", "/introspect", nil, url.Values{"token": {at}}, 401},
		{"revoke", "/revoke", &w.app, url.Values{"token": {"jat_x"}}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.post(tt.path, tt.as, tt.form)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.Status, tt.status, r.Body)
			}
			wantNoStore(t, r)
		})
	}
}

// RFC 6749 §5.1: the token response carries the members a client needs, and nothing it
// must not (client_credentials never gets a refresh token, RFC 6749 §4.4.3).
func TestTokenResponseMembers(t *testing.T) {
	w := newLoginWorld(t)
	tests := []struct {
		name  string
		as    client
		form  url.Values
		scope string
		want  []string
	}{
		{"password with refresh grant", w.app, passwordForm(), "read write",
			[]string{"access_token", "expires_in", "refresh_token", "scope", "token_type"}},
		{"password without refresh grant", w.pub, passwordForm("client_id", w.pub.ID), "read write",
			[]string{"access_token", "expires_in", "scope", "token_type"}},
		{"client_credentials", w.cc, url.Values{"grant_type": {"client_credentials"}}, "read",
			[]string{"access_token", "expires_in", "scope", "token_type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.as.Secret == "" {
				r = w.post("/token", nil, tt.form)
			} else {
				r = w.post("/token", &tt.as, tt.form)
			}
			wantToken(t, r, tt.scope)
			var keys []string
			for k := range r.JSON(t) {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if diff := cmp.Diff(tt.want, keys); diff != "" {
				t.Errorf("members (-want +got):\n%s", diff)
			}
		})
	}
}
