package db_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
)

// cachedName is the name pgx's statement cache gives sql's prepared statement.
func cachedName(sql string) string {
	digest := sha256.Sum256([]byte(sql))
	return "stmtcache_" + hex.EncodeToString(digest[0:24])
}

// TestCheckPreparedStatements: on a direct connection the check passes in every mode
// jeton accepts; where a session already holds the statement cache_statement is about to
// prepare (a server session a pooler handed over) or lacks the one it prepared, it fails
// with ErrPreparedStatementsLost, and only the modes that name no statement pass.
func TestCheckPreparedStatements(t *testing.T) {
	modes := []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol}
	for _, mode := range modes {
		t.Run("direct/"+mode.String(), func(t *testing.T) {
			pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) { c.ConnConfig.DefaultQueryExecMode = mode })
			if err := db.CheckPreparedStatements(t.Context(), pool); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Every new session already holds the statement, under the name pgx will give it.
	held := func(mode pgx.QueryExecMode) func(*pgxpool.Config) {
		return func(c *pgxpool.Config) {
			c.ConnConfig.DefaultQueryExecMode = mode
			c.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
				_, err := conn.PgConn().Exec(ctx, "PREPARE "+cachedName(db.PreparedStatementsProbe)+
					" AS "+db.PreparedStatementsProbe).ReadAll()
				return err
			}
		}
	}
	for _, mode := range modes {
		t.Run("held/"+mode.String(), func(t *testing.T) {
			pool := dbtest.NewWithConfig(t, held(mode))
			err := db.CheckPreparedStatements(t.Context(), pool)
			if mode != pgx.QueryExecModeCacheStatement {
				if err != nil {
					t.Fatalf("%v names no statement, but the check failed: %v", mode, err)
				}
				return
			}
			if !errors.Is(err, db.ErrPreparedStatementsLost) || !strings.Contains(err.Error(), "42P05") {
				t.Fatalf("check = %v, want ErrPreparedStatementsLost with 42P05", err)
			}
		})
	}
	t.Run("lost", func(t *testing.T) {
		pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) {
			c.MaxConns, c.ConnConfig.DefaultQueryExecMode = 1, pgx.QueryExecModeCacheStatement
		})
		conn, err := pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if err := conn.QueryRow(t.Context(), db.PreparedStatementsProbe).Scan(&s); err != nil {
			t.Fatal(err)
		}
		// Behind pgx's back, as the next transaction's server session would be.
		if _, err := conn.Conn().PgConn().Exec(t.Context(), "DEALLOCATE ALL").ReadAll(); err != nil {
			t.Fatal(err)
		}
		conn.Release()
		err = db.CheckPreparedStatements(t.Context(), pool)
		if !errors.Is(err, db.ErrPreparedStatementsLost) || !strings.Contains(err.Error(), "26000") {
			t.Fatalf("check = %v, want ErrPreparedStatementsLost with 26000", err)
		}
	})
}
