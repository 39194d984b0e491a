package migrations_test

import (
	"context"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/migrations"
	"github.com/pressly/goose/v3"
)

// During a rolling upgrade the previous release starts (with --migrate, the
// default) on a schema the next one migrated: goose applies nothing it does not know and
// finds nothing missing, so it starts.
func TestPreviousReleaseStartsOnNewerSchema(t *testing.T) {
	pool := dbtest.New(t) // every migration applied
	init, err := os.ReadFile("00001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	previous := fstest.MapFS{"00001_init.sql": {Data: init}}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, previous)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Up(context.Background())
	if err != nil || len(res) != 0 {
		t.Fatalf("the previous release's migrations on the new schema: %v applied, %v", res, err)
	}
}

// Three runs of Up at once on an empty database (instances starting together with
// --migrate) apply every migration exactly once between them, and all three succeed.
func TestConcurrentUpAppliesEachMigrationOnce(t *testing.T) {
	pool := dbtest.New(t)
	ctx := context.Background()
	// An empty database: the clone's schema, and goose's table with it, dropped.
	if _, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	const runs = 3
	errs := make(chan error, runs)
	for range runs {
		go func() { errs <- migrations.Up(ctx, pool) }()
	}
	for range runs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	names, err := fs.Glob(os.DirFS("."), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var applied, distinct, dups int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT version_id),
		(SELECT count(*) FROM (SELECT version_id FROM goose_db_version GROUP BY version_id HAVING count(*) > 1) d)
		FROM goose_db_version WHERE version_id > 0`).Scan(&applied, &distinct, &dups); err != nil {
		t.Fatal(err)
	}
	if applied != len(names) || distinct != len(names) || dups != 0 {
		t.Errorf("goose_db_version: %d rows, %d versions, %d versions twice; want each of the %d migrations once",
			applied, distinct, dups, len(names))
	}
}

// A start with nothing to apply does not wait for the migration lock (goose's Up checks
// for pending migrations first): an instance migrating holds it for as long as that takes,
// and the others, already on the schema, must start meanwhile.
func TestUpWithNothingPendingTakesNoLock(t *testing.T) {
	pool := dbtest.New(t) // every migration applied, goose_lock released
	ctx := context.Background()
	tag, err := pool.Exec(ctx, `UPDATE goose_lock SET locked = true, locked_at = now(),
		locked_by = 'another instance', lease_expires_at = now() + interval '1 hour', updated_at = now()`)
	if err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("holding the lock: %v rows, %v", tag.RowsAffected(), err)
	}
	// The locker tries for five minutes; a start that asked for it would end with ctx.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("Up on a migrated database while another instance holds the lock: %v", err)
	}
}
