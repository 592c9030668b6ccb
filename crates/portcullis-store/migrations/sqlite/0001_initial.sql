-- Portcullis store, SQLite: tenants, their access model, credentials and the revision log.
-- Every model table is keyed by tenant; `seq` keeps the order rows were written in, so a
-- loaded tenant lists everything in the order it was imported or changed.

CREATE TABLE tenants (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    subscription TEXT    NOT NULL,
    revision     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE settings (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    value     INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE user_default (
    seq        INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    permission TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    UNIQUE (tenant_id, permission)
);

CREATE TABLE custom_roles (
    seq         INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE role_permissions (
    seq        INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    role       TEXT    NOT NULL,
    permission TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    UNIQUE (tenant_id, role, permission)
);

CREATE TABLE tenant_groups (
    seq           INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    provider_type TEXT    NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE group_roles (
    seq        INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    group_name TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    UNIQUE (tenant_id, group_name, role)
);

CREATE TABLE everyone_roles (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    role      TEXT    NOT NULL,
    UNIQUE (tenant_id, role)
);

CREATE TABLE users (
    seq         INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL,
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    email       TEXT,
    entitlement TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE user_roles (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    user_id   TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    origin    TEXT    NOT NULL,
    UNIQUE (tenant_id, user_id, role)
);

CREATE TABLE user_groups (
    seq        INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    group_name TEXT    NOT NULL,
    UNIQUE (tenant_id, user_id, group_name)
);

CREATE TABLE oauth_clients (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    id        TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE oauth_client_scopes (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    client_id TEXT    NOT NULL,
    scope     TEXT    NOT NULL
);
CREATE INDEX oauth_client_scopes_tenant ON oauth_client_scopes (tenant_id);

CREATE TABLE spaces (
    seq        INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    id         TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    space_type TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE space_members (
    seq           INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL,
    space_id      TEXT    NOT NULL,
    assignee_kind TEXT    NOT NULL,
    assignee      TEXT    NOT NULL,
    roles         INTEGER NOT NULL
);
CREATE INDEX space_members_tenant ON space_members (tenant_id);

CREATE TABLE content (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    id        TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    space_id  TEXT,
    owner     TEXT    NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE uses (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    consumer  TEXT    NOT NULL,
    source    TEXT    NOT NULL
);
CREATE INDEX uses_tenant ON uses (tenant_id);

CREATE TABLE shares (
    seq           INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL,
    resource      TEXT    NOT NULL,
    assignee_kind TEXT    NOT NULL,
    assignee      TEXT    NOT NULL,
    roles         INTEGER NOT NULL
);
CREATE INDEX shares_tenant ON shares (tenant_id);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL,
    user_id     TEXT    NOT NULL,
    hash        BLOB    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, user_id);

CREATE TABLE oauth_client_secrets (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    client_id  TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    bot_user   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE oauth_tokens (
    hash       BLOB    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX oauth_tokens_tenant ON oauth_tokens (tenant_id);

CREATE TABLE revisions (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    revision  INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX revisions_tenant ON revisions (tenant_id, revision);
