-- What the Qlik API shows beyond the access model.
--
-- `api_key_settings`: a tenant's API-key settings (Qlik's `/api-keys/configs/{tenantId}`):
-- whether keys may be created, the longest lifetime of a new key (seconds) and how many
-- active keys one user may hold. No row: the defaults (on, 3650 days, 1000). They are
-- credentials' settings, outside the model: read from here whenever a key is created or the
-- settings are asked for, so no node keeps a copy to bring up to date.
-- `api_keys.updated_at`: when a key's description last changed.

CREATE TABLE api_key_settings (
    tenant_id          INTEGER PRIMARY KEY,
    enabled            INTEGER NOT NULL,
    max_expiry_seconds INTEGER NOT NULL,
    max_keys_per_user  INTEGER NOT NULL
);

ALTER TABLE api_keys ADD COLUMN updated_at INTEGER;
