-- +goose Up
-- jeton_meta's min_binary_version is the oldest jeton release that may run on this schema;
-- `jeton serve` refuses to start when it is older, naming both versions. Migrations are
-- expand/contract (docs/OPERATIONS.md, Upgrades): a migration that only adds (a table, a
-- nullable column, an index) leaves the value alone, so the previous release keeps running
-- on the new schema during a rolling upgrade; a migration that drops or changes something a
-- release still uses raises it, in the same migration, to the first release that no longer
-- uses it. 0.1.0 is the first release that reads it.
INSERT INTO jeton_meta (key, value) VALUES ('min_binary_version', '0.1.0');

-- +goose Down
DELETE FROM jeton_meta WHERE key = 'min_binary_version';
