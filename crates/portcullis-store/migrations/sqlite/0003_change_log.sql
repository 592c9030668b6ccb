-- The change log: every committed `Change`, in order, with who made it and when. Other nodes
-- and access history read it; a tenant's state at revision N is its import plus the changes
-- up to N. Also the indexes that let a write rewrite one entity's child rows.

CREATE TABLE change_log (
    seq       INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    revision  INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    change    TEXT    NOT NULL,
    author    TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    UNIQUE (tenant_id, revision, position)
);

CREATE INDEX oauth_client_scopes_client ON oauth_client_scopes (tenant_id, client_id);
CREATE INDEX space_members_space ON space_members (tenant_id, space_id);
CREATE INDEX uses_consumer ON uses (tenant_id, consumer);
CREATE INDEX shares_resource ON shares (tenant_id, resource);
