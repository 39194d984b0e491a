package db

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// AppendRevocation lets the package's tests build revoking transactions of their own, to
// interleave their commits at will.
func (s *Store) AppendRevocation(ctx context.Context, tx pgx.Tx, r Revocation) error {
	return s.appendRevocation(ctx, tx, r)
}

// Translate lets the package's tests classify errors as every method does.
func Translate(what string, err error) error { return translate(what, err) }

// PreparedStatementsProbe is the statement CheckPreparedStatements runs.
const PreparedStatementsProbe = preparedStatementsProbe
