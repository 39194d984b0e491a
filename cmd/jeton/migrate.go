package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jeton-auth/jeton/migrations"
)

// migrate runs "jeton migrate up|down|status".
func migrate(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		fmt.Fprintln(e.stderr, "usage: jeton migrate up|down|status [--database-url URL]")
		return errUsage
	}
	action := e.args[0]
	e.args = e.args[1:]
	fs := newFlags("migrate "+action, e)
	dbURL := fs.String("database-url", "", "PostgreSQL URL")
	if err := parseWithEnv(fs, e); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("JETON_DATABASE_URL (or --database-url) is required")
	}
	pool, err := openPool(ctx, *dbURL)
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
	switch action {
	case "up":
		res, err := p.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(e.stdout, "applied %s\n", r.Source.Path)
		}
		return err
	case "down":
		r, err := p.Down(ctx)
		if r != nil {
			fmt.Fprintf(e.stdout, "rolled back %s\n", r.Source.Path)
		}
		return err
	case "status":
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			fmt.Fprintf(e.stdout, "%-8s %s\n", s.State, s.Source.Path)
		}
		return nil
	}
	fmt.Fprintf(e.stderr, "jeton migrate: unknown action %q (up, down, status)\n", action)
	return errUsage
}
