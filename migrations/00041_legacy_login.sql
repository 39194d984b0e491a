-- +goose Up
-- A tenant's lazy migration hook: on a password login for a username jeton does not have,
-- the old system at url is asked, signed with secret (Standard Webhooks, "whsec_..."),
-- whether the password is right. The secret must be kept to sign, so it is stored as
-- given; it is never shown again after it is set.
CREATE TABLE legacy_logins (
    tenant_id  uuid NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    url        text NOT NULL,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE legacy_logins;
