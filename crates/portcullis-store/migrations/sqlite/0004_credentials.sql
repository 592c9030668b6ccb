-- Credentials die with their owner, and no identifier is handed out twice.
--
-- `INTEGER PRIMARY KEY` alone gives a new row the largest id in the table plus one, so the
-- id of the last deleted tenant (or API key, or client secret) went to the next one, and
-- anything still holding the old id (a node's credential cache, an audit record) then named
-- the new one. `AUTOINCREMENT` keeps the largest id ever used in `sqlite_sequence`; the
-- tables are rebuilt with it, keeping every id (ids deleted before this migration are not
-- known any more and cannot be reserved).
--
-- `tenants.credentials_revision` grows whenever one of the tenant's credentials is revoked
-- or deleted (other nodes read it when they poll and drop what they had cached);
-- `oauth_clients.impersonation` says whether the client may use the user-impersonation
-- grant (0 = no, the default).

CREATE TABLE tenants_v4 (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT    NOT NULL UNIQUE,
    subscription         TEXT    NOT NULL,
    revision             INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    credentials_revision INTEGER NOT NULL DEFAULT 0
);
INSERT INTO tenants_v4 (id, name, subscription, revision, created_at)
    SELECT id, name, subscription, revision, created_at FROM tenants;
DROP TABLE tenants;
ALTER TABLE tenants_v4 RENAME TO tenants;

CREATE TABLE api_keys_v4 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL,
    user_id     TEXT    NOT NULL,
    hash        BLOB    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
INSERT INTO api_keys_v4 (id, tenant_id, user_id, hash, description, created_at, expires_at, revoked_at)
    SELECT id, tenant_id, user_id, hash, description, created_at, expires_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v4 RENAME TO api_keys;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, user_id);

CREATE TABLE oauth_client_secrets_v4 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL,
    client_id  TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    bot_user   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO oauth_client_secrets_v4 (id, tenant_id, client_id, hash, bot_user, created_at)
    SELECT id, tenant_id, client_id, hash, bot_user, created_at FROM oauth_client_secrets;
DROP TABLE oauth_client_secrets;
ALTER TABLE oauth_client_secrets_v4 RENAME TO oauth_client_secrets;
CREATE INDEX oauth_client_secrets_client ON oauth_client_secrets (tenant_id, client_id);
CREATE INDEX oauth_client_secrets_bot ON oauth_client_secrets (tenant_id, bot_user);

CREATE INDEX oauth_tokens_client ON oauth_tokens (tenant_id, client_id);
CREATE INDEX oauth_tokens_user ON oauth_tokens (tenant_id, user_id);

ALTER TABLE oauth_clients ADD COLUMN impersonation INTEGER NOT NULL DEFAULT 0;
