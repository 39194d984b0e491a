package db

// Behind a pooler in transaction mode (pgbouncer's pool_mode=transaction) a client
// connection is a different server session from one transaction to the next, so what pgx's
// statement cache prepared on one is missing on the next, or is already there when another
// client prepares the same statement on a session it inherits. Every statement jeton runs
// works in pgx's exec and simple_protocol modes, which prepare nothing, and in
// cache_describe, which names no statement; CheckPreparedStatements tells at start-up
// whether the mode in use survives the way the database is reached.

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrPreparedStatementsLost means PostgreSQL answered that a statement pgx had prepared
// on a connection did not exist there (SQLSTATE 26000), or that one it was preparing
// already did (42P05): the connection is not one server session, as behind a pooler in
// transaction mode.
var ErrPreparedStatementsLost = errors.New("prepared statements do not last on the database's connections")

// preparedStatementsProbe is what CheckPreparedStatements runs: nothing else runs it, so
// the server sessions behind a pooler hold it only from earlier checks, which is what
// makes a check collide.
const preparedStatementsProbe = `SELECT 'jeton prepared statement check'::text`

// CheckPreparedStatements runs one statement three times on each of two connections of
// pool, held at once and used in turn (on one only if the pool allows one), in the pool's
// query exec mode. On one server session per connection, as on a direct connection, it
// succeeds in every mode; through a pooler in transaction mode the statements that
// cache_statement prepares land on sessions that already hold them or lack them. It
// returns ErrPreparedStatementsLost, wrapped with PostgreSQL's answer, when that happens,
// or another error (translated) when the statement fails otherwise.
func CheckPreparedStatements(ctx context.Context, pool *pgxpool.Pool) error {
	n := 2
	if pool.Config().MaxConns < 2 {
		n = 1 // a second Acquire would wait for the first forever
	}
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return translate("check prepared statements", err)
		}
		conns = append(conns, c)
	}
	for range 3 {
		for _, c := range conns {
			var s string
			if err := c.QueryRow(ctx, preparedStatementsProbe).Scan(&s); err != nil {
				return preparedStatementError(err)
			}
		}
	}
	return nil
}

// preparedStatementError is err as CheckPreparedStatements returns it.
func preparedStatementError(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (pg.Code == "26000" || pg.Code == "42P05") {
		return fmt.Errorf("check prepared statements: %w (PostgreSQL answered %s: %s)", ErrPreparedStatementsLost, pg.Code, pg.Message)
	}
	return translate("check prepared statements", err)
}
