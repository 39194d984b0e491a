-- +goose Up
-- The sweeper deletes expired tokens and sessions in bulk. PostgreSQL's default autovacuum
-- waits until a fifth of a table is dead (50 + 0.2 × its rows), and until a vacuum runs the
-- next rows cannot take the swept rows' space: the table and, above all, its indexes grow
-- instead (an index entry of a deleted token stays until a vacuum removes it). Vacuuming
-- these two tables once 2% of their rows are dead keeps them at their working size
-- (docs/BENCHMARKS.md, the sweep's table-size target; docs/OPERATIONS.md, Sweeping). Storage
-- parameters only, taken with a lock that blocks no reads or writes: the previous release
-- runs on this schema.
ALTER TABLE tokens SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
ALTER TABLE sessions SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);

-- +goose Down
ALTER TABLE sessions RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE tokens RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
