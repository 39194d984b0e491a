package db

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MinBinaryVersion returns the oldest jeton version the schema supports, as the
// migrations recorded it in jeton_meta (migrations/00002_min_binary_version.sql), or ""
// when the schema does not say: a database not migrated yet, or migrated only by releases
// older than the record. It returns the database's error otherwise.
func (s *Store) MinBinaryVersion(ctx context.Context) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM jeton_meta WHERE key = 'min_binary_version'`).Scan(&v)
	var pg *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pg) && pg.Code == "42P01" { // undefined_table
		return "", nil
	}
	return v, translate("min binary version", err)
}
