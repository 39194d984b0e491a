package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/migrations"
)

// serve refuses to start without a key ring while a tenant's mfa_policy needs one, naming
// the setting; with a key ring it gets past that check.
func TestServeRefusesMFAPolicyWithoutKeys(t *testing.T) {
	url := dbtest.NewURL(t)
	ctx := context.Background()
	pool, err := openPool(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, slug, name, mfa_policy, created_at, updated_at)
		VALUES (gen_random_uuid(), 'acme', 'Acme', 'required', now(), now())`, pgx.QueryExecModeExec); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"JETON_DATABASE_URL": url, "JETON_ISSUER": "http://127.0.0.1:0",
		"JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "off", "JETON_SWEEP_INTERVAL": "0"}
	_, err = jeton(t, env, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "acme") || !strings.Contains(err.Error(), "JETON_SECRET_KEYS") {
		t.Fatalf("serve without keys: %v", err)
	}
	env["JETON_SECRET_KEYS"] = "k1:not-base64"
	if _, err := jeton(t, env, "", "serve"); err == nil || strings.Contains(err.Error(), "not-base64") {
		t.Fatalf("serve with a bad key ring: %v (the error must not show the key)", err)
	}
}

// The second-factor commands: a policy needs a key ring (exit 1 naming the setting),
// tenant update sets it, keys rotate re-seals, user mfa-reset resets.
func TestMFACommands(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	if _, err := jeton(t, env, "", "tenant", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	_, err := jeton(t, env, "", "tenant", "update", "acme", "--mfa-policy", "required")
	if err == nil || !strings.Contains(err.Error(), "mfa_policy") || !strings.Contains(err.Error(), "JETON_SECRET_KEYS") {
		t.Fatalf("a policy without a key ring: %v", err)
	}
	if _, err := jeton(t, env, "", "keys", "rotate"); err == nil {
		t.Fatal("keys rotate without a key ring succeeded")
	}
	env = withEnv(env, "JETON_SECRET_KEYS", "k1:"+strings.Repeat("A", 43)+"=")
	out, err := jeton(t, env, "", "tenant", "update", "acme", "--mfa-policy", "required", "--mfa-failure-limit", "5", "--json")
	var tn map[string]any
	if err != nil || json.Unmarshal([]byte(out), &tn) != nil || tn["mfa_policy"] != "required" || tn["mfa_failure_limit"] != float64(5) {
		t.Fatalf("tenant update: %q %v", out, err)
	}
	if _, err := jeton(t, env, "", "tenant", "update", "acme", "--mfa-policy", "always"); err == nil {
		t.Fatal("--mfa-policy always was accepted")
	}
	out, err = jeton(t, env, "", "keys", "rotate", "--json")
	if err != nil || strings.TrimSpace(out) != `{"key":"k1","resealed":0}` {
		t.Fatalf("keys rotate: %q %v", out, err)
	}
	// The key ring from a file named on the command line, as serve's --secret-keys-file.
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("k2:"+strings.Repeat("B", 43)+"=,k1:"+strings.Repeat("A", 43)+"=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = jeton(t, withEnv(env, "JETON_SECRET_KEYS", ""), "", "keys", "rotate", "--secret-keys-file", file, "--json")
	if err != nil || strings.TrimSpace(out) != `{"key":"k2","resealed":0}` {
		t.Fatalf("keys rotate --secret-keys-file: %q %v", out, err)
	}
	if _, err := jeton(t, env, "correct horse battery staple\n", "user", "create", "--tenant", "acme", "--username", "alice", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	out, err = jeton(t, env, "", "user", "mfa-reset", "--tenant", "acme", "alice", "--json")
	if err != nil || !strings.Contains(out, `"mfa_reset":true`) {
		t.Fatalf("user mfa-reset: %q %v", out, err)
	}
	if _, err := jeton(t, env, "", "user", "mfa-reset", "--tenant", "acme", "nobody"); err == nil {
		t.Fatal("mfa-reset of an unknown user succeeded")
	}
}

// Without a key ring, a tenant whose mfa_policy is set already can still be renamed,
// disabled or set to off: only setting a policy other than off needs the key ring.
func TestTenantUpdateWithoutKeysKeepsPolicy(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	keyed := withEnv(env, "JETON_SECRET_KEYS", "k1:"+strings.Repeat("A", 43)+"=")
	if _, err := jeton(t, env, "", "tenant", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := jeton(t, keyed, "", "tenant", "update", "acme", "--mfa-policy", "required"); err != nil {
		t.Fatal(err)
	}
	if _, err := jeton(t, env, "", "tenant", "update", "acme", "--mfa-policy", "optional"); err == nil {
		t.Fatal("a new policy without a key ring was accepted")
	}
	if _, err := jeton(t, env, "", "tenant", "update", "acme", "--disabled", "true"); err != nil {
		t.Fatalf("disabling a tenant with mfa_policy required, without a key ring: %v", err)
	}
	if _, err := jeton(t, env, "", "tenant", "update", "acme", "--mfa-policy", "off"); err != nil {
		t.Fatalf("mfa_policy off without a key ring: %v", err)
	}
}
