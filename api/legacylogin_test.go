package api_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// oldSystem is a legacy system's login check: it verifies the Standard Webhooks signature
// of each call independently (HMAC-SHA256 over id.timestamp.body under the secret's key)
// and answers with answer(username, password).
type oldSystem struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	now    func() time.Time
	calls  atomic.Int64
	answer func(w http.ResponseWriter, r *http.Request, username, pw string)
}

func newOldSystem(t *testing.T, now func() time.Time) *oldSystem {
	o := &oldSystem{t: t, now: now}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *oldSystem) serve(w http.ResponseWriter, r *http.Request) {
	o.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	id, ts, sig := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(o.secret, "whsec_"))
	if err != nil {
		o.t.Errorf("secret %q: %v", o.secret, err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); sig != want || id == "" {
		o.t.Errorf("signature %q of id %q, want %q", sig, id, want)
	}
	if ts != fmt.Sprint(o.now().Unix()) {
		o.t.Errorf("webhook-timestamp %s, want the clock's %d", ts, o.now().Unix())
	}
	var req struct{ Username, Password string }
	if err := json.Unmarshal(body, &req); err != nil || r.Header.Get("Content-Type") != "application/json" {
		o.t.Errorf("body %s (%s): %v", body, r.Header.Get("Content-Type"), err)
	}
	o.answer(w, r, req.Username, req.Password)
}

// accepts answers 200 ok for pw, 401 otherwise.
func accepts(pw string) func(http.ResponseWriter, *http.Request, string, string) {
	return func(w http.ResponseWriter, _ *http.Request, _, got string) {
		if got != pw {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"scope":"read","external_id":"legacy-42"}`)
	}
}

func newLegacyWorld(t *testing.T) (world, *oldSystem, string) {
	e := newEnv(t, withConfig(func(c *service.Config) { c.AllowInsecureHooks = true }),
		withAPI(api.Config{RequestTimeout: 10 * time.Second}))
	e.mustTenant("a")
	w := world{env: e}
	w.app = e.mustClient("a", appSpec("app"))
	w.alice = e.mustUser("a", "alice", testkit.AlicePassword)
	old := newOldSystem(t, e.clock.Now)
	key := e.mustAdminKey("")
	got := e.adminOK(http.StatusOK, key, "PATCH", tenantPath("a"), map[string]any{"legacy_login": map[string]any{"url": old.srv.URL + "/check"}})
	hook, _ := got["legacy_login"].(map[string]any)
	old.secret, _ = hook["secret"].(string)
	if hook["url"] != old.srv.URL+"/check" || !strings.HasPrefix(old.secret, "whsec_") {
		t.Fatalf("PATCH legacy_login: %v", got)
	}
	return w, old, key
}

func (w world) tryLogin(username, pw string) response {
	return w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}})
}

// The old system says yes: the user is created with an argon2id hash of the password and
// the login answered as usual; the old system is not asked again.
func TestLegacyLoginAccepted(t *testing.T) {
	w, old, key := newLegacyWorld(t)
	old.answer = accepts("the old password 1")
	tok := w.login(w.app, "Bob", "the old password 1")
	if tok["scope"] != "read" {
		t.Errorf("scope %v, want the old system's read", tok["scope"])
	}
	u, err := w.svc.User(t.Context(), "a", "bob")
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") || u.Scopes[0] != "read" {
		t.Fatalf("the migrated user: %+v, %v", u, err)
	}
	w.login(w.app, "bob", "the old password 1")
	if r := w.tryLogin("bob", "another password"); r.Status != http.StatusBadRequest {
		t.Errorf("wrong password of the migrated user: %d", r.Status)
	}
	if n := old.calls.Load(); n != 1 {
		t.Errorf("the old system was asked %d times, want once", n)
	}
	w.login(w.app, "alice", testkit.AlicePassword) // jeton's own users are not asked about
	if n := old.calls.Load(); n != 1 {
		t.Errorf("the old system was asked about alice")
	}
	evs := w.allEvents(key, tenantPath("a", "events"), url.Values{"kind": {"user_migrated"}})
	if len(evs) != 1 || evs[0]["subject"].(map[string]any)["name"] != "bob" {
		t.Errorf("user_migrated events: %v", evs)
	}
	if strings.Contains(w.logs.String(), "the old password 1") {
		t.Error("the password is in the log")
	}
	// The secret is never shown again.
	got := w.adminOK(http.StatusOK, key, "GET", tenantPath("a"), nil)
	if hook, _ := got["legacy_login"].(map[string]any); hook["url"] == nil || hook["secret"] != nil {
		t.Errorf("GET legacy_login: %v", got["legacy_login"])
	}
}

// 401, 403 and 404 are a wrong password: invalid_grant, no user. Anything else, or no
// answer in 3 seconds, is 503 temporarily_unavailable, never a false invalid_grant.
func TestLegacyLoginRefusedAndDown(t *testing.T) {
	w, old, _ := newLegacyWorld(t)
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request, string, string)
		status int
		code   string
	}{
		{"401", func(w http.ResponseWriter, _ *http.Request, _, _ string) { w.WriteHeader(401) }, 400, "invalid_grant"},
		{"403", func(w http.ResponseWriter, _ *http.Request, _, _ string) { w.WriteHeader(403) }, 400, "invalid_grant"},
		{"404", func(w http.ResponseWriter, _ *http.Request, _, _ string) { w.WriteHeader(404) }, 400, "invalid_grant"},
		{"ok false", func(w http.ResponseWriter, _ *http.Request, _, _ string) { _, _ = io.WriteString(w, `{"ok":false}`) }, 400, "invalid_grant"},
		{"500", func(w http.ResponseWriter, _ *http.Request, _, _ string) { w.WriteHeader(500) }, 503, "temporarily_unavailable"},
		{"302", func(w http.ResponseWriter, r *http.Request, _, _ string) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, 503, "temporarily_unavailable"},
		{"200 not JSON", func(w http.ResponseWriter, _ *http.Request, _, _ string) { _, _ = io.WriteString(w, "yes") }, 503, "temporarily_unavailable"},
		{"timeout", func(w http.ResponseWriter, r *http.Request, _, _ string) { <-r.Context().Done() }, 503, "temporarily_unavailable"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old.answer = tt.answer
			name := fmt.Sprintf("user%d", i)
			r := w.tryLogin(name, "some old password")
			if r.Status != tt.status || r.JSON(t)["error"] != tt.code {
				t.Errorf("%d %s, want %d %s", r.Status, r.Body, tt.status, tt.code)
			}
			if _, err := w.svc.User(t.Context(), "a", name); err == nil {
				t.Error("the user was created")
			}
		})
	}
	old.srv.Close()
	if r := w.tryLogin("carol", "some old password"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("the old system down: %d %s", r.Status, r.Body)
	}
}

// Two first logins of one username at once create one user, and both log in.
func TestLegacyLoginConcurrentFirstLogins(t *testing.T) {
	w, old, key := newLegacyWorld(t)
	var arrived sync.WaitGroup
	arrived.Add(2)
	release := make(chan struct{})
	go func() { arrived.Wait(); close(release) }()
	ok := accepts("the old password 2")
	old.answer = func(rw http.ResponseWriter, r *http.Request, u, pw string) {
		arrived.Done()
		select { // both calls are in before either answers
		case <-release:
		case <-r.Context().Done():
		}
		ok(rw, r, u, pw)
	}
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = w.tryLogin("dave", "the old password 2").Status
		}()
	}
	wg.Wait()
	if statuses[0] != http.StatusOK || statuses[1] != http.StatusOK {
		t.Errorf("statuses %v, want both 200", statuses)
	}
	users := w.allUsers(key, "a")
	if len(users) != 2 { // alice and dave
		t.Errorf("users %v, want alice and one dave", users)
	}
	if evs := w.allEvents(key, tenantPath("a", "events"), url.Values{"kind": {"user_migrated"}}); len(evs) != 1 {
		t.Errorf("%d user_migrated events, want 1", len(evs))
	}
}

// legacy_login is set with a global key only, checked, and turned off with null.
func TestLegacyLoginSettings(t *testing.T) {
	w, old, key := newLegacyWorld(t)
	wantProblem(t, w.admin(w.mustAdminKey("a"), "PATCH", tenantPath("a"), map[string]any{"legacy_login": nil}),
		http.StatusForbidden, "forbidden", "")
	wantProblem(t, w.admin(key, "PATCH", tenantPath("a"), map[string]any{"legacy_login": map[string]any{"url": old.srv.URL, "secret": "hunter2"}}),
		http.StatusBadRequest, "validation", "legacy_login.secret")
	wantProblem(t, w.admin(key, "PATCH", tenantPath("a"), map[string]any{"legacy_login": map[string]any{"url": "ftp://x"}}),
		http.StatusBadRequest, "validation", "legacy_login.url")
	given := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	got := w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a"), map[string]any{"name": "A renamed",
		"legacy_login": map[string]any{"url": old.srv.URL, "secret": given}})
	if got["name"] != "A renamed" || got["legacy_login"].(map[string]any)["secret"] != nil {
		t.Errorf("PATCH with a given secret: %v (a given secret is not echoed)", got)
	}
	got = w.adminOK(http.StatusOK, key, "PATCH", tenantPath("a"), map[string]any{"legacy_login": nil})
	if got["legacy_login"] != nil {
		t.Errorf("off: %v", got)
	}
	if r := w.tryLogin("erin", "x"); r.Status != http.StatusBadRequest || old.calls.Load() != 0 {
		t.Errorf("unknown user with the hook off: %d, %d calls", r.Status, old.calls.Load())
	}

	// Without --allow-insecure-hooks only https to public addresses.
	strict := newEnv(t)
	strict.mustTenant("s")
	wantProblem(t, strict.admin(strict.mustAdminKey(""), "PATCH", tenantPath("s"), map[string]any{"legacy_login": map[string]any{"url": old.srv.URL}}),
		http.StatusBadRequest, "validation", "legacy_login.url")
	wantProblem(t, strict.admin(strict.mustAdminKey(""), "PATCH", tenantPath("s"), map[string]any{"legacy_login": map[string]any{"url": "https://127.0.0.1/check"}}),
		http.StatusBadRequest, "validation", "legacy_login.url")
}
