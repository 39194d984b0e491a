package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/dbtest"
)

// --cors-origin sets a client's allowed origins (repeatable or comma-separated); on update
// it replaces the list and --no-cors-origins empties it.
func TestClientCORSOrigins(t *testing.T) {
	url := dbtest.NewURL(t)
	env := withEnv(fastArgon, "JETON_DATABASE_URL", url)
	if _, err := jeton(t, env, "", "tenant", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	out, err := jeton(t, env, "", "client", "create", "--tenant", "acme", "--name", "spa", "--public", "--grant", "password",
		"--cors-origin", "https://spa.example", "--cors-origin", "http://127.0.0.1:5173,http://localhost:5173", "--json")
	var c map[string]string
	if err != nil || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("client create: %q %v", out, err)
	}
	origins := func() []string {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var got []string
		if err := conn.QueryRow(context.Background(), `SELECT allowed_origins FROM clients WHERE id = $1`, c["client_id"]).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if d := cmp.Diff([]string{"https://spa.example", "http://127.0.0.1:5173", "http://localhost:5173"}, origins()); d != "" {
		t.Errorf("after create (-want +got):\n%s", d)
	}
	steps := []struct {
		args []string
		ok   bool
		want []string
	}{
		{[]string{"--name", "spa 2"}, true, []string{"https://spa.example", "http://127.0.0.1:5173", "http://localhost:5173"}},
		{[]string{"--cors-origin", "https://new.example"}, true, []string{"https://new.example"}},
		{[]string{"--cors-origin", "https://new.example/"}, false, []string{"https://new.example"}},
		{[]string{"--no-cors-origins"}, true, []string{}},
	}
	for _, s := range steps {
		_, err := jeton(t, env, "", append([]string{"client", "update", "--tenant", "acme", "--client", c["client_id"]}, s.args...)...)
		if (err == nil) != s.ok {
			t.Fatalf("update %v: %v, want ok %v", s.args, err, s.ok)
		}
		if d := cmp.Diff(s.want, origins()); d != "" {
			t.Errorf("after update %v (-want +got):\n%s", s.args, d)
		}
	}
}
