package main

import (
	"context"
	"fmt"
	"net/url"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/pgcluster"
)

// pgSettings are given to the bench's own cluster on the postgres command line. The rest
// is PostgreSQL's default; every setting that matters is read back and reported.
func pgSettings(full bool) []string {
	shared := "1GB"
	if full {
		shared = "4GB"
	}
	return []string{
		"listen_addresses=127.0.0.1",
		"max_connections=300",
		"shared_buffers=" + shared,
		"max_wal_size=8GB",
		"checkpoint_timeout=30min",
		// Autovacuum wakes three times a minute instead of once, so the sweep scenario's
		// wait for it to reclaim the swept rows stays short.
		"autovacuum_naptime=20s",
		"shared_preload_libraries=pg_stat_statements",
		"pg_stat_statements.max=1000",
	}
}

// reportedSettings are read back with SHOW and written into the results.
var reportedSettings = []string{"server_version", "shared_buffers", "max_connections", "synchronous_commit",
	"fsync", "full_page_writes", "wal_level", "max_wal_size", "checkpoint_timeout", "effective_cache_size",
	"work_mem", "autovacuum", "autovacuum_naptime", "jit", "shared_preload_libraries"}

// startCluster starts the bench's own PostgreSQL (pgcluster: initdb in a new directory
// under parent, run as the postgres OS user when the bench runs as root) with pgSettings.
// The caller must Remove it, which also deletes the directory.
func startCluster(ctx context.Context, parent string, full bool, logf func(string, ...any)) (*pgcluster.Cluster, error) {
	return pgcluster.Init(ctx, pgcluster.Options{Parent: parent, Settings: pgSettings(full), Logf: logf})
}

// withDatabase returns serverURL with its database replaced by db and extra query
// parameters (name, value pairs) added.
func withDatabase(serverURL, db string, params ...string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("--pg-url: %w", err)
	}
	u.Path = "/" + db
	q := u.Query()
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// createDatabase creates db on the server (any previous one of that name is dropped).
func createDatabase(ctx context.Context, serverURL, db string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	name := pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	return err
}

// dropDatabase drops db, disconnecting whoever still uses it.
func dropDatabase(serverURL, db string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
	return err
}

// freeDisk returns the bytes available to us on the filesystem holding path.
func freeDisk(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// diskNeeded estimates what a run writes: about 1.2 KiB per live token with its session
// and indexes, 0.6 KiB per expired token per sweep round, WAL up to max_wal_size, logs.
func diskNeeded(live, sweep int64, rounds int) uint64 {
	return uint64(live)*1200 + uint64(sweep)*600*uint64(rounds) + 10<<30
}
