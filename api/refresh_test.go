package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"golang.org/x/oauth2"
)

const day = 24 * time.Hour

// tryRefresh runs the refresh_token grant as c; extra are name, value pairs for the form.
func (e *env) tryRefresh(c client, rt string, extra ...string) response {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return e.post("/token", &c, form)
}

// mustRefresh is tryRefresh failing the test on anything but 200.
func (e *env) mustRefresh(c client, rt string, extra ...string) map[string]any {
	e.t.Helper()
	r := e.tryRefresh(c, rt, extra...)
	if r.Status != http.StatusOK {
		e.t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)
}

// expectOAuthError checks an RFC 6749 §5.2 error's status and code.
func expectOAuthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if got := r.JSON(t)["error"]; got != code {
		t.Fatalf("error %v, want %s; body %s", got, code, r.Body)
	}
}

// isActive reports whether rs is told that tok is active. An inactive answer must be
// exactly {"active":false}.
func (e *env) isActive(rs client, tok string) bool {
	e.t.Helper()
	r := e.post("/introspect", &rs, url.Values{"token": {tok}})
	if r.Status != http.StatusOK {
		e.t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	if string(r.Body) == `{"active":false}` {
		return false
	}
	if r.JSON(e.t)["active"] != true {
		e.t.Fatalf("introspect answered %s", r.Body)
	}
	return true
}

// str returns m[key] as a string ("" when absent or not a string).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// postConcurrently sends the form to path as c without touching testing.T, for use from
// several goroutines.
func (e *env) postConcurrently(path string, c client, form url.Values) (int, error) {
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basic(c.ID, c.Secret))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// RFC 6749 §6: a refresh gives a new access token and a new refresh token in the same
// session; the old refresh token is used up.
func TestRefreshRotation(t *testing.T) {
	w := newWorld(t)
	first := w.login(w.app, "alice", testkit.AlicePassword)
	rt := str(first, "refresh_token")
	if !strings.HasPrefix(rt, "jrt_") || len(rt) != 53 {
		t.Fatalf("refresh_token %q, want jrt_ and 53 characters", rt)
	}
	sid := str(w.introspect(w.rs, str(first, "access_token")), "sid")
	if sid == "" {
		t.Fatal("introspection of a user token has no sid")
	}

	w.clock.Advance(time.Hour)
	second := w.mustRefresh(w.app, rt)
	if str(second, "access_token") == str(first, "access_token") || str(second, "refresh_token") == rt ||
		!strings.HasPrefix(str(second, "refresh_token"), "jrt_") {
		t.Fatalf("refresh response %v: want a new access and refresh token", second)
	}
	if second["token_type"] != "Bearer" || second["expires_in"] != float64(900) || second["scope"] != "read write" {
		t.Errorf("refresh response %v", second)
	}
	in := w.introspect(w.rs, str(second, "access_token"))
	if in["active"] != true || in["sid"] != sid || in["sub"] != w.alice.ID.String() || in["username"] != "alice" {
		t.Errorf("new access token introspects as %v, want active in session %s", in, sid)
	}
	third := w.mustRefresh(w.app, str(second, "refresh_token"))
	if str(w.introspect(w.rs, str(third, "access_token")), "sid") != sid {
		t.Error("the second rotation left the session")
	}
}

// A refresh token presented by a client other than the one it was issued to is
// invalid_grant and changes nothing.
func TestRefreshByAnotherClient(t *testing.T) {
	w := newWorld(t)
	tok := w.login(w.app, "alice", testkit.AlicePassword)
	spec := service.ClientSpec{Name: "other", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}}
	sameTenant := w.mustClient("a", spec)
	w.mustTenant("b")
	otherTenant := w.mustClient("b", spec)
	for _, c := range []struct {
		name   string
		client client
	}{{"same tenant", sameTenant}, {"other tenant", otherTenant}} {
		t.Run(c.name, func(t *testing.T) {
			expectOAuthError(t, w.tryRefresh(c.client, str(tok, "refresh_token")), http.StatusBadRequest, "invalid_grant")
		})
	}
	if !w.isActive(w.rs, str(tok, "access_token")) {
		t.Error("the session's access token died")
	}
	w.mustRefresh(w.app, str(tok, "refresh_token"))
}

// RFC 9700 §4.14.2: presenting a used refresh token again revokes the session, unless the
// tenant's reuse grace covers it; a used token past its own expiry is simply unknown.
func TestRefreshReuse(t *testing.T) {
	for _, c := range []struct {
		name      string
		grace     time.Duration
		wait      time.Duration // after the first use
		wantKills bool
	}{
		{"strict by default", 0, time.Second, true},
		{"within the grace", 30 * time.Second, 10 * time.Second, false},
		{"at the end of the grace", 30 * time.Second, 30 * time.Second, false},
		{"after the grace", 30 * time.Second, 31 * time.Second, true},
		{"after the used token expired", 0, 14*day - 30*time.Minute, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			if c.grace > 0 {
				if _, err := w.svc.UpdateTenant(context.Background(), w.cli, "a", func(tn *db.Tenant) {
					tn.RefreshReuseGrace = c.grace
				}); err != nil {
					t.Fatal(err)
				}
			}
			old := str(w.login(w.app, "alice", testkit.AlicePassword), "refresh_token")
			w.clock.Advance(time.Hour)
			fresh := w.mustRefresh(w.app, old) // old expires 14 days after the login, fresh an hour later
			w.clock.Advance(c.wait)

			expectOAuthError(t, w.tryRefresh(w.app, old), http.StatusBadRequest, "invalid_grant")
			if live := w.isActive(w.rs, str(fresh, "access_token")); c.wait < 15*time.Minute && live == c.wantKills {
				t.Errorf("the session's live access token: active %v, want %v", live, !c.wantKills)
			}
			r := w.tryRefresh(w.app, str(fresh, "refresh_token"))
			if c.wantKills {
				expectOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
			} else if r.Status != http.StatusOK {
				t.Errorf("the session's live refresh token: %d %s, want it working", r.Status, r.Body)
			}
		})
	}
}

// Hydra and Keycloak shipped races where concurrent refreshes of one token each won.
func TestConcurrentRefreshRace(t *testing.T) {
	w := newWorld(t)
	for round := range 5 {
		rt := str(w.login(w.app, "alice", testkit.AlicePassword), "refresh_token")
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		start := make(chan struct{})
		statuses := make([]int, 20)
		errs := make([]error, 20)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				<-start
				statuses[i], errs[i] = w.postConcurrently("/token", w.app, form)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, s := range statuses {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusBadRequest:
			default:
				t.Errorf("round %d: status %d, want 200 or 400", round, s)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d refreshes of one token succeeded, want exactly 1 (statuses %v)", round, ok, statuses)
		}
	}
}

// RFC 6749 §10.4: a refresh token is never a bearer credential, so it is inactive to every
// resource server.
func TestRefreshTokenIntrospectsInactive(t *testing.T) {
	w := newWorld(t)
	tok := w.login(w.app, "alice", testkit.AlicePassword)
	r := w.post("/introspect", &w.rs, url.Values{"token": {str(tok, "refresh_token")}, "token_type_hint": {"refresh_token"}})
	if r.Status != http.StatusOK || string(r.Body) != `{"active":false}` {
		t.Errorf("live refresh token at /introspect: %d %s, want exactly {\"active\":false}", r.Status, r.Body)
	}
}

// A login paused after its password was verified, while the password changes, must not
// mint a live token: the INSERT is conditional on the epochs read before verification.
func TestCheckThenIssueRace(t *testing.T) {
	paused, release := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	// Two workers: the paused login holds one, the password change needs the other.
	w := newWorld(t, withHookedHashers(2, nil, func() {
		if armed.CompareAndSwap(true, false) {
			close(paused)
			<-release
		}
	}))
	ctx := context.Background()
	armed.Store(true)
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}}
	done := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic(w.app.ID, w.app.Secret))
		resp, err := w.srv.Client().Do(req)
		if err != nil {
			done <- response{Status: -1, Body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		done <- response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	}()
	<-paused
	const newPassword = "a completely different passphrase"
	if err := w.svc.SetPassword(ctx, w.cli, "a", "alice", newPassword); err != nil {
		t.Fatal(err)
	}
	close(release)
	expectOAuthError(t, <-done, http.StatusBadRequest, "invalid_grant")

	sessions, err := w.store.UserSessions(ctx, w.alice.TenantID, w.alice.ID, w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Errorf("alice has %d live sessions after the raced login, want none", len(sessions))
	}
	w.login(w.app, "alice", newPassword)
	if sessions, err = w.store.UserSessions(ctx, w.alice.TenantID, w.alice.ID, w.clock.Now()); err != nil || len(sessions) != 1 {
		t.Errorf("after logging in with the new password: %d sessions, %v; want 1", len(sessions), err)
	}
}

// RFC 7009 §2.1: revoking a refresh token revokes its session; revoking an access token
// leaves the refresh token alone. The hint only says where to look first.
func TestRevocationCascade(t *testing.T) {
	for _, hint := range []string{"", "access_token", "refresh_token"} {
		t.Run("refresh token, hint "+hint, func(t *testing.T) {
			w := newWorld(t)
			first := w.login(w.app, "alice", testkit.AlicePassword)
			second := w.mustRefresh(w.app, str(first, "refresh_token"))
			r := w.post("/revoke", &w.app, url.Values{"token": {str(second, "refresh_token")}, "token_type_hint": {hint}})
			if r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			for _, at := range []string{str(first, "access_token"), str(second, "access_token")} {
				if w.isActive(w.rs, at) {
					t.Error("an access token of the revoked session is still active")
				}
			}
			expectOAuthError(t, w.tryRefresh(w.app, str(second, "refresh_token")), http.StatusBadRequest, "invalid_grant")
		})
		t.Run("access token, hint "+hint, func(t *testing.T) {
			w := newWorld(t)
			tok := w.login(w.app, "alice", testkit.AlicePassword)
			r := w.post("/revoke", &w.app, url.Values{"token": {str(tok, "access_token")}, "token_type_hint": {hint}})
			if r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			if w.isActive(w.rs, str(tok, "access_token")) {
				t.Error("the revoked access token is still active")
			}
			next := w.mustRefresh(w.app, str(tok, "refresh_token"))
			if !w.isActive(w.rs, str(next, "access_token")) {
				t.Error("the access token from the refresh is not active")
			}
		})
	}
}

// Disabling a user and setting their password revoke every token they hold, and
// re-enabling does not bring any back.
func TestUserChangesRevoke(t *testing.T) {
	ctx := context.Background()
	const newPassword = "a completely different passphrase"
	for _, c := range []struct {
		name     string
		change   func(w world) error
		undo     func(w world) error
		password string // to log in with afterwards
	}{
		{
			name: "disable, then enable",
			change: func(w world) error {
				_, err := w.svc.UpdateUser(ctx, w.cli, "a", "alice", func(u *db.User) { u.Disabled = true })
				return err
			},
			undo: func(w world) error {
				_, err := w.svc.UpdateUser(ctx, w.cli, "a", "alice", func(u *db.User) { u.Disabled = false })
				return err
			},
			password: testkit.AlicePassword,
		},
		{
			name:     "set password",
			change:   func(w world) error { return w.svc.SetPassword(ctx, w.cli, "a", "alice", newPassword) },
			undo:     func(world) error { return nil },
			password: newPassword,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			first := w.login(w.app, "alice", testkit.AlicePassword)
			second := w.mustRefresh(w.app, str(first, "refresh_token"))
			if err := c.change(w); err != nil {
				t.Fatal(err)
			}
			if err := c.undo(w); err != nil {
				t.Fatal(err)
			}
			if w.isActive(w.rs, str(first, "access_token")) || w.isActive(w.rs, str(second, "access_token")) {
				t.Error("an access token from before the change is active")
			}
			expectOAuthError(t, w.tryRefresh(w.app, str(second, "refresh_token")), http.StatusBadRequest, "invalid_grant")
			fresh := w.login(w.app, "alice", c.password)
			if !w.isActive(w.rs, str(fresh, "access_token")) {
				t.Error("a new login after the change is not active")
			}
		})
	}
}

// golang.org/x/oauth2's TokenSource refreshes an expired access token by itself, with
// client_secret_basic as the library sends it.
func TestOAuth2TokenSourceRefreshes(t *testing.T) {
	w := newWorld(t)
	conf := &oauth2.Config{ClientID: w.app.ID, ClientSecret: w.app.Secret,
		Endpoint: oauth2.Endpoint{TokenURL: w.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, w.srv.Client())
	tok, err := conf.PasswordCredentialsToken(ctx, "alice", testkit.AlicePassword)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v: want a refresh token and an expiry", tok)
	}
	w.clock.Advance(16 * time.Minute)
	if w.isActive(w.rs, tok.AccessToken) {
		t.Fatal("the access token outlived its 15 minutes")
	}
	// TokenSource judges expiry by the real clock; make the client see what the server sees.
	tok.Expiry = time.Now().Add(-time.Minute)
	ts := conf.TokenSource(ctx, tok)
	fresh, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatalf("TokenSource returned %+v, want a new access and refresh token", fresh)
	}
	if !fresh.Valid() || !w.isActive(w.rs, fresh.AccessToken) {
		t.Error("the refreshed access token is not usable")
	}
	if again, err := ts.Token(); err != nil || again.AccessToken != fresh.AccessToken {
		t.Errorf("second Token(): %v, %v; want the cached token", again, err)
	}
}
