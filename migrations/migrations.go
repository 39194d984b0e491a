// Package migrations embeds jeton's SQL schema and applies it with goose.
package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Hash returns a short hex digest of every embedded migration, so a test template database
// named after it is never mistaken for one built from another schema.
func Hash() string {
	names, _ := fs.Glob(files, "*.sql")
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := files.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Provider returns a goose provider over db that serialises concurrent runs with goose's
// Postgres table locker: a row of the goose_lock table, taken by a conditional write and
// kept alive by a heartbeat, so that it needs no session of its own. goose's session lock
// (pg_advisory_lock) is taken on one server session and released on another behind a
// pooler in transaction mode, which once let three concurrent runs apply a migration
// twice. A run that died leaves the row locked until its lease runs out (30 s); the others
// try every second for five minutes. It returns an error if the provider cannot be built.
func Provider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresTableLocker(lock.WithTableLockTimeout(time.Second, 300))
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Up applies every pending migration to the database behind pool.
// It returns the first migration error.
func Up(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := Provider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}
