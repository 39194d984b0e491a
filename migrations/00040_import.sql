-- +goose Up
-- The user's identifier in the system it was imported from, kept for the operator's own
-- mapping (not unique: old systems reuse them). An imported user's password_hash may be of
-- another family than argon2id (password/legacy) until its first login, or '' when the
-- import gave none (no password login until one is set).
ALTER TABLE users ADD COLUMN external_id text;

-- +goose Down
ALTER TABLE users DROP COLUMN external_id;
