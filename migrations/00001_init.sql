-- +goose Up
-- Every time is compared with a parameter from jeton's injected clock; no default here
-- calls now(), so tests move time without sleeping.

-- jeton_meta holds facts about the database itself (the dev marker).
CREATE TABLE jeton_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- A tenant is never deleted: deleted_at makes it a tombstone that keeps its slug reserved.
CREATE TABLE tenants (
    id                          uuid PRIMARY KEY,
    slug                        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                        text NOT NULL,
    disabled                    boolean NOT NULL DEFAULT false,
    epoch                       bigint NOT NULL DEFAULT 1,
    -- version counts updates of the row: a copy cached in memory is current while the
    -- database still holds its version (service's client cache checks it as it issues).
    version                     bigint NOT NULL DEFAULT 1,
    access_ttl_seconds          bigint CHECK (access_ttl_seconds > 0),
    refresh_idle_ttl_seconds    bigint CHECK (refresh_idle_ttl_seconds > 0),
    refresh_max_ttl_seconds     bigint CHECK (refresh_max_ttl_seconds > 0),
    refresh_reuse_grace_seconds bigint NOT NULL DEFAULT 0 CHECK (refresh_reuse_grace_seconds BETWEEN 0 AND 60),
    event_retention_seconds     bigint CHECK (event_retention_seconds > 0),
    -- Overrides of the deployment's password policy and login throttles (NULL: the
    -- default); jeton keeps each within the deployment's maximum.
    min_password_length         integer CHECK (min_password_length BETWEEN 8 AND 64),
    login_backoff_after         integer CHECK (login_backoff_after > 0),
    login_user_limit            integer CHECK (login_user_limit > 0),
    login_ip_limit              integer CHECK (login_ip_limit > 0),
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    deleted_at                  timestamptz
);

CREATE TABLE users (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL PRIMARY KEY,
    username      text NOT NULL,
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    scopes        text[],  -- NULL: no restriction beyond the client's
    epoch         bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, username)
);

-- clients.id is the public client_id ("jc_..."), unique across tenants.
CREATE TABLE clients (
    tenant_id                uuid NOT NULL REFERENCES tenants (id),
    id                       text NOT NULL PRIMARY KEY CHECK (id LIKE 'jc\_%'),
    name                     text NOT NULL,
    public                   boolean NOT NULL,
    disabled                 boolean NOT NULL DEFAULT false,
    grant_types              text[] NOT NULL DEFAULT '{}',
    scopes                   text[] NOT NULL DEFAULT '{}',
    default_scopes           text[],  -- NULL: all allowed scopes
    introspect               boolean NOT NULL DEFAULT false,
    allowed_origins          text[] NOT NULL DEFAULT '{}',  -- CORS: exact scheme://host[:port]
    -- A confidential client relaying its users' logins may name each user's address in
    -- Jeton-Forwarded-For; nobody else's header is read.
    forwards_user_ip         boolean NOT NULL DEFAULT false,
    access_ttl_seconds       bigint CHECK (access_ttl_seconds > 0),
    refresh_idle_ttl_seconds bigint CHECK (refresh_idle_ttl_seconds > 0),
    refresh_max_ttl_seconds  bigint CHECK (refresh_max_ttl_seconds > 0),
    epoch                    bigint NOT NULL DEFAULT 1,
    version                  bigint NOT NULL DEFAULT 1,  -- as tenants.version; secret rotations too
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    CHECK (NOT (public AND 'client_credentials' = ANY (grant_types))),
    CHECK (NOT (public AND forwards_user_ip))
);
-- A CORS preflight asks whether any client of the deployment allows an origin.
CREATE INDEX clients_allowed_origins ON clients USING gin (allowed_origins);

-- Only SHA-256 of a client secret is stored. expires_at is set on the previous secret
-- when a rotation keeps it valid for a while.
CREATE TABLE client_secrets (
    tenant_id  uuid NOT NULL,
    client_id  text NOT NULL,
    hash       bytea NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX client_secrets_client ON client_secrets (tenant_id, client_id);

-- A session is one password-grant login: the family of every token descended from it.
CREATE TABLE sessions (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL PRIMARY KEY,
    client_id         text NOT NULL,
    user_id           uuid NOT NULL,
    scope             text NOT NULL,
    created_at        timestamptz NOT NULL,
    last_refreshed_at timestamptz,
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);
CREATE INDEX sessions_client ON sessions (tenant_id, client_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (id) WHERE revoked_at IS NOT NULL;

-- tokens holds access ('a') and refresh ('r') tokens, keyed by SHA-256 of the token string.
-- The three epochs are those current when the request started; the token is live only while
-- the user's, client's and tenant's epochs still equal them.
CREATE TABLE tokens (
    hash         bytea NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    id           uuid NOT NULL UNIQUE,
    kind         "char" NOT NULL CHECK (kind IN ('a', 'r')),
    tenant_id    uuid NOT NULL,
    client_id    text NOT NULL,
    user_id      uuid,
    session_id   uuid,
    scope        text NOT NULL,
    issued_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    used_at      timestamptz,  -- refresh tokens: when it was rotated
    tenant_epoch bigint NOT NULL,
    client_epoch bigint NOT NULL,
    user_epoch   bigint,
    CHECK ((user_id IS NULL) = (user_epoch IS NULL)),
    CHECK (kind = 'a' OR session_id IS NOT NULL),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX tokens_expires_at ON tokens (expires_at);
CREATE INDEX tokens_session ON tokens (tenant_id, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX tokens_user ON tokens (tenant_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX tokens_client ON tokens (tenant_id, client_id);

-- Admin keys: tenant_id NULL is a global key.
CREATE TABLE admin_keys (
    id         uuid PRIMARY KEY,
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    tenant_id  uuid REFERENCES tenants (id),
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- events has no foreign keys on purpose: actor and subject are an id plus a display string,
-- so the audit trail outlives what it names. tenant_id NULL is the global stream.
CREATE TABLE events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid,
    at           timestamptz NOT NULL,
    kind         text NOT NULL,
    actor_type   text NOT NULL,
    actor_id     text NOT NULL,
    actor_name   text NOT NULL,
    subject_type text NOT NULL DEFAULT '',
    subject_id   text NOT NULL DEFAULT '',
    subject_name text NOT NULL DEFAULT '',
    client_id    text NOT NULL DEFAULT '',
    user_id      text NOT NULL DEFAULT '',
    client_ip    text NOT NULL DEFAULT '',
    request_id   text NOT NULL DEFAULT '',
    detail       jsonb NOT NULL DEFAULT '{}',
    -- Set only on an aggregated event (login_throttled): the start of the window whose
    -- occurrences it counts in detail, so counting on updates no indexed column.
    window_start timestamptz
);
CREATE INDEX events_tenant ON events (tenant_id, id DESC);
CREATE INDEX events_at ON events (at);
-- The admin API's user and client filters; events without a user or client stay out.
CREATE INDEX events_tenant_user ON events (tenant_id, user_id, id DESC) WHERE user_id <> '';
CREATE INDEX events_tenant_client ON events (tenant_id, client_id, id DESC) WHERE client_id <> '';
-- Refused (throttled) logins are one event per tenant, username, address and window, whose
-- detail counts the attempts: a flood cannot add a row per request.
CREATE UNIQUE INDEX events_aggregated ON events (tenant_id, kind, subject_name, client_ip, window_start)
    WHERE window_start IS NOT NULL;

-- The revocation log that GET /revocations streams (docs/FEED.md): one row per
-- revocation, appended as the revoking transaction's last statement under an advisory
-- lock, so ids increase in commit order. subject is the token's hex SHA-256, the session
-- id, the user id or the client_id ('' for the tenant). No foreign keys: a row outlives the
-- user or client it names. The sweeper trims the oldest ids first, so the log is always
-- every revocation from its smallest id on.
CREATE TABLE revocations (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('token', 'session', 'user', 'client', 'tenant')),
    subject   text NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX revocations_tenant ON revocations (tenant_id, id);
CREATE INDEX revocations_at ON revocations (at);

-- Failed password logins, counted before each verification (a reservation) and settled by
-- its outcome. kind 'p' is one (username, address) pair: its back-off blocks the pair until
-- blocked_until; 'u' is one username and 'i' one address, each refused past a limit until
-- expires_at. tenant_id is NULL only for 'i' rows of the cross-tenant count of connection
-- (or trusted proxy) addresses. ip is the address as counted: an IPv6 address by its /64,
-- or "client_id address" for a confidential client that does not forward its users'
-- addresses. Rows go when expires_at passes (the sweeper).
CREATE TABLE login_throttles (
    tenant_id     uuid,
    kind          "char" NOT NULL CHECK (kind IN ('p', 'u', 'i')),
    username      text NOT NULL,  -- '' for 'i'
    ip            text NOT NULL,  -- '' for 'u'
    failures      integer NOT NULL,  -- failed and in-flight attempts in the window
    refused       integer NOT NULL,  -- attempts refused since the last one let through
    blocked_until timestamptz,       -- 'p': the back-off
    expires_at    timestamptz NOT NULL,
    UNIQUE NULLS NOT DISTINCT (kind, ip, username, tenant_id),
    CHECK (tenant_id IS NOT NULL OR kind = 'i')
) WITH (fillfactor = 70);  -- room on each page for the counters' updates (HOT)
CREATE INDEX login_throttles_expires_at ON login_throttles (expires_at);

-- The addresses (counted as in login_throttles) from which a user logged in successfully:
-- the per-username limit never refuses them while last_success_at is recent.
CREATE TABLE known_ips (
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    ip              text NOT NULL,
    last_success_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, ip),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX known_ips_last_success_at ON known_ips (last_success_at);

-- +goose Down
DROP TABLE known_ips;
DROP TABLE login_throttles;
DROP TABLE revocations;
DROP TABLE events;
DROP TABLE admin_keys;
DROP TABLE tokens;
DROP TABLE sessions;
DROP TABLE client_secrets;
DROP TABLE clients;
DROP TABLE users;
DROP TABLE tenants;
DROP TABLE jeton_meta;
