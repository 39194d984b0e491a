package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// mustJeton runs the command line and fails the test if it fails.
func mustJeton(t *testing.T, env map[string]string, stdin string, args ...string) string {
	t.Helper()
	out, err := jeton(t, env, stdin, args...)
	if err != nil {
		t.Fatalf("jeton %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// jsonObject decodes the one JSON object of out.
func jsonObject(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not one JSON object: %q: %v", out, err)
	}
	return m
}

// jsonLines decodes out, one JSON object per line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" {
			objs = append(objs, jsonObject(t, line))
		}
	}
	return objs
}

// field collects one field of each object.
func field(objs []map[string]any, name string) []any {
	var out []any
	for _, o := range objs {
		out = append(out, o[name])
	}
	return out
}

func TestTenantCommands(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	// Flags before the argument, as after it.
	if out := mustJeton(t, env, "", "tenant", "create", "--name", "Acme", "--json", "acme"); strings.TrimSpace(out) != `{"slug":"acme","name":"Acme"}` {
		t.Fatalf("tenant create --name Acme --json acme: %q", out)
	}
	mustJeton(t, env, "", "tenant", "create", "beta")

	if d := cmp.Diff([]any{"acme", "beta"}, field(jsonLines(t, mustJeton(t, env, "", "tenant", "list", "--json")), "slug")); d != "" {
		t.Errorf("tenant list --json (-want +got):\n%s", d)
	}
	if out := mustJeton(t, env, "", "tenant", "list"); !strings.HasPrefix(out, "SLUG") || !strings.Contains(out, "acme") || !strings.Contains(out, "Acme") {
		t.Errorf("tenant list:\n%s", out)
	}
	show := jsonObject(t, mustJeton(t, env, "", "tenant", "show", "--json", "acme"))
	if show["name"] != "Acme" || show["disabled"] != false || show["access_ttl"] != nil || show["refresh_reuse_grace"] != "0s" {
		t.Errorf("tenant show --json acme: %v", show)
	}

	up := jsonObject(t, mustJeton(t, env, "", "tenant", "update", "acme", "--access-ttl", "5m", "--min-password-length", "10",
		"--login-ip-limit", "50", "--event-retention", "240h", "--disabled", "true", "--json"))
	if up["access_ttl"] != "5m" || up["min_password_length"] != 10.0 || up["login_ip_limit"] != 50.0 ||
		up["event_retention"] != "240h" || up["disabled"] != true {
		t.Errorf("tenant update --json: %v", up)
	}
	mustJeton(t, env, "", "tenant", "update", "acme", "--access-ttl", "default", "--disabled", "false")
	if out := mustJeton(t, env, "", "tenant", "show", "acme"); !hasLine(out, "access_ttl", "default") ||
		!hasLine(out, "min_password_length", "10") || !hasLine(out, "disabled", "false") {
		t.Errorf("tenant show acme after update:\n%s", out)
	}
	if _, err := jeton(t, env, "", "tenant", "update", "acme", "--min-password-length", "7"); err == nil {
		t.Error("a minimum password length of 7 was accepted")
	}

	del := jsonObject(t, mustJeton(t, env, "", "tenant", "delete", "beta", "--json"))
	if del["slug"] != "beta" || del["deleted"] != true {
		t.Errorf("tenant delete --json: %v", del)
	}
	if d := cmp.Diff([]any{"acme"}, field(jsonLines(t, mustJeton(t, env, "", "tenant", "list", "--json")), "slug")); d != "" {
		t.Errorf("tenant list after delete (-want +got):\n%s", d)
	}
	if _, err := jeton(t, env, "", "tenant", "show", "beta"); err == nil || exitCodeOf(err) != 1 {
		t.Errorf("tenant show of a deleted tenant: %v, want an error (exit 1)", err)
	}
}

// hasLine reports whether text has a line "name value" (columns aligned by spaces).
func hasLine(text, name, value string) bool {
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name && f[1] == value {
			return true
		}
	}
	return false
}

func TestClientCommands(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	mustJeton(t, env, "", "tenant", "create", "acme")
	app := createClient(t, env, "--name", "app", "--grant", "password,refresh_token", "--scope", "read write")
	id := app["client_id"]

	list := jsonLines(t, mustJeton(t, env, "", "client", "list", "--tenant", "acme", "--json"))
	if len(list) != 1 || list[0]["client_id"] != id || len(list[0]["secrets"].([]any)) != 1 {
		t.Fatalf("client list --json: %v", list)
	}
	// The argument and the older --client name the same client, on either side of the flags.
	byArg := mustJeton(t, env, "", "client", "show", id, "--tenant", "acme", "--json")
	if byFlag := mustJeton(t, env, "", "client", "show", "--tenant", "acme", "--client", id, "--json"); byFlag != byArg {
		t.Errorf("client show by --client:\n%s\nby argument:\n%s", byFlag, byArg)
	}
	if shown := jsonObject(t, byArg); shown["name"] != "app" || shown["public"] != false {
		t.Errorf("client show --json: %v", shown)
	}
	if out := mustJeton(t, env, "", "client", "show", "--tenant", "acme", id); !hasLine(out, "client_id", id) ||
		!strings.Contains(out, "read write") {
		t.Errorf("client show:\n%s", out)
	}

	rotated := jsonObject(t, mustJeton(t, env, "", "client", "rotate-secret", id, "--tenant", "acme", "--previous-valid-for", "1h", "--json"))
	if s, _ := rotated["client_secret"].(string); !strings.HasPrefix(s, "jcs_") || s == app["client_secret"] || rotated["client_id"] != id {
		t.Errorf("client rotate-secret --json: %v", rotated)
	}
	secrets := jsonObject(t, mustJeton(t, env, "", "client", "show", id, "--tenant", "acme", "--json"))["secrets"].([]any)
	if len(secrets) != 2 || secrets[0].(map[string]any)["expires_at"] == nil || secrets[1].(map[string]any)["expires_at"] != nil {
		t.Errorf("after a rotation with an hour's overlap, secrets %v; want the old one expiring and the new one", secrets)
	}

	up := jsonObject(t, mustJeton(t, env, "", "client", "update", id, "--tenant", "acme", "--disabled", "true", "--access-ttl", "1m", "--json"))
	if up["disabled"] != true || up["access_ttl"] != "1m" || up["first_party"] != false {
		t.Errorf("client update --json: %v", up)
	}
	// --first-party marks the tenant's own apps, at creation and later.
	own := createClient(t, env, "--name", "own", "--public", "--first-party", "--grant", "authorization_code,refresh_token")
	if shown := jsonObject(t, mustJeton(t, env, "", "client", "show", own["client_id"], "--tenant", "acme", "--json")); shown["first_party"] != true {
		t.Errorf("client created with --first-party: %v", shown)
	}
	off := jsonObject(t, mustJeton(t, env, "", "client", "update", own["client_id"], "--tenant", "acme", "--first-party", "false", "--json"))
	if off["first_party"] != false {
		t.Errorf("client update --first-party false: %v", off)
	}

	del := jsonObject(t, mustJeton(t, env, "", "client", "delete", "--tenant", "acme", id, "--json"))
	if del["client_id"] != id || del["deleted"] != true {
		t.Errorf("client delete --json: %v", del)
	}
	if out := mustJeton(t, env, "", "client", "list", "--tenant", "acme"); strings.Contains(out, id) || !strings.HasPrefix(out, "CLIENT_ID") {
		t.Errorf("client list after delete:\n%s", out)
	}
	if _, err := jeton(t, env, "", "client", "show", id, "--tenant", "acme"); err == nil {
		t.Error("client show of a deleted client succeeded")
	}
}

func TestUserCommands(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	mustJeton(t, env, "", "tenant", "create", "acme")
	const pw = "correct horse battery staple\n"
	// The username as the argument, before or after the flags, or as the older --username.
	alice := jsonObject(t, mustJeton(t, env, pw, "user", "create", "alice", "--tenant", "acme", "--password-stdin", "--json"))
	mustJeton(t, env, pw, "user", "create", "--tenant", "acme", "--password-stdin", "bob")
	mustJeton(t, env, pw, "user", "create", "--tenant", "acme", "--username", "carol", "--password-stdin")

	list := func(args ...string) []any {
		t.Helper()
		return field(jsonLines(t, mustJeton(t, env, "", append([]string{"user", "list", "--tenant", "acme", "--json"}, args...)...)), "username")
	}
	for _, tc := range []struct {
		args []string
		want []any
	}{
		{nil, []any{"alice", "bob", "carol"}},
		{[]string{"--prefix", "b"}, []any{"bob"}},
		{[]string{"--limit", "2"}, []any{"alice", "bob"}},
	} {
		if d := cmp.Diff(tc.want, list(tc.args...)); d != "" {
			t.Errorf("user list %v (-want +got):\n%s", tc.args, d)
		}
	}

	// A user is named by username or by id.
	byID := jsonObject(t, mustJeton(t, env, "", "user", "show", alice["id"].(string), "--tenant", "acme", "--json"))
	if byID["username"] != "alice" || byID["scopes"] != nil || byID["disabled"] != false {
		t.Errorf("user show ID --json: %v", byID)
	}
	up := jsonObject(t, mustJeton(t, env, "", "user", "update", "alice", "--tenant", "acme", "--scope", "read", "--json"))
	if d := cmp.Diff([]any{"read"}, up["scopes"]); d != "" {
		t.Errorf("user update --scope read (-want +got):\n%s", d)
	}
	if up := jsonObject(t, mustJeton(t, env, "", "user", "update", "alice", "--tenant", "acme", "--no-scope-restriction", "--json")); up["scopes"] != nil {
		t.Errorf("user update --no-scope-restriction: %v", up)
	}
	if d := jsonObject(t, mustJeton(t, env, "", "user", "disable", "alice", "--tenant", "acme", "--json")); d["disabled"] != true {
		t.Errorf("user disable --json: %v", d)
	}
	if out := mustJeton(t, env, "", "user", "show", "alice", "--tenant", "acme"); !hasLine(out, "disabled", "true") {
		t.Errorf("user show after disable:\n%s", out)
	}
	mustJeton(t, env, "", "user", "enable", "--tenant", "acme", "alice")
	mustJeton(t, env, "another long passphrase\n", "user", "set-password", "alice", "--tenant", "acme", "--password-stdin")

	del := jsonObject(t, mustJeton(t, env, "", "user", "delete", "bob", "--tenant", "acme", "--json"))
	if del["user"] != "bob" || del["deleted"] != true {
		t.Errorf("user delete --json: %v", del)
	}
	if d := cmp.Diff([]any{"alice", "carol"}, list()); d != "" {
		t.Errorf("user list after delete (-want +got):\n%s", d)
	}
}

// TestUserSessions: a password grant through a real serve opens a session that user
// sessions lists.
func TestUserSessions(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	admin := withEnv(fastArgon, "JETON_DATABASE_URL", dbURL)
	mustJeton(t, admin, "", "tenant", "create", "acme")
	app := createClient(t, admin, "--name", "app", "--grant", "password,refresh_token", "--scope", "read")
	mustJeton(t, admin, "correct horse battery staple\n", "user", "create", "alice", "--tenant", "acme", "--password-stdin")
	if out := mustJeton(t, admin, "", "user", "sessions", "alice", "--tenant", "acme", "--json"); out != "" {
		t.Fatalf("sessions before any login: %q", out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.Buffer
	done := make(chan error, 1)
	env := map[string]string{"JETON_DATABASE_URL": dbURL, "JETON_ISSUER": "http://127.0.0.1", "JETON_ADDR": "127.0.0.1:0",
		"JETON_OPS_ADDR": "off", "JETON_SWEEP_INTERVAL": "0", "JETON_SHUTDOWN_DRAIN": "0s",
		// Hashing at the lowest CPU priority can starve on a busy shared machine: this test
		// is about sessions.
		"JETON_HASH_PROCESSES": "false", "JETON_REQUEST_TIMEOUT": "30s"}
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), &testkit.Buffer{}, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	addr := waitListening(t, &stderr)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/token", strings.NewReader(url.Values{"grant_type": {"password"},
		"username": {"alice"}, "password": {"correct horse battery staple"}, "scope": {"read"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(app["client_id"], app["client_secret"])
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("password grant: %d", resp.StatusCode)
	}

	sessions := jsonLines(t, mustJeton(t, admin, "", "user", "sessions", "--tenant", "acme", "--username", "alice", "--json"))
	if len(sessions) != 1 || sessions[0]["client_id"] != app["client_id"] || sessions[0]["scope"] != "read" {
		t.Fatalf("user sessions --json: %v", sessions)
	}
	if out := mustJeton(t, admin, "", "user", "sessions", "alice", "--tenant", "acme"); !strings.Contains(out, sessions[0]["id"].(string)) {
		t.Errorf("user sessions:\n%s", out)
	}
}
