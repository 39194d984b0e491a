package api_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/tokens"
)

const inactive = `{"active":false}`

// wantInactive checks the RFC 7662 §2.2 answer for a token that is not live: 200 and
// exactly {"active":false}, uncached.
func wantInactive(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusOK || string(r.Body) != inactive {
		t.Errorf("got %d %s, want 200 %s", r.Status, r.Body, inactive)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	wantNoStore(t, r)
}

// mustLogin returns a fresh access token of alice's.
func (w world) mustLogin(extra ...string) string {
	w.t.Helper()
	at, _ := w.login(w.app, "alice", testkit.AlicePassword, extra...)["access_token"].(string)
	return at
}

// RFC 7662 §2.2: the members of a live token's introspection.
func TestIntrospectActiveMembers(t *testing.T) {
	w := newWorld(t)
	issued := w.clock.Now()
	at := w.mustLogin("scope", "write")
	w.clock.Advance(time.Minute)
	r := w.post("/introspect", &w.rs, url.Values{"token": {at}})
	if r.Status != http.StatusOK {
		t.Fatalf("status %d %s", r.Status, r.Body)
	}
	wantNoStore(t, r)
	got := r.JSON(t)
	jti, _ := got["jti"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(jti) {
		t.Errorf("jti %q is not a UUID", jti)
	}
	delete(got, "sid") // a session id, present for password-grant tokens
	want := map[string]any{
		"active": true, "scope": "write", "client_id": w.app.ID, "username": "alice",
		"sub": w.alice.ID.String(), "token_type": "Bearer", "iss": issuer, "tenant": "a", "jti": jti,
		"iat": float64(issued.Unix()), "exp": float64(issued.Add(15 * time.Minute).Unix()),
		"amr": []any{"pwd"}, "acr": "pwd", "auth_time": float64(issued.Unix()),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("introspection (-want +got):\n%s", diff)
	}
	// A second login is a different token with a different jti.
	if in := w.introspect(w.rs, w.mustLogin()); in["jti"] == jti || in["active"] != true {
		t.Errorf("second token %v shares jti %s", in, jti)
	}
}

// RFC 7662 §4: an expired token is inactive, from its exp on (injected clock, no sleep).
func TestExpiredTokenInactive(t *testing.T) {
	w := newWorld(t)
	at := w.mustLogin()
	exp := w.introspect(w.rs, at)["exp"]

	w.clock.Advance(15*time.Minute - time.Second)
	if in := w.introspect(w.rs, at); in["active"] != true {
		t.Fatalf("one second before expiry: %v", in)
	}
	w.clock.Advance(time.Second)
	if float64(w.clock.Now().Unix()) != exp {
		t.Fatalf("clock %v, exp %v", w.clock.Now().Unix(), exp)
	}
	wantInactive(t, w.post("/introspect", &w.rs, url.Values{"token": {at}}))
	w.clock.Advance(time.Hour)
	wantInactive(t, w.post("/introspect", &w.rs, url.Values{"token": {at}}))
	// Revoking an expired token is not an error (RFC 7009 §2.2).
	if r := w.post("/revoke", &w.app, url.Values{"token": {at}}); r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Errorf("revoke expired: %d %q", r.Status, r.Body)
	}
}

// RFC 7662 §2.2, §4: whatever makes a token inactive, the answer and its headers are the
// same.
func TestInactiveTokensIndistinguishable(t *testing.T) {
	w := newWorld(t)
	w.mustTenant("b")
	appB := w.mustClient("b", service.ClientSpec{Name: "app b", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	w.mustUser("b", "alice", testkit.AlicePassword)
	ctx := context.Background()

	expired := w.mustLogin()
	revoked := w.mustLogin()
	if r := w.post("/revoke", &w.app, url.Values{"token": {revoked}}); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	refresh, _ := w.login(w.app, "alice", testkit.AlicePassword)["refresh_token"].(string)
	if refresh == "" {
		t.Fatal("no refresh token")
	}
	otherTenant, _ := w.login(appB, "alice", testkit.AlicePassword)["access_token"].(string)
	unknown, err := tokens.New(tokens.Access, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	disabledUser := func() string {
		w.mustUser("a", "erin", testkit.AlicePassword)
		at, _ := w.login(w.app, "erin", testkit.AlicePassword)["access_token"].(string)
		if _, err := w.svc.UpdateUser(ctx, w.cli, "a", "erin", func(u *db.User) { u.Disabled = true }); err != nil {
			t.Fatal(err)
		}
		return at
	}()
	passwordChanged := func() string {
		w.mustUser("a", "fred", testkit.AlicePassword)
		at, _ := w.login(w.app, "fred", testkit.AlicePassword)["access_token"].(string)
		if err := w.svc.SetPassword(ctx, w.cli, "a", "fred", testkit.AlicePassword+" new"); err != nil {
			t.Fatal(err)
		}
		return at
	}()
	disabledClient := func() string {
		c := w.mustClient("a", service.ClientSpec{Name: "doomed", GrantTypes: []string{"password"}})
		at, _ := w.login(c, "alice", testkit.AlicePassword)["access_token"].(string)
		if _, err := w.svc.UpdateClient(ctx, w.cli, "a", c.ID, func(c *db.Client) { c.Disabled = true }); err != nil {
			t.Fatal(err)
		}
		return at
	}()
	w.clock.Advance(15 * time.Minute)
	live := w.mustLogin() // issued after the clock moved: the control
	if in := w.introspect(w.rs, live); in["active"] != true {
		t.Fatalf("control token inactive: %v", in)
	}
	tests := []struct{ name, token string }{
		{"expired", expired},
		{"revoked", revoked},
		{"refresh token", refresh},
		{"other tenant's", otherTenant},
		{"unknown", unknown},
		{"of a disabled user", disabledUser},
		{"issued before a password change", passwordChanged},
		{"of a disabled client", disabledClient},
		{"malformed", live[:len(live)-1]},
		{"client secret", w.app.Secret},
		{"garbage", "' OR '1'='1"},
	}
	var first response
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.post("/introspect", &w.rs, url.Values{"token": {tt.token}})
			wantInactive(t, r)
			if i == 0 {
				first = r
				return
			}
			if diff := cmp.Diff(stableHeaders(first.Header), stableHeaders(r.Header)); diff != "" {
				t.Errorf("headers differ from %q (-first +this):\n%s", tests[0].name, diff)
			}
		})
	}
}

// tokenQueries counts the SQL statements that touch the tokens table.
type tokenQueries struct{ n atomic.Int64 }

var tokensTable = regexp.MustCompile(`\btokens\b`)

func (q *tokenQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if tokensTable.MatchString(d.SQL) {
		q.n.Add(1)
	}
	return ctx
}

func (q *tokenQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Prefix, length and checksum are checked before any database read. A tracer on
// the pool counts the statements that touch the tokens table while /introspect and /revoke
// answer a malformed token; a well-formed unknown token is the control that the counter
// sees the lookup.
func TestMalformedTokensReadNoTokenRow(t *testing.T) {
	var q tokenQueries
	pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) { c.ConnConfig.Tracer = &q })
	e := newEnv(t, onPool(pool))
	e.mustTenant("a")
	w := world{env: e,
		app: e.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password"}, Scopes: []string{"read"}}),
		rs:  e.mustClient("a", service.ClientSpec{Name: "api", Introspect: true}),
	}
	w.alice = e.mustUser("a", "alice", testkit.AlicePassword)
	at := w.mustLogin()

	// replace returns at with the character at i replaced by a different base62 digit.
	replace := func(i int) string {
		c := byte('A')
		if at[i] == 'A' {
			c = 'B'
		}
		return at[:i] + string(c) + at[i+1:]
	}
	body := at[len(tokens.Access):]
	tests := []struct {
		name  string
		token string
		// revokeReads: the string is a well-formed token of another kind, which /revoke
		// (refresh tokens too) must look up.
		revokeReads bool
	}{
		{name: "refresh prefix", token: string(tokens.Refresh) + body, revokeReads: true},
		{name: "client secret prefix", token: string(tokens.ClientSecret) + body},
		{name: "unknown prefix", token: "jxt_" + body},
		{name: "upper-case prefix", token: "JAT_" + body},
		{name: "no prefix", token: body},
		{name: "truncated", token: at[:len(at)-1]},
		{name: "one character longer", token: at + "0"},
		{name: "padded with =", token: at + "="},
		{name: "leading space", token: " " + at},
		{name: "flipped checksum character", token: replace(len(at) - 1)},
		{name: "flipped random character", token: replace(len(tokens.Access) + 5)},
		{name: "non-base62 characters", token: "jat_" + strings.Repeat("-", len(body))},
		{name: "SQL", token: "jat_' OR '1'='1"},
		// Control characters make a malformed token like any other (RFC 7662 §2.2, RFC 7009
		// §2.2), never a 400: a trailing line feed is a common copy-and-paste accident.
		{name: "NUL at the end", token: at + "\x00"},
		{name: "NUL inside", token: at[:10] + "\x00" + at[10:]},
		{name: "line feed at the end", token: at + "\n"},
		{name: "line feed inside", token: at[:10] + "\n" + at[10:]},
		{name: "carriage return at the end", token: at + "\r"},
		{name: "CR LF at the end", token: at + "\r\n"},
		{name: "tab inside", token: at[:10] + "\t" + at[10:]},
		{name: "other C0 controls inside", token: at[:10] + "\x01\x08\x1b\x1f" + at[10:]},
		{name: "DEL at the end", token: at + "\x7f"},
		{name: "C1 control at the end", token: at + "\u0085"},
		{name: "only a NUL", token: "\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.token == at {
				t.Fatal("not malformed")
			}
			q.n.Store(0)
			wantInactive(t, w.post("/introspect", &w.rs, url.Values{"token": {tt.token}}))
			if n := q.n.Load(); n != 0 {
				t.Errorf("/introspect ran %d statements on tokens", n)
			}
			q.n.Store(0)
			if r := w.post("/revoke", &w.app, url.Values{"token": {tt.token}}); r.Status != http.StatusOK || len(r.Body) != 0 {
				t.Errorf("revoke: %d %q, want 200 and no body", r.Status, r.Body)
			}
			if n := q.n.Load(); n != 0 && !tt.revokeReads {
				t.Errorf("/revoke ran %d statements on tokens", n)
			}
		})
	}
	t.Run("well-formed unknown token is looked up", func(t *testing.T) {
		unknown, err := tokens.New(tokens.Access, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		q.n.Store(0)
		wantInactive(t, w.post("/introspect", &w.rs, url.Values{"token": {unknown}}))
		if q.n.Load() == 0 {
			t.Error("the tracer saw no token lookup: the counter is blind")
		}
	})
	if in := w.introspect(w.rs, at); in["active"] != true {
		t.Errorf("the real token is no longer active after revoking its variants: %v", in)
	}
}

// RFC 7662 §2.1, §4: only authenticated resource servers of the tenant may introspect; a
// client without the permission gets 403 and learns nothing.
func TestIntrospectCaller(t *testing.T) {
	w := newLoginWorld(t)
	at := w.mustLogin()
	tests := []struct {
		name   string
		auth   string
		query  string
		form   url.Values
		status int
		code   string // "" for an active answer
	}{
		{name: "resource server by basic", auth: basic(w.rs.ID, w.rs.Secret), form: url.Values{"token": {at}}, status: 200},
		{name: "resource server by form", form: url.Values{"token": {at}, "client_id": {w.rs.ID}, "client_secret": {w.rs.Secret}}, status: 200},
		{name: "token_type_hint refresh_token is only a hint", auth: basic(w.rs.ID, w.rs.Secret),
			form: url.Values{"token": {at}, "token_type_hint": {"refresh_token"}}, status: 200},
		{name: "unknown token_type_hint", auth: basic(w.rs.ID, w.rs.Secret),
			form: url.Values{"token": {at}, "token_type_hint": {"garbage"}}, status: 200},
		{name: "no authentication", form: url.Values{"token": {at}}, status: 401, code: "invalid_client"},
		{name: "wrong secret", auth: basic(w.rs.ID, w.rs.Secret+"x"), form: url.Values{"token": {at}}, status: 401, code: "invalid_client"},
		{name: "basic and form", auth: basic(w.rs.ID, w.rs.Secret), form: url.Values{"token": {at}, "client_id": {w.rs.ID}},
			status: 400, code: "invalid_request"},
		{name: "credentials in query string", query: "?" + url.Values{"client_id": {w.rs.ID}, "client_secret": {w.rs.Secret}}.Encode(),
			form: url.Values{"token": {at}}, status: 401, code: "invalid_client"},
		{name: "token in query string", auth: basic(w.rs.ID, w.rs.Secret), query: "?token=" + at, form: url.Values{},
			status: 400, code: "invalid_request"},
		{name: "missing token", auth: basic(w.rs.ID, w.rs.Secret), form: url.Values{}, status: 400, code: "invalid_request"},
		{name: "empty token", auth: basic(w.rs.ID, w.rs.Secret), form: url.Values{"token": {""}}, status: 400, code: "invalid_request"},
		{name: "repeated token", auth: basic(w.rs.ID, w.rs.Secret), form: url.Values{"token": {at, at}}, status: 400, code: "invalid_request"},
		// A token with control characters is inactive (TestMalformedTokensReadNoTokenRow);
		// one that is not UTF-8 at all is not a form of text, and the other parameters
		// keep refusing NUL.
		{name: "token not UTF-8", auth: basic(w.rs.ID, w.rs.Secret), form: url.Values{"token": {at + "\xff"}},
			status: 400, code: "invalid_request"},
		{name: "NUL in token_type_hint", auth: basic(w.rs.ID, w.rs.Secret),
			form: url.Values{"token": {at}, "token_type_hint": {"access_token\x00"}}, status: 400, code: "invalid_request"},
		{name: "NUL in client_id", form: url.Values{"token": {at}, "client_id": {w.rs.ID + "\x00"}, "client_secret": {w.rs.Secret}},
			status: 400, code: "invalid_request"},
		{name: "app without introspect permission", auth: basic(w.app.ID, w.app.Secret), form: url.Values{"token": {at}},
			status: 403, code: "unauthorized_client"},
		{name: "app asking about garbage", auth: basic(w.app.ID, w.app.Secret), form: url.Values{"token": {"x"}},
			status: 403, code: "unauthorized_client"},
		{name: "app without a token", auth: basic(w.app.ID, w.app.Secret), form: url.Values{},
			status: 403, code: "unauthorized_client"},
		{name: "public client", form: url.Values{"token": {at}, "client_id": {w.pub.ID}}, status: 403, code: "unauthorized_client"},
		{name: "bearer token instead of client credentials", auth: "Bearer " + at, form: url.Values{"token": {at}},
			status: 401, code: "invalid_client"},
		{name: "body over 64 KiB", auth: basic(w.rs.ID, w.rs.Secret),
			form: url.Values{"token": {at}, "pad": {strings.Repeat("x", api.MaxBodyBytes)}}, status: 413, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers("Content-Type", formType)
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			r := w.send(http.MethodPost, "/introspect"+tt.query, h, tt.form.Encode())
			if tt.code != "" {
				wantError(t, r, tt.status, tt.code)
				if tt.status == http.StatusForbidden && string(r.Body) != `{"error":"unauthorized_client"}` {
					t.Errorf("body %s, want exactly {\"error\":\"unauthorized_client\"}", r.Body)
				}
				return
			}
			if r.Status != tt.status || r.JSON(t)["active"] != true {
				t.Errorf("got %d %s, want an active token", r.Status, r.Body)
			}
			wantNoStore(t, r)
		})
	}
}

// RFC 7009 §2.1, §2.2: the client the token was issued to revokes it; anything it cannot
// find is a 200 too. Revocation answers 200 with an empty body.
func TestRevoke(t *testing.T) {
	w := newLoginWorld(t)
	revoked := w.mustLogin()
	if r := w.post("/revoke", &w.app, url.Values{"token": {revoked}}); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	unknown, err := tokens.New(tokens.Access, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		as     *client // nil: form credentials in the form
		form   url.Values
		status int
		code   string // "" for 200 with an empty body
	}{
		{name: "unknown token", as: &w.app, form: url.Values{"token": {unknown}}, status: 200},
		{name: "malformed token", as: &w.app, form: url.Values{"token": {"jat_nope"}}, status: 200},
		{name: "already revoked", as: &w.app, form: url.Values{"token": {revoked}}, status: 200},
		{name: "unknown hint", as: &w.app, form: url.Values{"token": {unknown}, "token_type_hint": {"foo"}}, status: 200},
		{name: "missing token", as: &w.app, form: url.Values{}, status: 400, code: "invalid_request"},
		{name: "empty token", as: &w.app, form: url.Values{"token": {""}}, status: 400, code: "invalid_request"},
		{name: "token not UTF-8", as: &w.app, form: url.Values{"token": {revoked + "\xff"}}, status: 400, code: "invalid_request"},
		{name: "NUL in token_type_hint", as: &w.app, form: url.Values{"token": {revoked}, "token_type_hint": {"\x00"}},
			status: 400, code: "invalid_request"},
		{name: "wrong secret", as: &client{ID: w.app.ID, Secret: w.app.Secret + "x"}, form: url.Values{"token": {revoked}},
			status: 401, code: "invalid_client"},
		{name: "no authentication", form: url.Values{"token": {revoked}}, status: 401, code: "invalid_client"},
		{name: "body over 64 KiB", as: &w.app, form: url.Values{"token": {revoked}, "pad": {strings.Repeat("x", api.MaxBodyBytes)}},
			status: 413, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.post("/revoke", tt.as, tt.form)
			if tt.code != "" {
				wantError(t, r, tt.status, tt.code)
				return
			}
			if r.Status != tt.status || len(r.Body) != 0 {
				t.Errorf("got %d %q, want 200 and no body", r.Status, r.Body)
			}
			wantNoStore(t, r)
		})
	}

	for _, tt := range []struct {
		name string
		form func(at string) url.Values
		as   *client
	}{
		{"by basic", func(at string) url.Values { return url.Values{"token": {at}} }, &w.app},
		{"by form credentials", func(at string) url.Values {
			return url.Values{"token": {at}, "client_id": {w.app.ID}, "client_secret": {w.app.Secret}}
		}, nil},
		{"with the refresh_token hint", func(at string) url.Values {
			return url.Values{"token": {at}, "token_type_hint": {"refresh_token"}}
		}, &w.app},
	} {
		t.Run("own token "+tt.name, func(t *testing.T) {
			at := w.mustLogin()
			if r := w.post("/revoke", tt.as, tt.form(at)); r.Status != http.StatusOK || len(r.Body) != 0 {
				t.Fatalf("got %d %q", r.Status, r.Body)
			}
			wantInactive(t, w.post("/introspect", &w.rs, url.Values{"token": {at}}))
		})
	}

	t.Run("public client's own token", func(t *testing.T) {
		form := passwordForm("client_id", w.pub.ID)
		r := w.post("/token", nil, form)
		at := wantToken(t, r, "read write")
		if r := w.post("/revoke", nil, url.Values{"token": {at}, "client_id": {w.pub.ID}}); r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Fatalf("got %d %q", r.Status, r.Body)
		}
		wantInactive(t, w.post("/introspect", &w.rs, url.Values{"token": {at}}))
	})

	t.Run("refresh token takes its access token with it", func(t *testing.T) {
		tok := w.login(w.app, "alice", testkit.AlicePassword)
		at, _ := tok["access_token"].(string)
		rt, _ := tok["refresh_token"].(string)
		// The hint is wrong on purpose: RFC 7009 §2.1 says to look further.
		if r := w.post("/revoke", &w.app, url.Values{"token": {rt}, "token_type_hint": {"access_token"}}); r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Fatalf("got %d %q", r.Status, r.Body)
		}
		wantInactive(t, w.post("/introspect", &w.rs, url.Values{"token": {at}}))
	})

	t.Run("revoking one token leaves the others", func(t *testing.T) {
		a, b := w.mustLogin(), w.mustLogin()
		if r := w.post("/revoke", &w.app, url.Values{"token": {a}}); r.Status != http.StatusOK {
			t.Fatalf("got %d %q", r.Status, r.Body)
		}
		if in := w.introspect(w.rs, b); in["active"] != true {
			t.Errorf("other token %v", in)
		}
	})
}
