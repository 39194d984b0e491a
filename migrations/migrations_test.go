package migrations_test

import (
	"context"
	"os"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/pressly/goose/v3"
)

// Issue 8: during a rolling upgrade the previous release starts (with --migrate, the
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
