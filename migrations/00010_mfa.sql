-- +goose Up
-- A second factor inside the password grant (docs/SECURITY.md, Second factor). Only adds:
-- the previous release runs on this schema (min_binary_version unchanged).
ALTER TABLE tenants
    ADD COLUMN mfa_policy text NOT NULL DEFAULT 'off' CHECK (mfa_policy IN ('off', 'optional', 'required')),
    -- Wrong second-factor codes per user per 15 minutes before 429 (NULL: the default, 10).
    ADD COLUMN mfa_failure_limit integer CHECK (mfa_failure_limit > 0);

-- How the session's user authenticated (RFC 8176 values); every token of the session,
-- refreshed ones too, reports it. auth_time is the session's created_at.
ALTER TABLE sessions ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}';

-- A user's TOTP factor: the secret sealed under the key ring (AES-256-GCM, the user and
-- tenant ids as associated data) by key key_id. confirmed_at NULL: pending enrolment.
-- last_step is the time step of the last accepted code: only later steps are accepted.
CREATE TABLE mfa_totp (
    tenant_id    uuid NOT NULL,
    user_id      uuid NOT NULL,
    key_id       text NOT NULL,
    secret       bytea NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Recovery codes: SHA-256 of the user's salt and the code, each usable once.
CREATE TABLE mfa_recovery_codes (
    tenant_id uuid NOT NULL,
    user_id   uuid NOT NULL,
    salt      bytea NOT NULL,
    hash      bytea NOT NULL CHECK (length(hash) = 32),
    used_at   timestamptz,
    PRIMARY KEY (tenant_id, user_id, hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Wrong second-factor codes of a user in the window that ends at expires_at.
CREATE TABLE mfa_failures (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    failures   integer NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- The mfa_token of a login whose password was right: SHA-256 of the token string. Live
-- while unused, unexpired, with fewer than 5 wrong codes and the user's epoch unchanged.
-- ip is the address as the login throttles count it: known for the user once the factor
-- succeeds. enrollment: the user had no factor (policy required) and may enrol with it.
CREATE TABLE mfa_tokens (
    hash       bytea NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    tenant_id  uuid NOT NULL,
    client_id  text NOT NULL,
    user_id    uuid NOT NULL,
    user_epoch bigint NOT NULL,
    scope      text NOT NULL,
    ip         text NOT NULL,
    enrollment boolean NOT NULL,
    failures   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX mfa_tokens_expires_at ON mfa_tokens (expires_at);

-- +goose Down
DROP TABLE mfa_tokens;
DROP TABLE mfa_failures;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE tenants DROP COLUMN mfa_failure_limit, DROP COLUMN mfa_policy;
