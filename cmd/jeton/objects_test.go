package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// The admin commands' --json output is the admin API's object: the same members with the
// same values, for a tenant, a client and a user, read both ways from one database.
func TestCLIObjectsAreTheAdminAPIs(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	admin := withEnv(fastArgon, "JETON_DATABASE_URL", dbURL)
	mustJeton(t, admin, "", "tenant", "create", "--name", "Acme", "acme")
	mustJeton(t, admin, "", "tenant", "update", "acme", "--access-ttl", "5m", "--min-password-length", "12")
	client := jsonObject(t, mustJeton(t, admin, "", "client", "create", "--tenant", "acme", "--name", "web",
		"--grant", "password", "--scope", "read", "--json"))["client_id"].(string)
	user := jsonObject(t, mustJeton(t, admin, "pw-long-enough-1", "user", "create", "--tenant", "acme",
		"--username", "alice", "--password-stdin", "--json"))["id"].(string)
	var key struct{ Key string }
	if err := json.Unmarshal([]byte(mustJeton(t, admin, "", "admin-key", "create", "--name", "t", "--json")), &key); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"JETON_DATABASE_URL": dbURL, "JETON_ISSUER": "http://127.0.0.1:0",
		"JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "off", "JETON_SWEEP_INTERVAL": "0",
		"JETON_SHUTDOWN_DRAIN": "0s", "JETON_HASH_PROCESSES": "false"}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""),
			&testkit.Buffer{}, &stderr)
	}()
	defer func() { cancel(); <-done }()
	base := "http://" + waitListening(t, &stderr)
	get := func(path string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&m) != nil {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return m
	}

	for _, tc := range []struct {
		path string
		cli  []string
	}{
		{"/admin/v1/tenants/acme", []string{"tenant", "show", "acme"}},
		{"/admin/v1/tenants/acme/clients/" + client, []string{"client", "show", client, "--tenant", "acme"}},
		{"/admin/v1/tenants/acme/users/" + user, []string{"user", "show", "alice", "--tenant", "acme"}},
	} {
		cli := jsonObject(t, mustJeton(t, admin, "", append(tc.cli, "--json")...))
		if d := cmp.Diff(get(tc.path), cli); d != "" {
			t.Errorf("jeton %s --json against GET %s (-api +cli):\n%s", strings.Join(tc.cli, " "), tc.path, d)
		}
	}
}
