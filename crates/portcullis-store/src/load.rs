//! Reading a tenant's rows back into the model, written once for every way of fetching rows.
//!
//! A load reads [`TABLES`] in three parts at once ([`in_parts`]), each in one read transaction,
//! parents before their children and each table in write order, and hands each row to
//! [`Assembler`]; how rows are fetched is the backend's business (binary `COPY` for PostgreSQL,
//! SQLite's own row API for the embedded store, where sqlx's per-row hand-off between threads
//! cost more than the rest of a start).
//! The assembler is where stored words become model values and a row pointing at a missing
//! parent becomes [`StoreError::Corrupt`].

use std::collections::BTreeMap;

use portcullis_model::tenant::{CustomRole, DirectRole, Group, OauthClient, Share, Space, SpaceMember, Tenant, Use, User};
use portcullis_model::{
    Content, ContentKind, Entitlement, Keyed, Meta, Permission, PermissionValue, ProviderType, SpaceRoleSet, SpaceType, Subscription, TenantSetting,
    UserStatus,
};

use crate::TenantId;
use crate::err::StoreError;
use crate::sql::{WithMeta, parse_assignee, parse_origin, parse_owner, parse_role_setting, parse_word};

/// How often a read is repeated when a write landed between its parts.
const ATTEMPTS: usize = 5;

/// Reads a tenant in [`PARTS`] at once — each part in a read transaction of its own, so a
/// start uses every core of a small machine — and puts them together when all saw the same
/// revision (each write moves it), reading again when not. `read` must run its part off the
/// calling task (a spawned task or thread).
pub(crate) async fn in_parts<F, Fut>(tenant: TenantId, read: F) -> Result<(Tenant, u64), StoreError>
where
    F: Fn(&'static [Table]) -> Fut,
    Fut: Future<Output = Result<Assembler, StoreError>>,
{
    let [access, content, links] = PARTS;
    for _ in 0..ATTEMPTS {
        let (access, content, links) = tokio::join!(read(access), read(content), read(links));
        let (mut whole, content, links) = (access?, content?, links?);
        if whole.revision == content.revision && whole.revision == links.revision {
            whole.tenant.content = content.tenant.content;
            whole.tenant.uses = links.tenant.uses;
            whole.tenant.shares = links.tenant.shares;
            return Ok(whole.finish());
        }
    }
    Err(StoreError::Conflict(format!("tenant {tenant} kept changing while it was read")))
}

/// A part's task stopped without an answer (it panicked or the runtime is going down).
pub(crate) fn stopped(error: tokio::task::JoinError) -> StoreError {
    StoreError::Database(format!("reading the tenant stopped: {error}"))
}

/// The tenant's head row: name, subscription, revision.
pub(crate) const HEAD: &str = "SELECT name, subscription, revision FROM tenants WHERE id = $1";

/// One model table as it is read: the query (bound to the tenant id as `$1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Settings,
    UserDefault,
    CustomRoles,
    RolePermissions,
    Groups,
    GroupRoles,
    EveryoneRoles,
    Users,
    UserRoles,
    UserGroups,
    Clients,
    ClientScopes,
    Spaces,
    SpaceMembers,
    Meta,
    Content,
    Uses,
    Shares,
}

/// Every model table, parents before children.
const TABLES: [Table; 18] = [
    Table::Settings,
    Table::UserDefault,
    Table::CustomRoles,
    Table::RolePermissions,
    Table::Groups,
    Table::GroupRoles,
    Table::EveryoneRoles,
    Table::Users,
    Table::UserRoles,
    Table::UserGroups,
    Table::Clients,
    Table::ClientScopes,
    Table::Spaces,
    Table::SpaceMembers,
    Table::Meta,
    Table::Content,
    Table::Uses,
    Table::Shares,
];

/// The parts a tenant is read in, of similar size for a large tenant (at 100k users: 0.7M,
/// 1M and 0.9M rows): who is who (settings, roles, groups, users, clients, spaces, and their
/// API meta); content; the links between items and their shares. Each part holds its parents.
const PARTS: [&[Table]; 3] = [TABLES.split_at(15).0, &[Table::Content], &[Table::Uses, Table::Shares]];

impl Table {
    /// The query reading this table's rows of one tenant, in the order they were written
    /// (the `(tenant_id, seq)` indexes make that a walk, not a sort).
    pub(crate) fn query(self) -> &'static str {
        match self {
            Table::Settings => "SELECT name, value FROM settings WHERE tenant_id = $1 ORDER BY seq",
            Table::UserDefault => "SELECT permission, value FROM user_default WHERE tenant_id = $1 ORDER BY seq",
            Table::CustomRoles => "SELECT name, description FROM custom_roles WHERE tenant_id = $1 ORDER BY seq",
            Table::RolePermissions => "SELECT role, permission, value FROM role_permissions WHERE tenant_id = $1 ORDER BY seq",
            Table::Groups => "SELECT name, provider_type FROM tenant_groups WHERE tenant_id = $1 ORDER BY seq",
            Table::GroupRoles => "SELECT group_name, role FROM group_roles WHERE tenant_id = $1 ORDER BY seq",
            Table::EveryoneRoles => "SELECT role FROM everyone_roles WHERE tenant_id = $1 ORDER BY seq",
            Table::Users => "SELECT id, name, email, entitlement, status FROM users WHERE tenant_id = $1 ORDER BY seq",
            Table::UserRoles => "SELECT user_id, role, origin FROM user_roles WHERE tenant_id = $1 ORDER BY seq",
            Table::UserGroups => "SELECT user_id, group_name FROM user_groups WHERE tenant_id = $1 ORDER BY seq",
            Table::Clients => "SELECT id, name, impersonation FROM oauth_clients WHERE tenant_id = $1 ORDER BY seq",
            Table::ClientScopes => "SELECT client_id, scope FROM oauth_client_scopes WHERE tenant_id = $1 ORDER BY seq",
            Table::Spaces => "SELECT id, name, space_type, owner, export_only_through FROM spaces WHERE tenant_id = $1 ORDER BY seq",
            Table::SpaceMembers => "SELECT space_id, assignee_kind, assignee, roles FROM space_members WHERE tenant_id = $1 ORDER BY seq",
            Table::Meta => "SELECT kind, key, meta FROM entity_meta WHERE tenant_id = $1 ORDER BY seq",
            Table::Content => "SELECT id, name, kind, space_id, owner FROM content WHERE tenant_id = $1 ORDER BY seq",
            Table::Uses => "SELECT consumer, source FROM uses WHERE tenant_id = $1 ORDER BY seq",
            Table::Shares => "SELECT resource, assignee_kind, assignee, roles FROM shares WHERE tenant_id = $1 ORDER BY seq",
        }
    }

    /// The query counting this table's rows of one tenant, for the tables large enough that
    /// growing their indexes row by row costs a start more than the count does (at 100k users
    /// a million items rehashed at every doubling, by keys scattered across the heap).
    pub(crate) fn count_query(self) -> Option<&'static str> {
        match self {
            Table::Users => Some("SELECT count(*) FROM users WHERE tenant_id = $1"),
            Table::Spaces => Some("SELECT count(*) FROM spaces WHERE tenant_id = $1"),
            Table::Content => Some("SELECT count(*) FROM content WHERE tenant_id = $1"),
            Table::Uses => Some("SELECT count(*) FROM uses WHERE tenant_id = $1"),
            Table::Shares => Some("SELECT count(*) FROM shares WHERE tenant_id = $1"),
            _ => None,
        }
    }
}

/// One stored row, column by column: a backend's row type exposes its columns through this.
pub(crate) trait Row {
    /// Column `i` as text (`None` when NULL).
    fn text(&self, i: usize) -> Result<Option<&str>, StoreError>;
    /// Column `i` as an integer.
    fn int(&self, i: usize) -> Result<i64, StoreError>;

    /// Column `i` as text that may not be NULL.
    fn word(&self, i: usize) -> Result<&str, StoreError> {
        self.text(i)?.ok_or_else(|| StoreError::Corrupt(format!("column {i} is NULL")))
    }
    /// Column `i` as an owned string that may not be NULL.
    fn string(&self, i: usize) -> Result<String, StoreError> {
        self.word(i).map(str::to_owned)
    }
}

/// Builds a [`Tenant`] from its head and its tables' rows.
pub(crate) struct Assembler {
    tenant: Tenant,
    revision: u64,
    /// The user and the space the last child row belonged to (see [`position_of`]).
    last_user: Option<(String, usize)>,
    last_space: Option<(String, usize)>,
}

/// The position of `key` in `table`, remembering the last one: child rows come in their
/// parents' write order, so most of a user's roles and groups (a space's members) follow one
/// another and need no look-up of their parent in a table of 100k.
fn position_of<T: Keyed>(table: &portcullis_model::Table<T>, last: &mut Option<(String, usize)>, key: &str) -> Option<usize> {
    if let Some((id, position)) = last
        && id == key
    {
        return Some(*position);
    }
    let position = table.position(key)?;
    match last {
        Some((id, at)) => {
            id.clear();
            id.push_str(key);
            *at = position;
        }
        None => *last = Some((key.to_owned(), position)),
    }
    Some(position)
}

impl Assembler {
    /// Starts from the head row (name, subscription, revision).
    pub(crate) fn new(head: &impl Row) -> Result<Assembler, StoreError> {
        let mut tenant = Tenant::new(head.string(0)?);
        tenant.subscription = parse_word("subscription", head.word(1)?, Subscription::parse)?;
        Ok(Assembler {
            tenant,
            revision: head.int(2)? as u64,
            last_user: None,
            last_space: None,
        })
    }

    /// The tenant and the revision it was read at.
    pub(crate) fn finish(self) -> (Tenant, u64) {
        (self.tenant, self.revision)
    }

    /// Makes room for `rows` more rows of `table` (a hint: a wrong count costs only time).
    pub(crate) fn reserve(&mut self, table: Table, rows: i64) {
        let rows = usize::try_from(rows).unwrap_or(0);
        let tenant = &mut self.tenant;
        match table {
            Table::Users => tenant.users.reserve(rows),
            Table::Spaces => tenant.spaces.reserve(rows),
            Table::Content => tenant.content.reserve(rows),
            Table::Uses => tenant.uses.reserve(rows),
            Table::Shares => tenant.shares.reserve(rows),
            _ => {}
        }
    }

    /// Adds one row of `table`.
    pub(crate) fn add(&mut self, table: Table, row: &impl Row) -> Result<(), StoreError> {
        let tenant = &mut self.tenant;
        match table {
            Table::Settings => {
                tenant
                    .settings
                    .insert(parse_word("tenant setting", row.word(0)?, TenantSetting::parse)?, row.int(1)? != 0);
            }
            Table::UserDefault => {
                let permission = parse_word("permission", row.word(0)?, Permission::parse)?;
                tenant
                    .user_default
                    .insert(permission, parse_word("permission value", row.word(1)?, PermissionValue::parse)?);
            }
            Table::CustomRoles => {
                tenant.custom_roles.upsert(CustomRole {
                    meta: Default::default(),
                    name: row.string(0)?,
                    description: row.string(1)?,
                    permissions: BTreeMap::new(),
                });
            }
            Table::RolePermissions => {
                let role = row.word(0)?;
                let custom = tenant.custom_roles.get_mut(role).ok_or_else(|| orphan("permission", "role", role))?;
                custom.permissions.insert(
                    parse_word("permission", row.word(1)?, Permission::parse)?,
                    parse_role_setting(row.word(2)?)?,
                );
            }
            Table::Groups => {
                tenant.groups.upsert(Group {
                    meta: Default::default(),
                    name: row.string(0)?,
                    provider_type: parse_word("provider type", row.word(1)?, ProviderType::parse)?,
                    roles: Vec::new(),
                });
            }
            Table::GroupRoles => {
                let group = row.word(0)?;
                tenant
                    .groups
                    .get_mut(group)
                    .ok_or_else(|| orphan("role", "group", group))?
                    .roles
                    .push(row.string(1)?);
            }
            Table::EveryoneRoles => tenant.everyone_roles.push(row.string(0)?),
            Table::Users => {
                tenant.users.upsert(User {
                    meta: Default::default(),
                    id: row.string(0)?,
                    name: row.string(1)?,
                    email: row.text(2)?.map(str::to_owned),
                    entitlement: parse_word("entitlement", row.word(3)?, Entitlement::parse)?,
                    status: parse_word("user status", row.word(4)?, UserStatus::parse)?,
                    roles: Vec::new(),
                    groups: Vec::new(),
                });
            }
            Table::UserRoles => {
                let user = row.word(0)?;
                let role = DirectRole {
                    role: row.string(1)?,
                    origin: parse_origin(row.word(2)?)?,
                };
                let at = position_of(&tenant.users, &mut self.last_user, user).ok_or_else(|| orphan("role", "user", user))?;
                tenant.users.at_mut(at).expect("a position just found").roles.push(role);
            }
            Table::UserGroups => {
                let user = row.word(0)?;
                let at = position_of(&tenant.users, &mut self.last_user, user).ok_or_else(|| orphan("group", "user", user))?;
                tenant.users.at_mut(at).expect("a position just found").groups.push(row.string(1)?);
            }
            Table::Clients => {
                tenant.oauth_clients.upsert(OauthClient {
                    meta: Default::default(),
                    id: row.string(0)?,
                    name: row.string(1)?,
                    scopes: Vec::new(),
                    impersonation: row.int(2)? != 0,
                });
            }
            Table::ClientScopes => {
                let client = row.word(0)?;
                tenant
                    .oauth_clients
                    .get_mut(client)
                    .ok_or_else(|| orphan("scope", "client", client))?
                    .scopes
                    .push(row.string(1)?);
            }
            Table::Spaces => {
                tenant.spaces.upsert(Space {
                    meta: Default::default(),
                    id: row.string(0)?,
                    name: row.string(1)?,
                    space_type: parse_word("space type", row.word(2)?, SpaceType::parse)?,
                    owner: parse_owner(row.word(3)?),
                    export_only_through: match row.text(4)? {
                        None => None,
                        Some(json) => Some(
                            serde_json::from_str(json)
                                .map_err(|e| StoreError::Corrupt(format!("the export mark of space `{}`: {e}", row.word(0).unwrap_or("?"))))?,
                        ),
                    },
                    members: Vec::new(),
                });
            }
            Table::SpaceMembers => {
                let space = row.word(0)?;
                let member = SpaceMember {
                    assignee: parse_assignee(row.word(1)?, row.string(2)?)?,
                    roles: SpaceRoleSet(row.int(3)? as u16),
                };
                let at = position_of(&tenant.spaces, &mut self.last_space, space).ok_or_else(|| orphan("member", "space", space))?;
                tenant.spaces.at_mut(at).expect("a position just found").members.push(member);
            }
            Table::Meta => {
                let (kind, key) = (row.word(0)?, row.word(1)?);
                let meta: Meta = serde_json::from_str(row.word(2)?).map_err(|e| StoreError::Corrupt(format!("the meta of {kind} `{key}`: {e}")))?;
                let slot = match kind {
                    User::KIND => tenant.users.get_mut(key).map(|r| &mut r.meta),
                    Group::KIND => tenant.groups.get_mut(key).map(|r| &mut r.meta),
                    CustomRole::KIND => tenant.custom_roles.get_mut(key).map(|r| &mut r.meta),
                    OauthClient::KIND => tenant.oauth_clients.get_mut(key).map(|r| &mut r.meta),
                    Space::KIND => tenant.spaces.get_mut(key).map(|r| &mut r.meta),
                    other => return Err(StoreError::Corrupt(format!("meta of unknown kind `{other}`"))),
                };
                *slot.ok_or_else(|| orphan("meta", kind, key))? = meta;
            }
            Table::Content => {
                tenant.content.upsert(Content {
                    id: row.string(0)?,
                    name: row.string(1)?,
                    kind: parse_word("content type", row.word(2)?, ContentKind::parse)?,
                    space: row.text(3)?.map(str::to_owned),
                    owner: parse_owner(row.word(4)?),
                });
            }
            Table::Uses => tenant.uses.upsert(Use {
                consumer: row.string(0)?,
                source: row.string(1)?,
            }),
            Table::Shares => tenant.shares.upsert(Share {
                resource: row.string(0)?,
                assignee: parse_assignee(row.word(1)?, row.string(2)?)?,
                roles: SpaceRoleSet(row.int(3)? as u16),
            }),
        }
        Ok(())
    }
}

fn orphan(what: &str, parent: &str, key: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} of unknown {parent} `{key}`"))
}
