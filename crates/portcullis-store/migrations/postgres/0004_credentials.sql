-- Credentials die with their owner. (Identity columns never hand an id out twice, so unlike
-- SQLite the tenant, API key and secret tables need no rebuild.)
--
-- `tenants.credentials_revision` grows whenever one of the tenant's credentials is revoked
-- or deleted (other nodes read it when they poll and drop what they had cached);
-- `oauth_clients.impersonation` says whether the client may use the user-impersonation
-- grant (0 = no, the default).

ALTER TABLE tenants ADD COLUMN credentials_revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE oauth_clients ADD COLUMN impersonation BIGINT NOT NULL DEFAULT 0;

CREATE INDEX oauth_client_secrets_client ON oauth_client_secrets (tenant_id, client_id);
CREATE INDEX oauth_client_secrets_bot ON oauth_client_secrets (tenant_id, bot_user);
CREATE INDEX oauth_tokens_client ON oauth_tokens (tenant_id, client_id);
CREATE INDEX oauth_tokens_user ON oauth_tokens (tenant_id, user_id);

-- Ids written by hand (a restored dump, rows copied in) do not move an identity's sequence,
-- which would then hand them out again: each sequence is put past the largest id in its
-- table, never back.
SELECT setval(pg_get_serial_sequence('tenants', 'id'),
    GREATEST(COALESCE((SELECT MAX(id) FROM tenants), 0),
             COALESCE(pg_sequence_last_value(pg_get_serial_sequence('tenants', 'id')::regclass), 0)) + 1, false);
SELECT setval(pg_get_serial_sequence('api_keys', 'id'),
    GREATEST(COALESCE((SELECT MAX(id) FROM api_keys), 0),
             COALESCE(pg_sequence_last_value(pg_get_serial_sequence('api_keys', 'id')::regclass), 0)) + 1, false);
SELECT setval(pg_get_serial_sequence('oauth_client_secrets', 'id'),
    GREATEST(COALESCE((SELECT MAX(id) FROM oauth_client_secrets), 0),
             COALESCE(pg_sequence_last_value(pg_get_serial_sequence('oauth_client_secrets', 'id')::regclass), 0)) + 1, false);
