package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/dbtest"
)

// jeton user import reads a file (or standard input), prints the summary (--json) and
// plain progress off a terminal; user export prints NDJSON that imports again; tenant
// update turns the lazy migration hook on (secret from standard input, or made and shown
// once) and off.
func TestUserImportExportCommands(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	for _, slug := range []string{"acme", "copy"} {
		if _, err := jeton(t, env, "", "tenant", "create", slug); err != nil {
			t.Fatal(err)
		}
	}
	out, err := jeton(t, env, "", "user", "import", "--tenant", "acme", "--json", "../../examples/migration/django.ndjson")
	var sum map[string]any
	if err != nil || json.Unmarshal([]byte(out), &sum) != nil || sum["imported"] != float64(5) {
		t.Fatalf("import: %q %v", out, err)
	}
	out, err = jeton(t, env, "", "user", "import", "--tenant", "acme", "--on-conflict", "skip", "../../examples/migration/django.ndjson")
	if err != nil || !strings.Contains(out, "imported 0, updated 0, skipped 5, failed 0") {
		t.Fatalf("import again: %q %v", out, err)
	}
	bad := `{"username":"x","password_hash":"$2b$15$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"}` + "\n"
	out, err = jeton(t, env, bad, "user", "import", "--tenant", "acme", "--dry-run", "-")
	if err != nil || !strings.Contains(out, "failed 1") || !strings.Contains(out, "line 1: password_hash:") {
		t.Fatalf("dry run from stdin: %q %v", out, err)
	}
	if _, err := jeton(t, env, "", "user", "import", "--tenant", "acme", "../../examples/migration/django.ndjson"); err == nil {
		t.Error("an import over existing usernames under --on-conflict fail succeeded")
	}
	export, err := jeton(t, env, "", "user", "export", "--tenant", "acme")
	if err != nil || strings.Count(export, "\n") != 5 || !strings.Contains(export, `"pbkdf2_sha256$260000$`) {
		t.Fatalf("export: %q %v", export, err)
	}
	var stripped strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(export), "\n") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "id")
		b, _ := json.Marshal(m)
		stripped.Write(append(b, '\n'))
	}
	if out, err := jeton(t, env, stripped.String(), "user", "import", "--tenant", "copy", "-"); err != nil ||
		!strings.Contains(out, "imported 5") {
		t.Fatalf("import of the export: %q %v", out, err)
	}

	given := "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	if _, err := jeton(t, env, given+"\n", "tenant", "update", "acme", "--legacy-login-url", "https://old.example.com/check"); err != nil {
		t.Fatal(err)
	}
	if _, err := jeton(t, env, "not a secret", "tenant", "update", "acme", "--legacy-login-url", "https://old.example.com/check"); err == nil {
		t.Error("a malformed secret was taken")
	}
	if _, err := jeton(t, env, "", "tenant", "update", "acme", "--legacy-login-url", "http://old.example.com/check"); err == nil {
		t.Error("an http hook was taken")
	}
	_, stderr, err := runCLI(env, "", "tenant", "update", "copy", "--legacy-login-url", "https://old.example.com/check")
	if err != nil || !strings.Contains(stderr, "legacy login secret (shown once): whsec_") {
		t.Errorf("a made secret: %q %v", stderr, err)
	}
	if _, err := jeton(t, env, "", "tenant", "update", "acme", "--legacy-login", "off"); err != nil {
		t.Fatal(err)
	}
}
