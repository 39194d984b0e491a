package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
)

func TestOlderThan(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		older bool
	}{
		{"0.1.0", "0.1.0", false},
		{"0.1.0", "0.2.0", true},
		{"0.10.0", "0.9.3", false},
		{"v1.2.3", "1.2.4", true},
		{"1.2.3", "1.2.3+build.7", false},
		{"1.3.0-rc.1", "1.3.0", true},
		{"1.3.0", "1.3.0-rc.1", false},
		{"1.3.0-rc.2", "1.3.0-rc.10", true},
		{"1.3.0-alpha", "1.3.0-alpha.1", true},
		{"1.3.0-alpha.1", "1.3.0-beta", true},
		{"1.3.0-1", "1.3.0-alpha", true},
		{"dev", "9.9.9", false},
		{"9.9.9", "dev", true},
	} {
		got, err := olderThan(tc.a, tc.b)
		if err != nil || got != tc.older {
			t.Errorf("olderThan(%q, %q) = %v, %v; want %v", tc.a, tc.b, got, err, tc.older)
		}
	}
	for _, bad := range []string{"", "1.2", "1.2.3.4", "1.02.3", "x.y.z", "1.2.3-", "27913f8-dirty"} {
		if _, err := olderThan(bad, "1.0.0"); err == nil {
			t.Errorf("olderThan(%q) accepted", bad)
		}
	}
}

// TestServeRefusesOlderBinary: serve refuses to run on a schema that no longer supports
// it, naming both versions, before migrating anything; a release at or above the minimum,
// and a dev build, start.
func TestServeRefusesOlderBinary(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE jeton_meta SET value = '2.4.0' WHERE key = 'min_binary_version'`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"JETON_DATABASE_URL": dbURL, "JETON_ISSUER": "http://127.0.0.1:0", "JETON_ADDR": "127.0.0.1:0",
		"JETON_OPS_ADDR": "off"}
	defer func(v string) { version = v }(version)
	version = "2.3.9"
	_, err = jeton(t, env, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "2.3.9") || !strings.Contains(err.Error(), "2.4.0") {
		t.Fatalf("serve as 2.3.9 on a 2.4.0 schema: %v; want a refusal naming both", err)
	}
	for _, v := range []string{"2.4.0", "2.5.0", "dev"} {
		version = v
		if err := checkSchemaVersion(context.Background(), dbStore(t, dbURL), version); err != nil {
			t.Errorf("version %s refused: %v", v, err)
		}
	}
}

// dbStore returns a store on dbURL, closed with the test.
func dbStore(t *testing.T, dbURL string) *db.Store {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return db.New(pool)
}
