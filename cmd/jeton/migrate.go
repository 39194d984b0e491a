package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jeton-auth/jeton/migrations"
	"github.com/pressly/goose/v3"
)

// migrateCmd is "jeton migrate up|down|status".
type migrateCmd struct {
	Up     migrateUpCmd     `cmd:"" help:"Apply every pending migration."`
	Down   migrateDownCmd   `cmd:"" help:"Roll back the latest migration (for development, not for a rollback in production)."`
	Status migrateStatusCmd `cmd:"" help:"List the migrations, applied or pending."`
}

// migrateFlags are what every migrate action takes.
type migrateFlags struct {
	databaseFlags `embed:""`
}

// provider runs with goose's provider of the embedded migrations on the database.
func (f migrateFlags) provider(ctx context.Context, run func(*goose.Provider) error) error {
	pool, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := migrations.Provider(sqlDB)
	if err != nil {
		return err
	}
	return run(p)
}

type migrateUpCmd struct {
	migrateFlags `embed:""`
}

func (c *migrateUpCmd) Run(ctx context.Context, e env) error {
	return c.provider(ctx, func(p *goose.Provider) error {
		res, err := p.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(e.stdout, "applied %s\n", r.Source.Path)
		}
		return err
	})
}

type migrateDownCmd struct {
	migrateFlags `embed:""`
}

func (c *migrateDownCmd) Run(ctx context.Context, e env) error {
	return c.provider(ctx, func(p *goose.Provider) error {
		r, err := p.Down(ctx)
		if r != nil {
			fmt.Fprintf(e.stdout, "rolled back %s\n", r.Source.Path)
		}
		return err
	})
}

type migrateStatusCmd struct {
	migrateFlags `embed:""`
}

func (c *migrateStatusCmd) Run(ctx context.Context, e env) error {
	return c.provider(ctx, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			fmt.Fprintf(e.stdout, "%-8s %s\n", s.State, s.Source.Path)
		}
		return nil
	})
}
