-- +goose Up
-- The password lifecycle: history, expiry, forced change, reset tokens, a tenant's own
-- forbidden words and the password_reset client permission.
ALTER TABLE tenants
    ADD COLUMN password_history           integer NOT NULL DEFAULT 0 CHECK (password_history BETWEEN 0 AND 24),
    ADD COLUMN password_max_age_seconds   bigint CHECK (password_max_age_seconds > 0),
    ADD COLUMN password_reset_ttl_seconds bigint CHECK (password_reset_ttl_seconds BETWEEN 60 AND 86400);

-- password_change_reason is set while the user must change the password before getting
-- tokens: 'admin', 'breached' or 'expired'.
ALTER TABLE users
    ADD COLUMN password_changed_at    timestamptz,
    ADD COLUMN password_change_reason text CHECK (password_change_reason IN ('admin', 'breached', 'expired'));
-- NULL (rows written by older code, imports) reads as created_at.
UPDATE users SET password_changed_at = updated_at;

ALTER TABLE clients
    ADD COLUMN password_reset boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT clients_password_reset_confidential CHECK (NOT (public AND password_reset));

-- The user's previous password hashes, newest first by id; only as many as the tenant's
-- password_history are kept.
CREATE TABLE password_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    hash       text NOT NULL,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX password_history_user ON password_history (tenant_id, user_id, id DESC);

-- Reset tokens ("jpr_..."), by SHA-256. One live token per user: a newer one replaces it.
-- user_epoch is the user's epoch at issue: a password change or disabling moves it, and
-- the token with it.
CREATE TABLE password_resets (
    hash       bytea NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    user_epoch bigint NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX password_resets_user ON password_resets (tenant_id, user_id);
CREATE INDEX password_resets_expires_at ON password_resets (expires_at);

-- A tenant's own forbidden words (its name, its products): a new password containing one,
-- without case, is refused. word is stored case-folded after NFKC.
CREATE TABLE forbidden_passwords (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    word      text NOT NULL,
    PRIMARY KEY (tenant_id, word)
);

-- +goose Down
DROP TABLE forbidden_passwords;
DROP TABLE password_resets;
DROP TABLE password_history;
ALTER TABLE clients DROP CONSTRAINT clients_password_reset_confidential, DROP COLUMN password_reset;
ALTER TABLE users DROP COLUMN password_change_reason, DROP COLUMN password_changed_at;
ALTER TABLE tenants DROP COLUMN password_reset_ttl_seconds, DROP COLUMN password_max_age_seconds,
    DROP COLUMN password_history;
