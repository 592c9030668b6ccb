-- The change feed: every committed change to a tenant notifies the nodes listening on the
-- `portcullis_feed` channel, from a trigger, so inside the committing transaction and
-- whichever code wrote (PostgreSQL delivers a notification only when its transaction commits,
-- in commit order). The payload is JSON: the schema (nodes on other schemas of the database
-- ignore it), the tenant's id, revision and credentials revision, and what moved:
--   `model`          the revision moved (a commit, an import, a new tenant);
--   `credentials`    a credential was revoked or deleted (the credentials revision moved);
--   `audit-settings` the tenant's audit settings were written (no revisions: they do not move);
--   `tenant-deleted` the tenant is gone.
-- A listener reads the change log after the revision it holds; a notification that never
-- arrives is healed by the next poll, which reads the same revisions.
--
-- The functions name nothing through the search path (only `pg_catalog`, always found), so a
-- write from a session with another search path still notifies.

CREATE FUNCTION portcullis_feed_tenants() RETURNS TRIGGER
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
    END IF;
    FOREACH kind IN ARRAY changed LOOP
        PERFORM pg_notify('portcullis_feed', json_build_object(
            'schema', TG_TABLE_SCHEMA,
            'tenant', tenant_row.id,
            'revision', tenant_row.revision,
            'credentials', tenant_row.credentials_revision,
            'kind', kind)::text);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_feed AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION portcullis_feed_tenants();

CREATE FUNCTION portcullis_feed_audit_settings() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis_feed', json_build_object(
        'schema', TG_TABLE_SCHEMA,
        'tenant', NEW.tenant_id,
        'kind', 'audit-settings')::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_settings_feed AFTER INSERT OR UPDATE ON audit_settings
    FOR EACH ROW EXECUTE FUNCTION portcullis_feed_audit_settings();
