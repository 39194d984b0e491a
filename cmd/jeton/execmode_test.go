package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/dbtest"
)

// TestDatabaseExecMode: --database-exec-mode sets the pool's mode over the URL's own
// default_query_exec_mode, which applies without it; describe_exec is refused from either,
// and a mode pgx does not know names the ones that work.
func TestDatabaseExecMode(t *testing.T) {
	u, err := url.Parse(dbtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	withURLMode := func(mode string) string {
		v := *u
		q := v.Query()                   // a copy
		q.Del("default_query_exec_mode") // the one JETON_TEST_EXEC_MODE may have set
		if mode != "" {
			q.Set("default_query_exec_mode", mode)
		}
		v.RawQuery = q.Encode()
		return v.String()
	}
	cases := []struct {
		name, urlMode, flag string
		want                pgx.QueryExecMode
		wantErr             []string
	}{
		{name: "default", want: pgx.QueryExecModeCacheStatement},
		{name: "URL's own", urlMode: "simple_protocol", want: pgx.QueryExecModeSimpleProtocol},
		{name: "flag over URL", urlMode: "simple_protocol", flag: "exec", want: pgx.QueryExecModeExec},
		{name: "flag", flag: "cache_describe", want: pgx.QueryExecModeCacheDescribe},
		{name: "flag over URL's describe_exec", urlMode: "describe_exec", flag: "simple_protocol", want: pgx.QueryExecModeSimpleProtocol},
		{name: "describe_exec flag", flag: "describe_exec",
			wantErr: []string{"--database-exec-mode describe_exec is refused", "pgbouncer", "exec, simple_protocol or cache_describe"}},
		{name: "describe_exec in URL", urlMode: "describe_exec",
			wantErr: []string{"default_query_exec_mode=describe_exec is refused", "--database-exec-mode"}},
		{name: "unknown", flag: "simple", wantErr: []string{`"simple"`, "cache_statement, cache_describe, exec or simple_protocol"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pool, err := openPool(context.Background(), withURLMode(c.urlMode), c.flag)
			if c.wantErr != nil {
				if err == nil {
					pool.Close()
					t.Fatal("openPool accepted it")
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("openPool: %v; want it to say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if got := pool.Config().ConnConfig.DefaultQueryExecMode; got != c.want {
				t.Errorf("mode %v, want %v", got, c.want)
			}
		})
	}
}

// TestDatabaseExecModeCommands: serve, migrate and the admin commands take the setting,
// as a flag or from JETON_DATABASE_EXEC_MODE, and work in the modes a pooler needs.
func TestDatabaseExecModeCommands(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	for _, mode := range []string{"exec", "simple_protocol"} {
		env := withEnv(fastArgon, "JETON_DATABASE_URL", dbURL, "JETON_DATABASE_EXEC_MODE", mode)
		if _, err := jeton(t, env, "", "migrate", "up"); err != nil {
			t.Fatalf("migrate up in %s: %v", mode, err)
		}
		if _, err := jeton(t, env, "", "tenant", "create", "t-"+strings.ReplaceAll(mode, "_", "-")); err != nil {
			t.Fatalf("tenant create in %s: %v", mode, err)
		}
		if out, err := jeton(t, env, "", "tenant", "list"); err != nil || !strings.Contains(out, "t-"+strings.ReplaceAll(mode, "_", "-")) {
			t.Fatalf("tenant list in %s: %q, %v", mode, out, err)
		}
	}
	// Refused before anything connects: the URL leads nowhere.
	nowhere := map[string]string{"JETON_DATABASE_URL": "postgres://unused@127.0.0.1:1/x", "JETON_ISSUER": "http://127.0.0.1:0"}
	for _, args := range [][]string{
		{"serve", "--database-exec-mode", "describe_exec"},
		{"migrate", "status", "--database-exec-mode=describe_exec"},
		{"tenant", "list", "--database-exec-mode", "describe_exec"},
	} {
		if _, err := jeton(t, nowhere, "", args...); err == nil || !strings.Contains(err.Error(), "describe_exec is refused") {
			t.Errorf("jeton %v: %v, want describe_exec refused", args, err)
		}
	}
	if _, err := jeton(t, withEnv(nowhere, "JETON_DATABASE_EXEC_MODE", "describe_exec"), "", "serve"); err == nil ||
		!strings.Contains(err.Error(), "describe_exec is refused") {
		t.Errorf("JETON_DATABASE_EXEC_MODE was not read: %v", err)
	}
}
