package main

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// breachList is a Pwned Passwords style list of the SHA-1s of pw, plus random-looking ones.
func breachList(pw ...string) string {
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "%X:%d\n", sha1.Sum([]byte(fmt.Sprint("filler", i))), i+1)
	}
	for _, p := range pw {
		fmt.Fprintf(&b, "%X:7\n", sha1.Sum([]byte(p)))
	}
	return b.String()
}

// serve refuses a new password found in --breached-passwords, and maps the file again on
// SIGHUP: an import renamed into place takes effect without a restart.
func TestServeBreachedPasswordsReloadOnSIGHUP(t *testing.T) {
	const first, second = "first leaked passphrase", "second leaked passphrase"
	dir := t.TempDir()
	file := filepath.Join(dir, "breached.jbf")
	if _, err := jeton(t, nil, breachList(first), "breach", "import", "--out", file, "--tmp-dir", dir, "-"); err != nil {
		t.Fatal(err)
	}
	dbURL := dbtest.NewURL(t)
	admin := withEnv(fastArgon, "JETON_DATABASE_URL", dbURL)
	if _, err := jeton(t, admin, "", "tenant", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	out, err := jeton(t, admin, "", "admin-key", "create", "--name", "t", "--json")
	var key struct{ Key string }
	if err != nil || json.Unmarshal([]byte(out), &key) != nil {
		t.Fatalf("admin key: %q %v", out, err)
	}
	env := map[string]string{"JETON_DATABASE_URL": dbURL, "JETON_ISSUER": "http://127.0.0.1:0",
		"JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "off", "JETON_SWEEP_INTERVAL": "0",
		"JETON_SHUTDOWN_DRAIN": "0s", "JETON_HASH_PROCESSES": "false", "JETON_BREACHED_PASSWORDS": file}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""),
			&testkit.Buffer{}, &stderr)
	}()
	defer func() { cancel(); <-done }()
	base := "http://" + waitListening(t, &stderr)
	n := 0
	create := func(pw string) (int, string) {
		n++
		body := fmt.Sprintf(`{"username":"user%d","password":%q}`, n, pw)
		req, _ := http.NewRequest("POST", base+"/admin/v1/tenants/acme/users", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key.Key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct{ Detail string }
		json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Detail
	}
	if code, detail := create(first); code != http.StatusBadRequest || !strings.Contains(detail, "breach") {
		t.Fatalf("listed password: %d %q, want 400 naming the breach", code, detail)
	}
	if code, _ := create(second); code != http.StatusCreated {
		t.Fatalf("unlisted password: %d, want 201", code)
	}
	if _, err := jeton(t, nil, breachList(second), "breach", "import", "--out", file, "--tmp-dir", dir, "-"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "breached passwords reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := create(second); code != http.StatusBadRequest {
		t.Errorf("password of the new list after SIGHUP: %d, want 400", code)
	}
	if code, _ := create(first); code != http.StatusCreated {
		t.Errorf("password only the old list had, after SIGHUP: %d, want 201", code)
	}
}

// The admin side of the password lifecycle from the command line.
func TestUserLifecycleCommands(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	if _, err := jeton(t, env, "", "tenant", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := jeton(t, env, "correct horse battery staple\n", "user", "create", "alice", "--tenant", "acme", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "breached.jbf")
	if _, err := jeton(t, nil, breachList("a leaked passphrase"), "breach", "import", "--out", file, "-"); err != nil {
		t.Fatal(err)
	}
	listed := withEnv(env, "JETON_BREACHED_PASSWORDS", file)
	if _, err := jeton(t, listed, "a leaked passphrase\n", "user", "set-password", "alice", "--tenant", "acme", "--password-stdin"); err == nil {
		t.Error("the CLI set a breached password")
	}
	if _, err := jeton(t, listed, "an unlisted passphrase\n", "user", "set-password", "alice", "--tenant", "acme", "--password-stdin"); err != nil {
		t.Error(err)
	}
	out, err := jeton(t, env, "", "user", "password-reset", "alice", "--tenant", "acme", "--json")
	var r struct {
		ResetToken string    `json:"reset_token"`
		ExpiresAt  time.Time `json:"expires_at"`
	}
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || !strings.HasPrefix(r.ResetToken, "jpr_") || r.ExpiresAt.IsZero() {
		t.Fatalf("password-reset: %q %v", out, err)
	}
	out, err = jeton(t, env, "", "user", "require-password-change", "alice", "--tenant", "acme")
	if err != nil || !strings.Contains(out, "required (admin)") {
		t.Fatalf("require-password-change: %q %v", out, err)
	}
	if _, err := jeton(t, env, "", "user", "require-password-change", "alice", "--tenant", "acme", "--reason", "bogus"); err == nil {
		t.Error("a bogus reason was taken")
	}
	if out, err = jeton(t, env, "", "user", "require-password-change", "alice", "--tenant", "acme", "--clear"); err != nil || !strings.Contains(out, "no longer") {
		t.Fatalf("--clear: %q %v", out, err)
	}
	if out, err = jeton(t, env, "", "user", "throttles", "alice", "--tenant", "acme"); err != nil || !strings.Contains(out, "back-off after 5") {
		t.Fatalf("throttles: %q %v", out, err)
	}
	if out, err = jeton(t, env, "", "user", "unblock", "alice", "--tenant", "acme"); err != nil || !strings.Contains(out, "cleared") {
		t.Fatalf("unblock: %q %v", out, err)
	}
}
