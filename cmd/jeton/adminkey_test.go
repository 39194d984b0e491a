package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/dbtest"
)

// TestAdminKeyCommands: jeton admin-key create prints the key once (JSON: id, key,
// tenant), list shows every key without its value, revoke ends one.
func TestAdminKeyCommands(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	if _, err := jeton(t, env, "", "tenant", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	var global, tenant map[string]any
	out, err := jeton(t, env, "", "admin-key", "create", "--name", "ops", "--json")
	if err != nil || json.Unmarshal([]byte(out), &global) != nil || global["tenant"] != nil ||
		!strings.HasPrefix(global["key"].(string), "jak_") || global["id"] == "" {
		t.Fatalf("global key: %q %v", out, err)
	}
	out, err = jeton(t, env, "", "admin-key", "create", "--tenant", "acme", "--json")
	if err != nil || json.Unmarshal([]byte(out), &tenant) != nil || tenant["tenant"] != "acme" ||
		!strings.HasPrefix(tenant["key"].(string), "jak_") {
		t.Fatalf("tenant key: %q %v", out, err)
	}
	if _, err := jeton(t, env, "", "admin-key", "create", "--tenant", "nosuch"); err == nil {
		t.Error("a key for an unknown tenant was created")
	}
	out, err = jeton(t, env, "", "admin-key", "list")
	if err != nil || !strings.Contains(out, global["id"].(string)) || !strings.Contains(out, "tenant acme") ||
		strings.Contains(out, "jak_") {
		t.Fatalf("list: %q %v", out, err)
	}
	if _, err := jeton(t, env, "", "admin-key", "revoke", global["id"].(string)); err != nil {
		t.Fatal(err)
	}
	if _, err := jeton(t, env, "", "admin-key", "revoke", global["id"].(string)); err == nil {
		t.Error("revoking twice succeeded")
	}
	out, err = jeton(t, env, "", "admin-key", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	revoked := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var k map[string]any
		if err := json.Unmarshal([]byte(line), &k); err != nil {
			t.Fatalf("list line %q: %v", line, err)
		}
		if _, ok := k["key"]; ok {
			t.Errorf("list shows a key: %v", k)
		}
		if k["revoked_at"] != nil {
			revoked++
		}
	}
	if revoked != 1 {
		t.Errorf("%d revoked keys in %s", revoked, out)
	}
}

var devKeyRE = regexp.MustCompile(`ADMIN_KEY=(jak_\w+)`)

// TestDevRotatesAdminKey: each jeton dev start prints a new global key and revokes the previous one.
func TestDevRotatesAdminKey(t *testing.T) {
	url := dbtest.NewURL(t)
	env := withEnv(fastArgon, "JETON_DEV_DATABASE_URL", url)
	first, err := jeton(t, env, "", "dev", "--seed-only")
	if err != nil {
		t.Fatal(err)
	}
	second, err := jeton(t, env, "", "dev", "--seed-only")
	if err != nil {
		t.Fatal(err)
	}
	a, b := devKeyRE.FindStringSubmatch(first), devKeyRE.FindStringSubmatch(second)
	if a == nil || b == nil || a[1] == b[1] {
		t.Fatalf("dev keys %v then %v", a, b)
	}
	out, err := jeton(t, withEnv(fastArgon, "JETON_DATABASE_URL", url), "", "admin-key", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var k map[string]any
		if err := json.Unmarshal([]byte(line), &k); err != nil {
			t.Fatal(err)
		}
		if k["name"] != "jeton dev" || k["tenant"] != nil {
			t.Errorf("key %v", k)
		}
		if k["revoked_at"] == nil {
			live++
		}
	}
	if live != 1 || strings.Count(out, "\n") != 2 {
		t.Errorf("want one live dev key of two:\n%s", out)
	}
}

// TestAdminKeyShow: admin-key show prints one key, never its value; an unknown id is an
// error.
func TestAdminKeyShow(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	created := jsonObject(t, mustJeton(t, env, "", "admin-key", "create", "--name", "ops", "--json"))
	id := created["id"].(string)
	shown := jsonObject(t, mustJeton(t, env, "", "admin-key", "show", id, "--json"))
	if shown["id"] != id || shown["name"] != "ops" || shown["tenant"] != nil || shown["key"] != nil {
		t.Errorf("admin-key show --json: %v", shown)
	}
	if out := mustJeton(t, env, "", "admin-key", "show", id); !hasLine(out, "scope", "global") || strings.Contains(out, "jak_") {
		t.Errorf("admin-key show:\n%s", out)
	}
	revoked := jsonObject(t, mustJeton(t, env, "", "admin-key", "revoke", id, "--json"))
	if revoked["id"] != id || revoked["revoked_at"] == nil {
		t.Errorf("admin-key revoke --json: %v", revoked)
	}
	if _, err := jeton(t, env, "", "admin-key", "show", "9175a208-3d6d-44cc-a4e7-4a669982428f"); err == nil {
		t.Error("admin-key show of an unknown id succeeded")
	}
}
