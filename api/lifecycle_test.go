package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/breach"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

var resetTokenRE = regexp.MustCompile(`^jpr_[0-9A-Za-z]{49}$`)

// mustReset asks for a reset token of user id with the admin key and returns it.
func (w world) mustReset(key, id string) string {
	w.t.Helper()
	m := w.adminOK(http.StatusOK, key, "POST", "/admin/v1/tenants/a/users/"+id+"/password-reset", nil)
	tok, _ := m["reset_token"].(string)
	if !resetTokenRE.MatchString(tok) {
		w.t.Fatalf("reset_token %q", tok)
	}
	return tok
}

// redeem posts a reset token and new password as a form.
func (w world) redeem(tok, pw string) response {
	w.t.Helper()
	return w.post("/account/v1/password-reset", nil, url.Values{"reset_token": {tok}, "new_password": {pw}})
}

func (w world) revocations(kind string) int {
	w.t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM revocations WHERE kind = $1`, kind).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func TestPasswordResetLifecycle(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a")
	id := w.alice.ID.String()
	const newPw = "a brand new passphrase"

	old := w.login(w.app, "alice", testkit.AlicePassword)
	users := w.revocations("user")
	tok := w.mustReset(key, id)
	if r := w.redeem(tok, newPw); r.Status != http.StatusNoContent {
		t.Fatalf("redeem: %d %s", r.Status, r.Body)
	}
	if got := w.introspect(w.rs, old["access_token"].(string))["active"]; got != false {
		t.Error("a token from before the reset is still active")
	}
	if got := w.revocations("user"); got != users+1 {
		t.Errorf("revocation log has %d user revocations, want %d: the feed must carry the reset", got, users+1)
	}
	w.login(w.app, "alice", newPw)

	t.Run("single use", func(t *testing.T) {
		wantProblem(t, w.redeem(tok, "yet another passphrase"), http.StatusBadRequest, "invalid-reset-token", "")
	})
	t.Run("expiry", func(t *testing.T) {
		tok := w.mustReset(key, id)
		w.clock.Advance(service.DefaultResetTTL + time.Second)
		wantProblem(t, w.redeem(tok, "yet another passphrase"), http.StatusBadRequest, "invalid-reset-token", "")
	})
	t.Run("newer kills older", func(t *testing.T) {
		older := w.mustReset(key, id)
		newer := w.mustReset(key, id)
		wantProblem(t, w.redeem(older, "yet another passphrase"), http.StatusBadRequest, "invalid-reset-token", "")
		if r := w.redeem(newer, "yet another passphrase"); r.Status != http.StatusNoContent {
			t.Fatalf("newer token: %d %s", r.Status, r.Body)
		}
	})
	t.Run("password change kills it", func(t *testing.T) {
		tok := w.mustReset(key, id)
		w.adminOK(http.StatusNoContent, key, "PUT", "/admin/v1/tenants/a/users/"+id+"/password",
			map[string]string{"password": "an admin chosen passphrase"})
		wantProblem(t, w.redeem(tok, "yet another passphrase 2"), http.StatusBadRequest, "invalid-reset-token", "")
	})
	t.Run("disable kills it", func(t *testing.T) {
		tok := w.mustReset(key, id)
		w.adminOK(http.StatusOK, key, "PATCH", "/admin/v1/tenants/a/users/"+id, map[string]bool{"disabled": true})
		w.adminOK(http.StatusOK, key, "PATCH", "/admin/v1/tenants/a/users/"+id, map[string]bool{"disabled": false})
		wantProblem(t, w.redeem(tok, "yet another passphrase 3"), http.StatusBadRequest, "invalid-reset-token", "")
	})
	t.Run("malformed and unknown tokens", func(t *testing.T) {
		wantProblem(t, w.redeem("jpr_nope", "yet another passphrase 4"), http.StatusBadRequest, "invalid-reset-token", "")
		wantProblem(t, w.redeem(strings.Replace(w.mustReset(key, id), "jpr_", "jat_", 1), "yet another passphrase 4"),
			http.StatusBadRequest, "invalid-reset-token", "")
	})
	t.Run("policy refusal keeps the token", func(t *testing.T) {
		tok := w.mustReset(key, id)
		wantProblem(t, w.redeem(tok, "short"), http.StatusBadRequest, "validation", "")
		r := w.send(http.MethodPost, "/account/v1/password-reset", headers("Content-Type", "application/json"),
			fmt.Sprintf(`{"reset_token":%q,"new_password":"a JSON body passphrase"}`, tok))
		if r.Status != http.StatusNoContent {
			t.Fatalf("JSON redeem: %d %s", r.Status, r.Body)
		}
	})
	t.Run("only the hash is stored", func(t *testing.T) {
		tok := w.mustReset(key, id)
		var n int
		w.pool.QueryRow(context.Background(), `SELECT count(*) FROM password_resets WHERE position($1::bytea in hash) > 0`,
			[]byte(tok)).Scan(&n)
		if n != 0 {
			t.Error("the token is stored in clear")
		}
	})
}

// An unknown or disabled username gets the same answer as a real one, through the same
// work: one transaction of the same two statements (CreateReset), whose event is the only
// trace; only the real user's token is stored.
func TestPasswordResetByUsernameIndistinguishable(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a")
	bob := w.mustUser("a", "bob", "bob's long passphrase")
	w.adminOK(http.StatusOK, key, "PATCH", "/admin/v1/tenants/a/users/"+bob.ID.String(), map[string]bool{"disabled": true})
	shape := func(username string) (keys []string, tok string, exp any) {
		t.Helper()
		m := w.adminOK(http.StatusOK, key, "POST", "/admin/v1/tenants/a/password-resets", map[string]string{"username": username})
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys, m["reset_token"].(string), m["expires_at"]
	}
	count := func(q string) int {
		var n int
		if err := w.pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var realKeys []string
	var realExp any
	for i, name := range []string{"alice", "nobody", "bob", "not a valid name\u0007"} {
		events := count(`SELECT count(*) FROM events WHERE kind = 'password_reset_requested'`)
		resets := count(`SELECT count(*) FROM password_resets`)
		keys, tok, exp := shape(name)
		if !resetTokenRE.MatchString(tok) {
			t.Errorf("%q: token %q", name, tok)
		}
		if i == 0 {
			realKeys, realExp = keys, exp
		} else if fmt.Sprint(keys) != fmt.Sprint(realKeys) || exp != realExp {
			t.Errorf("%q: answer %v %v, the real user's %v %v", name, keys, exp, realKeys, realExp)
		}
		if got := count(`SELECT count(*) FROM events WHERE kind = 'password_reset_requested'`); got != events+1 {
			t.Errorf("%q: %d events written, want 1 as for every username", name, got-events)
		}
		wantStored := 0
		if i == 0 {
			wantStored = 1
		}
		if got := count(`SELECT count(*) FROM password_resets`) - resets; got != wantStored {
			t.Errorf("%q: %d tokens stored, want %d", name, got, wantStored)
		}
		if i > 0 {
			wantProblem(t, w.redeem(tok, "an attacker's passphrase"), http.StatusBadRequest, "invalid-reset-token", "")
		}
	}
}

// A reset is how a locked-out user gets back in: it clears the back-off of her address.
func TestPasswordResetClearsThrottles(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a")
	for range 8 {
		w.postFrom(&w.app, loginForm("alice", "wrong guess"))
	}
	wantThrottled(t, w.postFrom(&w.app, loginForm("alice", testkit.AlicePassword)), 0)
	th := w.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants/a/users/"+w.alice.ID.String()+"/throttles", nil)
	if a, _ := th["addresses"].([]any); len(a) != 1 || a[0].(map[string]any)["blocked_until"] == nil {
		t.Fatalf("throttles before the reset: %v", th)
	}
	if r := w.redeem(w.mustReset(key, w.alice.ID.String()), "the passphrase after reset"); r.Status != http.StatusNoContent {
		t.Fatalf("redeem: %d %s", r.Status, r.Body)
	}
	w.login(w.app, "alice", "the passphrase after reset")
}

func TestThrottleViewAndClear(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a")
	path := "/admin/v1/tenants/a/users/" + w.alice.ID.String() + "/throttles"
	empty := w.adminOK(http.StatusOK, key, "GET", path, nil)
	if a := empty["addresses"].([]any); len(a) != 0 || empty["user"] != nil || empty["backoff_after"] != float64(5) ||
		empty["user_limit"] != float64(100) {
		t.Fatalf("fresh user: %v", empty)
	}
	for range 6 {
		w.postFrom(&w.app, loginForm("alice", "wrong guess"))
	}
	th := w.adminOK(http.StatusOK, key, "GET", path, nil)
	addr := th["addresses"].([]any)
	if len(addr) != 1 || !strings.HasSuffix(addr[0].(map[string]any)["address"].(string), " 127.0.0.1") || addr[0].(map[string]any)["failures"].(float64) < 5 {
		t.Fatalf("addresses: %v", th)
	}
	if u, _ := th["user"].(map[string]any); u == nil || u["failures"].(float64) < 5 {
		t.Fatalf("user counter: %v", th)
	}
	wantThrottled(t, w.postFrom(&w.app, loginForm("alice", testkit.AlicePassword)), 0)
	w.adminOK(http.StatusNoContent, key, "DELETE", path, nil)
	var actor string
	w.pool.QueryRow(context.Background(), `SELECT actor_type FROM events WHERE kind = 'user_throttles_cleared'`).Scan(&actor)
	if actor != "admin_key" {
		t.Errorf("user_throttles_cleared actor %q, want admin_key", actor)
	}
	if a := w.adminOK(http.StatusOK, key, "GET", path, nil)["addresses"].([]any); len(a) != 0 {
		t.Errorf("addresses after clearing: %v", a)
	}
	w.login(w.app, "alice", testkit.AlicePassword)
	wantProblem(t, w.admin(key, "GET", "/admin/v1/tenants/a/users/00000000-0000-0000-0000-000000000000/throttles", nil),
		http.StatusNotFound, "not-found", "")
}

// breachFile builds a filter from a synthetic Pwned Passwords list holding pw.
func breachFile(t *testing.T, pw ...string) *breach.List {
	t.Helper()
	var b bytes.Buffer
	for i := range 5000 {
		fmt.Fprintf(&b, "%X:%d\n", sha1.Sum([]byte(fmt.Sprint("filler ", i))), i+1)
	}
	for _, p := range pw {
		fmt.Fprintf(&b, "%X:42\n", sha1.Sum([]byte(p)))
	}
	path := filepath.Join(t.TempDir(), "breached.jbf")
	if _, err := breach.Import(&b, path, t.TempDir(), breach.Progress{}); err != nil {
		t.Fatal(err)
	}
	l, err := breach.OpenList(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// passwordChange posts the password grant and returns the 403 body, failing otherwise.
func (w world) passwordChange(pw, reason string) map[string]any {
	w.t.Helper()
	r := w.postFrom(&w.app, loginForm("alice", pw))
	if r.Status != http.StatusForbidden {
		w.t.Fatalf("login: %d %s, want 403 password_change_required", r.Status, r.Body)
	}
	m := r.JSON(w.t)
	if m["error"] != "password_change_required" || m["reason"] != reason || m["error_description"] == "" {
		w.t.Fatalf("403 body %v, want reason %s", m, reason)
	}
	return m
}

func TestForcedPasswordChange(t *testing.T) {
	const leaked = "a passphrase that leaked"
	list := breachFile(t, leaked)
	for _, reason := range []string{service.ReasonAdmin, service.ReasonExpired, service.ReasonBreached} {
		t.Run(reason, func(t *testing.T) {
			e := newEnv(t, withConfig(func(c *service.Config) { c.BreachCheckLogin = true }), withService(service.WithBreachList(list)))
			e.mustTenant("a")
			w := world{env: e}
			w.app = e.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password", "refresh_token"}})
			w.rs = e.mustClient("a", service.ClientSpec{Name: "api", Introspect: true})
			pw := testkit.AlicePassword
			key := w.mustAdminKey("a")
			switch reason {
			case service.ReasonAdmin:
				w.alice = e.mustUser("a", "alice", pw)
				u := w.adminOK(http.StatusOK, key, "PUT", "/admin/v1/tenants/a/users/"+w.alice.ID.String()+"/password-change-required", nil)
				if u["password_change_reason"] != "admin" {
					t.Fatalf("user after marking: %v", u)
				}
			case service.ReasonExpired:
				w.alice = e.mustUser("a", "alice", pw)
				w.adminOK(http.StatusOK, key, "PATCH", "/admin/v1/tenants/a", map[string]string{"password_max_age": "720h"})
				w.login(w.app, "alice", pw) // not yet
				w.clock.Advance(721 * time.Hour)
			case service.ReasonBreached:
				// Listed after it was set: the login finds it.
				pw = leaked
				w.alice = w.userWithHash("alice", pw)
			}
			m := w.passwordChange(pw, reason)
			tok, _ := m["reset_token"].(string)
			if reason == service.ReasonBreached {
				if tok != "" {
					t.Fatalf("a reset token for whoever presents a leaked password: %v", m)
				}
				got := w.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants/a/users/"+w.alice.ID.String(), nil)
				if got["password_change_reason"] != "breached" {
					t.Fatalf("user not marked breached: %v", got)
				}
				tok = w.mustReset(key, w.alice.ID.String()) // the backend's mailed reset
			}
			// Still required; a new answer's token replaces the first.
			if again := w.passwordChange(pw, reason); reason != service.ReasonBreached {
				wantProblem(t, w.redeem(tok, "the changed passphrase"), http.StatusBadRequest, "invalid-reset-token", "")
				tok = again["reset_token"].(string)
			}
			if r := w.redeem(tok, "the changed passphrase"); r.Status != http.StatusNoContent {
				t.Fatalf("redeem: %d %s", r.Status, r.Body)
			}
			w.login(w.app, "alice", "the changed passphrase")
			if r := w.postFrom(&w.app, loginForm("alice", "not the password")); r.Status != http.StatusBadRequest {
				t.Errorf("a wrong password: %d, want 400 invalid_grant (no 403 hint)", r.Status)
			}
		})
	}
}

// userWithHash creates a user whose password the policy would refuse now, as an import
// or an older list would have left it.
func (w world) userWithHash(name, pw string) db.User {
	w.t.Helper()
	u := w.mustUser("a", name, "a temporary passphrase")
	h, err := password.Hash(pw, testkit.FastHash, rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.pool.Exec(context.Background(), `UPDATE users SET password_hash = $1 WHERE id = $2`, h, u.ID); err != nil {
		w.t.Fatal(err)
	}
	return u
}

func TestNewPasswordChecks(t *testing.T) {
	const leaked = "a passphrase that leaked"
	w := newWorld(t, withService(service.WithBreachList(breachFile(t, leaked))))
	key := w.mustAdminKey("a")
	set := func(pw string) response {
		return w.admin(key, "PUT", "/admin/v1/tenants/a/users/"+w.alice.ID.String()+"/password", map[string]string{"password": pw})
	}
	t.Run("breached", func(t *testing.T) {
		if p := wantProblem(t, set(leaked), http.StatusBadRequest, "validation", "password"); !strings.Contains(p["detail"].(string), "breach") {
			t.Errorf("detail %v", p["detail"])
		}
		wantProblem(t, w.admin(key, "POST", "/admin/v1/tenants/a/users", map[string]string{"username": "carol", "password": leaked}),
			http.StatusBadRequest, "validation", "")
	})
	t.Run("history", func(t *testing.T) {
		w.adminOK(http.StatusOK, key, "PATCH", "/admin/v1/tenants/a", map[string]int{"password_history": 3})
		seq := []string{"history passphrase one", "history passphrase two"}
		for _, pw := range seq {
			if r := set(pw); r.Status != http.StatusNoContent {
				t.Fatalf("set %q: %d %s", pw, r.Status, r.Body)
			}
		}
		// The last three: the current one, the one before and alice's first.
		for _, pw := range []string{"history passphrase two", "history passphrase one", testkit.AlicePassword} {
			wantProblem(t, set(pw), http.StatusBadRequest, "validation", "")
		}
		tok := w.mustReset(key, w.alice.ID.String())
		wantProblem(t, w.redeem(tok, "history passphrase one"), http.StatusBadRequest, "validation", "")
		if r := w.redeem(tok, "history passphrase three"); r.Status != http.StatusNoContent {
			t.Fatalf("redeem: %d %s", r.Status, r.Body)
		}
		if r := set(testkit.AlicePassword); r.Status != http.StatusNoContent {
			t.Errorf("the fourth-last password: %d %s, want accepted", r.Status, r.Body)
		}
		var n int
		w.pool.QueryRow(context.Background(), `SELECT count(*) FROM password_history WHERE user_id = $1`, w.alice.ID).Scan(&n)
		if n != 2 {
			t.Errorf("%d old hashes kept, want 2 (history 3 less the current)", n)
		}
		w.adminOK(http.StatusNoContent, key, "DELETE", "/admin/v1/tenants/a/users/"+w.alice.ID.String(), nil)
		w.pool.QueryRow(context.Background(), `SELECT count(*) FROM password_history WHERE user_id = $1`, w.alice.ID).Scan(&n)
		if n != 0 {
			t.Errorf("%d old hashes outlive the user", n)
		}
	})
	t.Run("tenant's forbidden words", func(t *testing.T) {
		w.adminOK(http.StatusOK, key, "PUT", "/admin/v1/tenants/a/forbidden-passwords", map[string][]string{"words": {"Acme", "rocket"}})
		got := w.adminOK(http.StatusOK, key, "GET", "/admin/v1/tenants/a/forbidden-passwords", nil)
		if fmt.Sprint(got["words"]) != "[acme rocket]" {
			t.Errorf("words %v", got["words"])
		}
		wantProblem(t, w.admin(key, "POST", "/admin/v1/tenants/a/users", map[string]string{"username": "dave", "password": "my ACME password 2026"}),
			http.StatusBadRequest, "validation", "")
		wantProblem(t, w.admin(key, "PUT", "/admin/v1/tenants/a/forbidden-passwords", map[string][]string{"words": {"abc"}}),
			http.StatusBadRequest, "validation", "")
	})
}

// A tenant's backend asks for reset tokens with its own client credentials when the client
// has the password_reset permission.
func TestPasswordResetByClient(t *testing.T) {
	w := newWorld(t)
	w.mustTenant("b")
	backend := w.mustClient("a", service.ClientSpec{Name: "backend", PasswordReset: true})
	other := w.mustClient("b", service.ClientSpec{Name: "b backend", PasswordReset: true})
	ask := func(c client) response {
		h := headers("Content-Type", "application/json", "Authorization", basic(c.ID, c.Secret))
		return w.send(http.MethodPost, "/admin/v1/tenants/a/password-resets", h, `{"username":"alice"}`)
	}
	r := ask(backend)
	if r.Status != http.StatusOK || !resetTokenRE.MatchString(r.JSON(t)["reset_token"].(string)) {
		t.Fatalf("backend: %d %s", r.Status, r.Body)
	}
	if got := w.redeem(r.JSON(t)["reset_token"].(string), "set through the backend"); got.Status != http.StatusNoContent {
		t.Fatalf("redeem: %d %s", got.Status, got.Body)
	}
	var actor string
	w.pool.QueryRow(context.Background(), `SELECT actor_type FROM events WHERE kind = 'password_reset_requested'`).Scan(&actor)
	if actor != "client" {
		t.Errorf("event actor %q, want client", actor)
	}
	wantProblem(t, ask(w.app), http.StatusForbidden, "forbidden", "")
	wantProblem(t, ask(client{ID: backend.ID, Secret: w.app.Secret}), http.StatusUnauthorized, "unauthorized", "")
	wantProblem(t, ask(other), http.StatusNotFound, "not-found", "")
	r = w.send(http.MethodPost, "/admin/v1/tenants/a/users/"+w.alice.ID.String()+"/password-reset",
		headers("Authorization", basic(backend.ID, backend.Secret)), "")
	if r.Status != http.StatusOK {
		t.Fatalf("by id: %d %s", r.Status, r.Body)
	}
	if _, _, err := w.svc.CreateClient(context.Background(), w.cli, "a", service.ClientSpec{Name: "spa", Public: true, PasswordReset: true}); err == nil {
		t.Error("a public client got password_reset")
	}
}

// Redemptions are throttled per address (unknown tokens) and per token (refused
// passwords); a throttled address gets 429 even with a good token.
func TestPasswordResetThrottled(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a")
	tok := w.mustReset(key, w.alice.ID.String())
	for range service.ResetTokenLimit {
		wantProblem(t, w.redeem(tok, "short"), http.StatusBadRequest, "validation", "password")
	}
	r := w.redeem(tok, "a good long passphrase")
	wantProblem(t, r, http.StatusTooManyRequests, "too-many-attempts", "")
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	w.clock.Advance(service.ResetWindow)
	tok = w.mustReset(key, w.alice.ID.String())
	for range service.ResetAddressLimit {
		wantProblem(t, w.redeem("jpr_unknown", "a good long passphrase"), http.StatusBadRequest, "invalid-reset-token", "")
	}
	wantProblem(t, w.redeem(tok, "a good long passphrase"), http.StatusTooManyRequests, "too-many-attempts", "")
	w.clock.Advance(service.ResetWindow)
	if r := w.redeem(w.mustReset(key, w.alice.ID.String()), "a good long passphrase"); r.Status != http.StatusNoContent {
		t.Fatalf("after the window: %d %s", r.Status, r.Body)
	}
}

// With a second factor active, the forced change answers after it: a breached password
// then comes with a reset token, since the factor proved who is signing in.
func TestForcedChangeAfterSecondFactor(t *testing.T) {
	const leaked = "a passphrase that leaked"
	w := newMFAWorld(t, service.MFAOptional, withService(service.WithBreachList(breachFile(t, leaked))))
	secret, _ := w.enrol("alice", testkit.AlicePassword)
	// The password leaked after it was set, and the login checks it.
	h, err := password.Hash(leaked, testkit.FastHash, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w.pool.Exec(context.Background(), `UPDATE users SET password_hash = $1 WHERE id = $2`, h, w.alice.ID)
	key := w.mustAdminKey("a")
	w.adminOK(http.StatusOK, key, "PUT", "/admin/v1/tenants/a/users/"+w.alice.ID.String()+"/password-change-required",
		map[string]string{"reason": "breached"})
	mt := w.mfaToken(w.app, "alice", leaked) // the factor comes first
	r := w.otpGrant(w.app, grantOTP, mt, w.code(secret, 0))
	if r.Status != http.StatusForbidden {
		t.Fatalf("after the factor: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	tok, _ := m["reset_token"].(string)
	if m["error"] != "password_change_required" || m["reason"] != "breached" || !resetTokenRE.MatchString(tok) {
		t.Fatalf("answer %v", m)
	}
	if r := w.redeem(tok, "the passphrase after the breach"); r.Status != http.StatusNoContent {
		t.Fatalf("redeem: %d %s", r.Status, r.Body)
	}
}
