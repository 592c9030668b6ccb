-- Interactive sessions (`POST /v1/sessions`): per tenant and user, the rights the user's last
-- login froze, so that a `via: session` decision on any node, and after a restart, uses the
-- rights of that login rather than the node's current ones. `rights` is JSON in the model's
-- words (group and role names, capability scopes, the entitlement: the engine's
-- `FrozenRights`), not the engine's in-memory form, so a build that numbers capabilities
-- differently still reads it. `revision` is the login's: a login always writes its revision
-- (with its change-log row) and this row in one transaction. A row is deleted with its user.

CREATE TABLE sessions (
    tenant_id    INTEGER NOT NULL,
    user_id      TEXT    NOT NULL,
    revision     INTEGER NOT NULL,
    rights       TEXT    NOT NULL,
    logged_in_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
