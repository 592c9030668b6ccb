-- Security-rule sites, stored per tenant (they were held in the memory of the node that
-- loaded them). A site is kept as its source text as uploaded and its format (`yaml` or
-- `json`); every node compiles it when it loads the tenant and again when it changes.
--
-- `tenants.rule_sites_revision` grows by one with every write to the tenant's sites (its
-- update is also the tenant's lock for that write). A site's `revision` is the value it
-- reached with the site's last write: it grows with each write to the site, and a site
-- deleted and created again never gets a revision it had before, so an `ETag` never names
-- another version. Other nodes compare the tenant's value with the one they hold and read
-- only the sites written since. `created_by`/`updated_by` hold the author as JSON
-- (`{"actor": ..., "channel": ...}`, as the change log does).
--
-- The change feed gets a fifth kind, `rule-sites`, sent when the tenant's
-- `rule_sites_revision` moves, with that value as `sites`.

ALTER TABLE tenants ADD COLUMN rule_sites_revision BIGINT NOT NULL DEFAULT 0;

CREATE TABLE rule_sites (
    tenant_id  BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    format     TEXT   NOT NULL,
    source     TEXT   NOT NULL,
    revision   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE OR REPLACE FUNCTION portcullis_feed_tenants() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT[] := '{}';
    kind TEXT;
    tenant_row RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := ARRAY['tenant-deleted'];
        tenant_row := OLD;
    ELSE
        tenant_row := NEW;
        -- Every write locks its tenant with an update that moves nothing: no notification then.
        IF TG_OP = 'INSERT' OR NEW.revision <> OLD.revision THEN
            changed := changed || 'model'::TEXT;
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.credentials_revision <> OLD.credentials_revision THEN
            changed := changed || 'credentials'::TEXT;
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.rule_sites_revision <> OLD.rule_sites_revision THEN
            changed := changed || 'rule-sites'::TEXT;
        END IF;
    END IF;
    FOREACH kind IN ARRAY changed LOOP
        PERFORM pg_notify('portcullis_feed', json_build_object(
            'schema', TG_TABLE_SCHEMA,
            'tenant', tenant_row.id,
            'revision', tenant_row.revision,
            'credentials', tenant_row.credentials_revision,
            'sites', tenant_row.rule_sites_revision,
            'kind', kind)::text);
    END LOOP;
    RETURN NULL;
END
$$;
