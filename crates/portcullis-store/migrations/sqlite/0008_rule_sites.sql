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

ALTER TABLE tenants ADD COLUMN rule_sites_revision INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rule_sites (
    tenant_id  INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    format     TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
