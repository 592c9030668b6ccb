-- What the Qlik API shows beyond the access model.
--
-- `api_key_settings`: a tenant's API-key settings (Qlik's `/api-keys/configs/{tenantId}`):
-- whether keys may be created, the longest lifetime of a new key (seconds) and how many
-- active keys one user may hold. No row: the defaults (on, 3650 days, 1000). They are
-- credentials' settings, outside the model: read from here whenever a key is created or the
-- settings are asked for, so no node keeps a copy to bring up to date.
-- `api_keys.updated_at`: when a key's description last changed.
--
-- `entity_meta`: per user, group, custom role, OAuth client and space (`kind`, `key`: the
-- row's key in the model), the fields of the model's `Meta` that the API shows and no
-- decision reads (timestamps, a user's profile, a description, a stable API id), as the
-- model's JSON of them. A row exists only when some field is set; it is rewritten with its
-- entity's rows and read with them (the load's first part).

CREATE TABLE api_key_settings (
    tenant_id          INTEGER PRIMARY KEY,
    enabled            INTEGER NOT NULL,
    max_expiry_seconds INTEGER NOT NULL,
    max_keys_per_user  INTEGER NOT NULL
);

ALTER TABLE api_keys ADD COLUMN updated_at INTEGER;

CREATE TABLE entity_meta (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    meta      TEXT    NOT NULL,
    UNIQUE (tenant_id, kind, key)
);
CREATE INDEX entity_meta_load ON entity_meta (tenant_id, seq);
