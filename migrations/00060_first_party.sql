-- +goose Up
-- OAuth 2.0 for First-Party Applications (docs/SECURITY.md, First-party apps). Only adds:
-- the previous release runs on this schema.
ALTER TABLE clients ADD COLUMN first_party boolean NOT NULL DEFAULT false;

-- An unfinished authorization challenge is an mfa_token row (its hash that of the jas_
-- auth_session string) with what the code it ends in must carry: the PKCE S256 challenge
-- (NULL: none, a confidential client) and, for a step-up, the session it raises.
CREATE TABLE challenge_sessions (
    hash           bytea NOT NULL PRIMARY KEY REFERENCES mfa_tokens (hash) ON DELETE CASCADE,
    code_challenge text,
    session_id     uuid
);

-- An authorization code: SHA-256 of the jac_ string, single use, 60 seconds. session_id is
-- the session a step-up code raises (NULL: a new login); redeemed_session the session its
-- redemption created or raised, revoked if the code is presented again (RFC 6749 §4.1.2).
CREATE TABLE authorization_codes (
    hash             bytea NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    tenant_id        uuid NOT NULL,
    client_id        text NOT NULL,
    user_id          uuid NOT NULL,
    user_epoch       bigint NOT NULL,
    scope            text NOT NULL,
    amr              text[] NOT NULL,
    code_challenge   text,
    session_id       uuid,
    ip               text NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    redeemed_session uuid,
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

-- The auth_session a redeemed code hands back: live as long as its session (unrevoked,
-- unexpired, the user enabled and at the epoch of the login).
CREATE TABLE auth_sessions (
    hash       bytea NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    tenant_id  uuid NOT NULL,
    session_id uuid NOT NULL,
    user_epoch bigint NOT NULL,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);

-- A step-up moves a session's auth_time; NULL: its created_at.
ALTER TABLE sessions ADD COLUMN auth_time timestamptz;

-- +goose Down
ALTER TABLE sessions DROP COLUMN auth_time;
DROP TABLE auth_sessions;
DROP TABLE authorization_codes;
DROP TABLE challenge_sessions;
ALTER TABLE clients DROP COLUMN first_party;
