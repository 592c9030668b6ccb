-- A tenant is read table by table in the order its rows were written (`seq`); an index on
-- (tenant_id, seq) per model table lets that read walk the index instead of sorting every row
-- at startup. It also serves every "all rows of a tenant" delete, so the single-column
-- tenant indexes are dropped.

DROP INDEX oauth_client_scopes_tenant;
DROP INDEX space_members_tenant;
DROP INDEX uses_tenant;
DROP INDEX shares_tenant;

CREATE INDEX settings_load ON settings (tenant_id, seq);
CREATE INDEX user_default_load ON user_default (tenant_id, seq);
CREATE INDEX custom_roles_load ON custom_roles (tenant_id, seq);
CREATE INDEX role_permissions_load ON role_permissions (tenant_id, seq);
CREATE INDEX tenant_groups_load ON tenant_groups (tenant_id, seq);
CREATE INDEX group_roles_load ON group_roles (tenant_id, seq);
CREATE INDEX everyone_roles_load ON everyone_roles (tenant_id, seq);
CREATE INDEX users_load ON users (tenant_id, seq);
CREATE INDEX user_roles_load ON user_roles (tenant_id, seq);
CREATE INDEX user_groups_load ON user_groups (tenant_id, seq);
CREATE INDEX oauth_clients_load ON oauth_clients (tenant_id, seq);
CREATE INDEX oauth_client_scopes_load ON oauth_client_scopes (tenant_id, seq);
CREATE INDEX spaces_load ON spaces (tenant_id, seq);
CREATE INDEX space_members_load ON space_members (tenant_id, seq);
CREATE INDEX content_load ON content (tenant_id, seq);
CREATE INDEX uses_load ON uses (tenant_id, seq);
CREATE INDEX shares_load ON shares (tenant_id, seq);
