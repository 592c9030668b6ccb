//! The SQL both backends share. Every statement here is portable between SQLite and
//! PostgreSQL: `$N` placeholders (sqlx's SQLite driver maps them by number), `ON CONFLICT`,
//! `RETURNING`, integer columns read as `i64`, text as `String`, hashes as bytes. What differs
//! — DDL, connection set-up, read isolation, locking — stays in `sqlite/` and `postgres/`.
//!
//! The functions are written once in [`define_sql_store!`] and instantiated per backend,
//! because sqlx's generic executor bounds would make a generic version unreadable. The
//! codec functions (model values ↔ stored words) are plain functions below.

use portcullis_model::tenant::{Assignee, DirectOrigin, RoleSetting};
use portcullis_model::{PermissionValue, TenantSetting};

use crate::err::StoreError;

/// Rows per batched `INSERT` (a few columns each: well under both backends' bind limits).
pub(crate) const ROWS_PER_INSERT: usize = 2000;

/// One schema migration: a version, a name, and its SQL (several statements).
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

pub(crate) fn origin_word(origin: DirectOrigin) -> &'static str {
    match origin {
        DirectOrigin::Assigned => "assigned",
        DirectOrigin::Setting(setting) => setting.as_str(),
    }
}

pub(crate) fn parse_origin(word: &str) -> Result<DirectOrigin, StoreError> {
    if word == "assigned" {
        return Ok(DirectOrigin::Assigned);
    }
    TenantSetting::parse(word)
        .map(DirectOrigin::Setting)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown role origin `{word}`")))
}

pub(crate) fn role_setting_word(setting: RoleSetting) -> &'static str {
    match setting {
        RoleSetting::Value(value) => value.as_str(),
        RoleSetting::UserDefault => "user-default",
    }
}

pub(crate) fn parse_role_setting(word: &str) -> Result<RoleSetting, StoreError> {
    if word == "user-default" {
        return Ok(RoleSetting::UserDefault);
    }
    PermissionValue::parse(word)
        .map(RoleSetting::Value)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown permission value `{word}`")))
}

pub(crate) fn assignee_parts(assignee: &Assignee) -> (&'static str, &str) {
    match assignee {
        Assignee::User(id) => ("user", id),
        Assignee::Group(name) => ("group", name),
    }
}

pub(crate) fn parse_assignee(kind: &str, name: String) -> Result<Assignee, StoreError> {
    match kind {
        "user" => Ok(Assignee::User(name)),
        "group" => Ok(Assignee::Group(name)),
        other => Err(StoreError::Corrupt(format!("unknown assignee kind `{other}`"))),
    }
}

pub(crate) fn parse_word<T>(what: &str, word: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(word).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} `{word}`")))
}

/// Defines, inside the invoking module, the shared store functions for one sqlx database.
/// `$begin_read` is the statement that makes a transaction one consistent read.
macro_rules! define_sql_store {
    ($db:ty, $begin_read:expr) => {
        use std::collections::{BTreeMap, HashMap};

        use portcullis_model::role::{self as model_role, USER_DEFAULT};
        use portcullis_model::tenant::{
            CustomRole, DirectRole, Group, OauthClient, RoleTarget, Share, Space, SpaceMember, Tenant, Use, User,
        };
        use portcullis_model::{
            Content, ContentKind, Entitlement, ModelError, Permission, PermissionValue, ProviderType, SpaceRoleSet,
            SpaceType, Subscription, TenantSetting, UserStatus,
        };
        use sqlx::{Pool, QueryBuilder, Transaction};

        use $crate::change::Change;
        use $crate::err::{StoreError, from_sqlx};
        use $crate::record::*;
        use $crate::sql::*;

        type Tx = Transaction<'static, $db>;

        /// The tables that hold a tenant's access model, children first.
        const MODEL_TABLES: &[&str] = &[
            "shares", "uses", "content", "space_members", "spaces", "oauth_client_scopes", "oauth_clients",
            "user_groups", "user_roles", "users", "everyone_roles", "group_roles", "tenant_groups", "role_permissions",
            "custom_roles", "user_default", "settings",
        ];

        pub(crate) async fn tenants(pool: &Pool<$db>) -> Result<Vec<TenantRecord>, StoreError> {
            let rows: Vec<(i64, String, i64)> =
                sqlx::query_as("SELECT id, name, revision FROM tenants ORDER BY name").fetch_all(pool).await.map_err(from_sqlx)?;
            Ok(rows.into_iter().map(|(id, name, revision)| TenantRecord { id: TenantId(id), name, revision: revision as u64 }).collect())
        }

        pub(crate) async fn tenant_by_name(pool: &Pool<$db>, name: &str) -> Result<Option<TenantRecord>, StoreError> {
            let row: Option<(i64, String, i64)> = sqlx::query_as("SELECT id, name, revision FROM tenants WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?;
            Ok(row.map(|(id, name, revision)| TenantRecord { id: TenantId(id), name, revision: revision as u64 }))
        }

        pub(crate) async fn revision(pool: &Pool<$db>, tenant: TenantId) -> Result<u64, StoreError> {
            let row: Option<(i64,)> =
                sqlx::query_as("SELECT revision FROM tenants WHERE id = $1").bind(tenant.0).fetch_optional(pool).await.map_err(from_sqlx)?;
            row.map(|(r,)| r as u64).ok_or_else(|| StoreError::NotFound(format!("tenant {tenant}")))
        }

        async fn log_revision(tx: &mut Tx, tenant: i64, revision: i64, kind: &str) -> Result<(), StoreError> {
            sqlx::query("INSERT INTO revisions (tenant_id, revision, kind, at) VALUES ($1, $2, $3, $4)")
                .bind(tenant)
                .bind(revision)
                .bind(kind)
                .bind($crate::now())
                .execute(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            Ok(())
        }

        pub(crate) async fn import_tenant(pool: &Pool<$db>, tenant: &Tenant, mode: ImportMode) -> Result<Imported, StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO tenants (name, subscription, revision, created_at) VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (name) DO NOTHING RETURNING id",
            )
            .bind(&tenant.name)
            .bind(tenant.subscription.as_str())
            .bind($crate::now())
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            let (id, revision, outcome) = match (inserted, mode) {
                (Some((id,)), _) => (id, 1, ImportOutcome::Created),
                (None, ImportMode::KeepExisting) => {
                    let (id, revision): (i64, i64) = sqlx::query_as("SELECT id, revision FROM tenants WHERE name = $1")
                        .bind(&tenant.name)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(from_sqlx)?;
                    tx.rollback().await.map_err(from_sqlx)?;
                    let record = TenantRecord { id: TenantId(id), name: tenant.name.clone(), revision: revision as u64 };
                    return Ok(Imported { tenant: record, outcome: ImportOutcome::Kept });
                }
                (None, ImportMode::Replace) => {
                    let (id, revision): (i64, i64) = sqlx::query_as(
                        "UPDATE tenants SET revision = revision + 1, subscription = $2 WHERE name = $1 RETURNING id, revision",
                    )
                    .bind(&tenant.name)
                    .bind(tenant.subscription.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                    delete_model(&mut tx, id).await?;
                    (id, revision, ImportOutcome::Replaced)
                }
            };
            insert_model(&mut tx, id, tenant).await?;
            log_revision(&mut tx, id, revision, "import").await?;
            tx.commit().await.map_err(from_sqlx)?;
            let record = TenantRecord { id: TenantId(id), name: tenant.name.clone(), revision: revision as u64 };
            Ok(Imported { tenant: record, outcome })
        }

        async fn delete_model(tx: &mut Tx, tenant: i64) -> Result<(), StoreError> {
            for table in MODEL_TABLES {
                sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                    .bind(tenant)
                    .execute(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            Ok(())
        }

        pub(crate) async fn delete_tenant(pool: &Pool<$db>, tenant: TenantId) -> Result<(), StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            delete_model(&mut tx, tenant.0).await?;
            for table in ["api_keys", "oauth_client_secrets", "oauth_tokens", "revisions"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                    .bind(tenant.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            let deleted = sqlx::query("DELETE FROM tenants WHERE id = $1").bind(tenant.0).execute(&mut *tx).await.map_err(from_sqlx)?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("tenant {tenant}")));
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(())
        }

        /// Inserts `rows` into `table (tenant_id, columns...)` in batches; `bind` pushes one row's values.
        async fn insert_rows<'r, T>(
            tx: &mut Tx,
            table: &str,
            columns: &str,
            tenant: i64,
            rows: &'r [T],
            bind: impl Fn(&mut sqlx::query_builder::Separated<'_, 'r, $db, &'static str>, &'r T),
        ) -> Result<(), StoreError> {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut builder: QueryBuilder<'r, $db> = QueryBuilder::new(format!("INSERT INTO {table} (tenant_id, {columns}) "));
                builder.push_values(chunk, |mut row, item| {
                    row.push_bind(tenant);
                    bind(&mut row, item);
                });
                builder.build().execute(&mut **tx).await.map_err(from_sqlx)?;
            }
            Ok(())
        }

        async fn insert_model(tx: &mut Tx, id: i64, tenant: &Tenant) -> Result<(), StoreError> {
            let settings: Vec<(&str, i64)> = tenant.settings.iter().map(|(s, v)| (s.as_str(), i64::from(*v))).collect();
            insert_rows(tx, "settings", "name, value", id, &settings, |row, (name, value)| {
                row.push_bind(*name).push_bind(*value);
            })
            .await?;
            let user_default: Vec<(&str, &str)> = tenant.user_default.iter().map(|(p, v)| (p.def().key, v.as_str())).collect();
            insert_rows(tx, "user_default", "permission, value", id, &user_default, |row, (permission, value)| {
                row.push_bind(*permission).push_bind(*value);
            })
            .await?;
            insert_rows(tx, "custom_roles", "name, description", id, &tenant.custom_roles, |row, role| {
                row.push_bind(role.name.as_str()).push_bind(role.description.as_str());
            })
            .await?;
            let role_permissions: Vec<(&str, &str, &str)> = tenant
                .custom_roles
                .iter()
                .flat_map(|r| r.permissions.iter().map(move |(p, s)| (r.name.as_str(), p.def().key, role_setting_word(*s))))
                .collect();
            insert_rows(tx, "role_permissions", "role, permission, value", id, &role_permissions, |row, (role, p, v)| {
                row.push_bind(*role).push_bind(*p).push_bind(*v);
            })
            .await?;
            insert_rows(tx, "tenant_groups", "name, provider_type", id, &tenant.groups, |row, group| {
                row.push_bind(group.name.as_str()).push_bind(group.provider_type.as_str());
            })
            .await?;
            let group_roles: Vec<(&str, &str)> =
                tenant.groups.iter().flat_map(|g| g.roles.iter().map(move |r| (g.name.as_str(), r.as_str()))).collect();
            insert_rows(tx, "group_roles", "group_name, role", id, &group_roles, |row, (group, role)| {
                row.push_bind(*group).push_bind(*role);
            })
            .await?;
            insert_rows(tx, "everyone_roles", "role", id, &tenant.everyone_roles, |row, role| {
                row.push_bind(role.as_str());
            })
            .await?;
            insert_rows(tx, "users", "id, name, email, entitlement, status", id, &tenant.users, |row, user| {
                row.push_bind(user.id.as_str())
                    .push_bind(user.name.as_str())
                    .push_bind(user.email.as_deref())
                    .push_bind(user.entitlement.as_str())
                    .push_bind(user.status.as_str());
            })
            .await?;
            let user_roles: Vec<(&str, &str, &str)> = tenant
                .users
                .iter()
                .flat_map(|u| u.roles.iter().map(move |r| (u.id.as_str(), r.role.as_str(), origin_word(r.origin))))
                .collect();
            insert_rows(tx, "user_roles", "user_id, role, origin", id, &user_roles, |row, (user, role, origin)| {
                row.push_bind(*user).push_bind(*role).push_bind(*origin);
            })
            .await?;
            let user_groups: Vec<(&str, &str)> =
                tenant.users.iter().flat_map(|u| u.groups.iter().map(move |g| (u.id.as_str(), g.as_str()))).collect();
            insert_rows(tx, "user_groups", "user_id, group_name", id, &user_groups, |row, (user, group)| {
                row.push_bind(*user).push_bind(*group);
            })
            .await?;
            insert_rows(tx, "oauth_clients", "id, name", id, &tenant.oauth_clients, |row, client| {
                row.push_bind(client.id.as_str()).push_bind(client.name.as_str());
            })
            .await?;
            let scopes: Vec<(&str, &str)> =
                tenant.oauth_clients.iter().flat_map(|c| c.scopes.iter().map(move |s| (c.id.as_str(), s.as_str()))).collect();
            insert_rows(tx, "oauth_client_scopes", "client_id, scope", id, &scopes, |row, (client, scope)| {
                row.push_bind(*client).push_bind(*scope);
            })
            .await?;
            insert_rows(tx, "spaces", "id, name, space_type, owner", id, &tenant.spaces, |row, space| {
                row.push_bind(space.id.as_str())
                    .push_bind(space.name.as_str())
                    .push_bind(space.space_type.as_str())
                    .push_bind(space.owner.as_str());
            })
            .await?;
            let members: Vec<(&str, &str, &str, i64)> = tenant
                .spaces
                .iter()
                .flat_map(|s| {
                    s.members.iter().map(move |m| {
                        let (kind, name) = assignee_parts(&m.assignee);
                        (s.id.as_str(), kind, name, i64::from(m.roles.0))
                    })
                })
                .collect();
            insert_rows(tx, "space_members", "space_id, assignee_kind, assignee, roles", id, &members, |row, (s, k, n, r)| {
                row.push_bind(*s).push_bind(*k).push_bind(*n).push_bind(*r);
            })
            .await?;
            insert_rows(tx, "content", "id, name, kind, space_id, owner", id, &tenant.content, |row, item| {
                row.push_bind(item.id.as_str())
                    .push_bind(item.name.as_str())
                    .push_bind(item.kind.as_str())
                    .push_bind(item.space.as_deref())
                    .push_bind(item.owner.as_str());
            })
            .await?;
            insert_rows(tx, "uses", "consumer, source", id, &tenant.uses, |row, use_| {
                row.push_bind(use_.consumer.as_str()).push_bind(use_.source.as_str());
            })
            .await?;
            insert_rows(tx, "shares", "resource, assignee_kind, assignee, roles", id, &tenant.shares, |row, share| {
                let (kind, name) = assignee_parts(&share.assignee);
                row.push_bind(share.resource.as_str()).push_bind(kind).push_bind(name).push_bind(i64::from(share.roles.0));
            })
            .await?;
            Ok(())
        }

        pub(crate) async fn load_tenant(pool: &Pool<$db>, tenant_id: TenantId) -> Result<(Tenant, u64), StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            if let Some(statement) = $begin_read {
                sqlx::query(statement).execute(&mut *tx).await.map_err(from_sqlx)?;
            }
            let id = tenant_id.0;
            let head: Option<(String, String, i64)> = sqlx::query_as("SELECT name, subscription, revision FROM tenants WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            let Some((name, subscription, revision)) = head else {
                return Err(StoreError::NotFound(format!("tenant {tenant_id}")));
            };
            let mut tenant = Tenant::new(name);
            tenant.subscription = parse_word("subscription", &subscription, Subscription::parse)?;

            macro_rules! rows {
                ($ty:ty, $sql:literal) => {{
                    let rows: Vec<$ty> = sqlx::query_as($sql).bind(id).fetch_all(&mut *tx).await.map_err(from_sqlx)?;
                    rows
                }};
            }

            for (name, value) in rows!((String, i64), "SELECT name, value FROM settings WHERE tenant_id = $1 ORDER BY seq") {
                tenant.settings.insert(parse_word("tenant setting", &name, TenantSetting::parse)?, value != 0);
            }
            for (key, value) in rows!((String, String), "SELECT permission, value FROM user_default WHERE tenant_id = $1 ORDER BY seq") {
                tenant.user_default.insert(parse_word("permission", &key, Permission::parse)?, parse_word("permission value", &value, PermissionValue::parse)?);
            }
            let mut role_idx = HashMap::new();
            for (name, description) in rows!((String, String), "SELECT name, description FROM custom_roles WHERE tenant_id = $1 ORDER BY seq") {
                role_idx.insert(name.clone(), tenant.custom_roles.len());
                tenant.custom_roles.push(CustomRole { name, description, permissions: BTreeMap::new() });
            }
            for (role, key, value) in rows!((String, String, String), "SELECT role, permission, value FROM role_permissions WHERE tenant_id = $1 ORDER BY seq") {
                let idx = *role_idx.get(&role).ok_or_else(|| StoreError::Corrupt(format!("permission of unknown role `{role}`")))?;
                tenant.custom_roles[idx].permissions.insert(parse_word("permission", &key, Permission::parse)?, parse_role_setting(&value)?);
            }
            let mut group_idx = HashMap::new();
            for (name, provider) in rows!((String, String), "SELECT name, provider_type FROM tenant_groups WHERE tenant_id = $1 ORDER BY seq") {
                group_idx.insert(name.clone(), tenant.groups.len());
                let provider_type = parse_word("provider type", &provider, ProviderType::parse)?;
                tenant.groups.push(Group { name, provider_type, roles: Vec::new() });
            }
            for (group, role) in rows!((String, String), "SELECT group_name, role FROM group_roles WHERE tenant_id = $1 ORDER BY seq") {
                let idx = *group_idx.get(&group).ok_or_else(|| StoreError::Corrupt(format!("role of unknown group `{group}`")))?;
                tenant.groups[idx].roles.push(role);
            }
            for (role,) in rows!((String,), "SELECT role FROM everyone_roles WHERE tenant_id = $1 ORDER BY seq") {
                tenant.everyone_roles.push(role);
            }
            let mut user_idx = HashMap::new();
            for (uid, name, email, entitlement, status) in rows!((String, String, Option<String>, String, String), "SELECT id, name, email, entitlement, status FROM users WHERE tenant_id = $1 ORDER BY seq") {
                user_idx.insert(uid.clone(), tenant.users.len());
                tenant.users.push(User {
                    id: uid,
                    name,
                    email,
                    entitlement: parse_word("entitlement", &entitlement, Entitlement::parse)?,
                    status: parse_word("user status", &status, UserStatus::parse)?,
                    roles: Vec::new(),
                    groups: Vec::new(),
                });
            }
            for (user, role, origin) in rows!((String, String, String), "SELECT user_id, role, origin FROM user_roles WHERE tenant_id = $1 ORDER BY seq") {
                let idx = *user_idx.get(&user).ok_or_else(|| StoreError::Corrupt(format!("role of unknown user `{user}`")))?;
                tenant.users[idx].roles.push(DirectRole { role, origin: parse_origin(&origin)? });
            }
            for (user, group) in rows!((String, String), "SELECT user_id, group_name FROM user_groups WHERE tenant_id = $1 ORDER BY seq") {
                let idx = *user_idx.get(&user).ok_or_else(|| StoreError::Corrupt(format!("group of unknown user `{user}`")))?;
                tenant.users[idx].groups.push(group);
            }
            let mut client_idx = HashMap::new();
            for (cid, name) in rows!((String, String), "SELECT id, name FROM oauth_clients WHERE tenant_id = $1 ORDER BY seq") {
                client_idx.insert(cid.clone(), tenant.oauth_clients.len());
                tenant.oauth_clients.push(OauthClient { id: cid, name, scopes: Vec::new() });
            }
            for (client, scope) in rows!((String, String), "SELECT client_id, scope FROM oauth_client_scopes WHERE tenant_id = $1 ORDER BY seq") {
                let idx = *client_idx.get(&client).ok_or_else(|| StoreError::Corrupt(format!("scope of unknown client `{client}`")))?;
                tenant.oauth_clients[idx].scopes.push(scope);
            }
            let mut space_idx = HashMap::new();
            for (sid, name, space_type, owner) in rows!((String, String, String, String), "SELECT id, name, space_type, owner FROM spaces WHERE tenant_id = $1 ORDER BY seq") {
                space_idx.insert(sid.clone(), tenant.spaces.len());
                let space_type = parse_word("space type", &space_type, SpaceType::parse)?;
                tenant.spaces.push(Space { id: sid, name, space_type, owner, members: Vec::new() });
            }
            for (space, kind, assignee, roles) in rows!((String, String, String, i64), "SELECT space_id, assignee_kind, assignee, roles FROM space_members WHERE tenant_id = $1 ORDER BY seq") {
                let idx = *space_idx.get(&space).ok_or_else(|| StoreError::Corrupt(format!("member of unknown space `{space}`")))?;
                tenant.spaces[idx].members.push(SpaceMember { assignee: parse_assignee(&kind, assignee)?, roles: SpaceRoleSet(roles as u16) });
            }
            for (cid, name, kind, space, owner) in rows!((String, String, String, Option<String>, String), "SELECT id, name, kind, space_id, owner FROM content WHERE tenant_id = $1 ORDER BY seq") {
                let kind = parse_word("content type", &kind, ContentKind::parse)?;
                tenant.content.push(Content { id: cid, name, kind, space, owner });
            }
            for (consumer, source) in rows!((String, String), "SELECT consumer, source FROM uses WHERE tenant_id = $1 ORDER BY seq") {
                tenant.uses.push(Use { consumer, source });
            }
            for (resource, kind, assignee, roles) in rows!((String, String, String, i64), "SELECT resource, assignee_kind, assignee, roles FROM shares WHERE tenant_id = $1 ORDER BY seq") {
                tenant.shares.push(Share { resource, assignee: parse_assignee(&kind, assignee)?, roles: SpaceRoleSet(roles as u16) });
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok((tenant, revision as u64))
        }

        async fn exists(tx: &mut Tx, sql: &str, tenant: i64, key: &str) -> Result<bool, StoreError> {
            let (count,): (i64,) = sqlx::query_as(sql).bind(tenant).bind(key).fetch_one(&mut **tx).await.map_err(from_sqlx)?;
            Ok(count > 0)
        }

        async fn check_user(tx: &mut Tx, tenant: i64, user: &str) -> Result<(), StoreError> {
            if exists(tx, "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND id = $2", tenant, user).await? {
                return Ok(());
            }
            let (n_known,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM users WHERE tenant_id = $1").bind(tenant).fetch_one(&mut **tx).await.map_err(from_sqlx)?;
            Err(ModelError::UnknownUser { id: user.to_owned(), n_known: n_known as usize }.into())
        }

        async fn check_group(tx: &mut Tx, tenant: i64, group: &str) -> Result<(), StoreError> {
            if exists(tx, "SELECT COUNT(*) FROM tenant_groups WHERE tenant_id = $1 AND name = $2", tenant, group).await? {
                Ok(())
            } else {
                Err(ModelError::UnknownGroup { name: group.to_owned() }.into())
            }
        }

        async fn check_assignable(tx: &mut Tx, tenant: i64, role: &str) -> Result<(), StoreError> {
            if role == USER_DEFAULT {
                return Err(ModelError::UserDefaultNotAssignable.into());
            }
            if model_role::builtin_role(role).is_some()
                || exists(tx, "SELECT COUNT(*) FROM custom_roles WHERE tenant_id = $1 AND name = $2", tenant, role).await?
            {
                return Ok(());
            }
            let custom: Vec<(String,)> = sqlx::query_as("SELECT name FROM custom_roles WHERE tenant_id = $1 ORDER BY seq")
                .bind(tenant)
                .fetch_all(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            let known: Vec<String> = model_role::builtin_role_names().map(str::to_owned).chain(custom.into_iter().map(|(n,)| n)).collect();
            Err(ModelError::UnknownRole { name: role.to_owned(), known: known.join(", ") }.into())
        }

        async fn check_target(tx: &mut Tx, tenant: i64, target: &RoleTarget) -> Result<(), StoreError> {
            match target {
                RoleTarget::User(user) => check_user(tx, tenant, user).await,
                RoleTarget::Group(group) => check_group(tx, tenant, group).await,
                RoleTarget::Everyone => Ok(()),
            }
        }

        async fn execute(tx: &mut Tx, sql: &str, tenant: i64, a: &str, b: &str) -> Result<u64, StoreError> {
            let done = sqlx::query(sql).bind(tenant).bind(a).bind(b).execute(&mut **tx).await.map_err(from_sqlx)?;
            Ok(done.rows_affected())
        }

        async fn execute_one(tx: &mut Tx, sql: &str, tenant: i64, a: &str) -> Result<u64, StoreError> {
            let done = sqlx::query(sql).bind(tenant).bind(a).execute(&mut **tx).await.map_err(from_sqlx)?;
            Ok(done.rows_affected())
        }

        pub(crate) async fn apply(pool: &Pool<$db>, tenant: TenantId, change: &Change) -> Result<u64, StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let id = tenant.0;
            // INVARIANT: the first statement of a write locks the tenant (a row lock on
            // PostgreSQL, the database write lock on SQLite) and moves its revision.
            let bumped: Option<(i64,)> = sqlx::query_as("UPDATE tenants SET revision = revision + 1 WHERE id = $1 RETURNING revision")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            let Some((revision,)) = bumped else {
                return Err(StoreError::NotFound(format!("tenant {tenant}")));
            };
            apply_change(&mut tx, id, change).await?;
            log_revision(&mut tx, id, revision, change.kind()).await?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok(revision as u64)
        }

        async fn apply_change(tx: &mut Tx, id: i64, change: &Change) -> Result<(), StoreError> {
            match change {
                Change::AssignRole { role, target } => {
                    check_assignable(tx, id, role).await?;
                    check_target(tx, id, target).await?;
                    match target {
                        RoleTarget::User(user) => {
                            // An explicit assignment supersedes a toggle's record, keeping its place.
                            let updated = execute(tx, "UPDATE user_roles SET origin = 'assigned' WHERE tenant_id = $1 AND user_id = $2 AND role = $3", id, user, role).await?;
                            if updated == 0 {
                                execute(tx, "INSERT INTO user_roles (tenant_id, user_id, role, origin) VALUES ($1, $2, $3, 'assigned')", id, user, role).await?;
                            }
                        }
                        RoleTarget::Group(group) => {
                            execute(tx, "INSERT INTO group_roles (tenant_id, group_name, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", id, group, role).await?;
                        }
                        RoleTarget::Everyone => {
                            execute_one(tx, "INSERT INTO everyone_roles (tenant_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING", id, role).await?;
                        }
                    }
                }
                Change::UnassignRole { role, target } => {
                    check_assignable(tx, id, role).await?;
                    check_target(tx, id, target).await?;
                    let removed = match target {
                        RoleTarget::User(user) => execute(tx, "DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2 AND role = $3", id, user, role).await?,
                        RoleTarget::Group(group) => execute(tx, "DELETE FROM group_roles WHERE tenant_id = $1 AND group_name = $2 AND role = $3", id, group, role).await?,
                        RoleTarget::Everyone => execute_one(tx, "DELETE FROM everyone_roles WHERE tenant_id = $1 AND role = $2", id, role).await?,
                    };
                    if removed == 0 {
                        return Err(ModelError::NotAssigned { role: role.clone(), target: target.clone() }.into());
                    }
                }
                Change::JoinGroup { user, group } => {
                    check_group(tx, id, group).await?;
                    check_user(tx, id, user).await?;
                    let added = execute(tx, "INSERT INTO user_groups (tenant_id, user_id, group_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", id, user, group).await?;
                    if added == 0 {
                        return Err(ModelError::AlreadyMember { user: user.clone(), group: group.clone() }.into());
                    }
                }
                Change::LeaveGroup { user, group } => {
                    check_user(tx, id, user).await?;
                    let removed = execute(tx, "DELETE FROM user_groups WHERE tenant_id = $1 AND user_id = $2 AND group_name = $3", id, user, group).await?;
                    if removed == 0 {
                        return Err(ModelError::NotMember { user: user.clone(), group: group.clone() }.into());
                    }
                }
                Change::SetSetting { setting, value } => {
                    sqlx::query("INSERT INTO settings (tenant_id, name, value) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value")
                        .bind(id)
                        .bind(setting.as_str())
                        .bind(i64::from(*value))
                        .execute(&mut **tx)
                        .await
                        .map_err(from_sqlx)?;
                }
                Change::SetUserDefault { permission, value } => {
                    // The model's own rules decide what UserDefault takes.
                    Tenant::new("check").set_user_default(*permission, *value)?;
                    execute(tx, "INSERT INTO user_default (tenant_id, permission, value) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, permission) DO UPDATE SET value = excluded.value", id, permission.def().key, value.as_str()).await?;
                }
                Change::RecordLogin { user } => record_login(tx, id, user).await?,
            }
            Ok(())
        }

        /// Runs the model's own `record_login` on the part of the tenant it reads (the
        /// subscription, the settings and the one user), then stores what it recorded.
        async fn record_login(tx: &mut Tx, id: i64, user_id: &str) -> Result<(), StoreError> {
            check_user(tx, id, user_id).await?;
            let (subscription,): (String,) =
                sqlx::query_as("SELECT subscription FROM tenants WHERE id = $1").bind(id).fetch_one(&mut **tx).await.map_err(from_sqlx)?;
            let mut part = Tenant::new("login");
            part.subscription = parse_word("subscription", &subscription, Subscription::parse)?;
            let settings: Vec<(String, i64)> =
                sqlx::query_as("SELECT name, value FROM settings WHERE tenant_id = $1").bind(id).fetch_all(&mut **tx).await.map_err(from_sqlx)?;
            for (name, value) in settings {
                part.settings.insert(parse_word("tenant setting", &name, TenantSetting::parse)?, value != 0);
            }
            let (name, entitlement, status): (String, String, String) =
                sqlx::query_as("SELECT name, entitlement, status FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(id)
                    .bind(user_id)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
            let held: Vec<(String, String)> = sqlx::query_as("SELECT role, origin FROM user_roles WHERE tenant_id = $1 AND user_id = $2 ORDER BY seq")
                .bind(id)
                .bind(user_id)
                .fetch_all(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            let mut roles = Vec::with_capacity(held.len());
            for (role, origin) in held {
                roles.push(DirectRole { role, origin: parse_origin(&origin)? });
            }
            let n_held = roles.len();
            part.users.push(User {
                id: user_id.to_owned(),
                name,
                email: None,
                entitlement: parse_word("entitlement", &entitlement, Entitlement::parse)?,
                status: parse_word("user status", &status, UserStatus::parse)?,
                roles,
                groups: Vec::new(),
            });
            part.record_login(user_id)?;
            for recorded in &part.users[0].roles[n_held..] {
                sqlx::query("INSERT INTO user_roles (tenant_id, user_id, role, origin) VALUES ($1, $2, $3, $4)")
                    .bind(id)
                    .bind(user_id)
                    .bind(&recorded.role)
                    .bind(origin_word(recorded.origin))
                    .execute(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            Ok(())
        }

        type KeyRow = (i64, i64, String, String, i64, Option<i64>, Option<i64>);

        fn key_record((id, tenant, user_id, description, created_at, expires_at, revoked_at): KeyRow) -> ApiKeyRecord {
            ApiKeyRecord { id, tenant: TenantId(tenant), user_id, description, created_at, expires_at, revoked_at }
        }

        pub(crate) async fn create_api_key(pool: &Pool<$db>, key: &NewApiKey) -> Result<ApiKeyRecord, StoreError> {
            let created_at = $crate::now();
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO api_keys (tenant_id, user_id, hash, description, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(key.tenant.0)
            .bind(&key.user_id)
            .bind(&key.hash[..])
            .bind(&key.description)
            .bind(created_at)
            .bind(key.expires_at)
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(ApiKeyRecord {
                id,
                tenant: key.tenant,
                user_id: key.user_id.clone(),
                description: key.description.clone(),
                created_at,
                expires_at: key.expires_at,
                revoked_at: None,
            })
        }

        pub(crate) async fn api_key_by_hash(pool: &Pool<$db>, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
            let row: Option<KeyRow> = sqlx::query_as(
                "SELECT id, tenant_id, user_id, description, created_at, expires_at, revoked_at FROM api_keys WHERE hash = $1",
            )
            .bind(&hash[..])
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(row.map(key_record))
        }

        pub(crate) async fn api_keys(pool: &Pool<$db>, tenant: TenantId, user_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
            let rows: Vec<KeyRow> = sqlx::query_as(
                "SELECT id, tenant_id, user_id, description, created_at, expires_at, revoked_at FROM api_keys \
                 WHERE tenant_id = $1 AND ($2 IS NULL OR user_id = $2) ORDER BY id",
            )
            .bind(tenant.0)
            .bind(user_id)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(rows.into_iter().map(key_record).collect())
        }

        pub(crate) async fn revoke_api_key(pool: &Pool<$db>, tenant: TenantId, key_id: i64) -> Result<(), StoreError> {
            let done = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(key_id)
                .bind($crate::now())
                .execute(pool)
                .await
                .map_err(from_sqlx)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("API key {key_id}")));
            }
            Ok(())
        }

        pub(crate) async fn create_client_secret(pool: &Pool<$db>, secret: &NewClientSecret) -> Result<ClientSecretRecord, StoreError> {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO oauth_client_secrets (tenant_id, client_id, hash, bot_user, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(secret.tenant.0)
            .bind(&secret.client_id)
            .bind(&secret.hash[..])
            .bind(&secret.bot_user)
            .bind($crate::now())
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(ClientSecretRecord { id, tenant: secret.tenant, client_id: secret.client_id.clone(), bot_user: secret.bot_user.clone() })
        }

        pub(crate) async fn client_secret_by_hash(pool: &Pool<$db>, hash: &SecretHash) -> Result<Option<ClientSecretRecord>, StoreError> {
            let row: Option<(i64, i64, String, String)> =
                sqlx::query_as("SELECT id, tenant_id, client_id, bot_user FROM oauth_client_secrets WHERE hash = $1")
                    .bind(&hash[..])
                    .fetch_optional(pool)
                    .await
                    .map_err(from_sqlx)?;
            Ok(row.map(|(id, tenant, client_id, bot_user)| ClientSecretRecord { id, tenant: TenantId(tenant), client_id, bot_user }))
        }

        pub(crate) async fn create_oauth_token(pool: &Pool<$db>, token: &NewOauthToken) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO oauth_tokens (hash, tenant_id, client_id, user_id, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&token.hash[..])
            .bind(token.tenant.0)
            .bind(&token.client_id)
            .bind(&token.user_id)
            .bind(token.scopes.join(" "))
            .bind(token.expires_at)
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(())
        }

        pub(crate) async fn oauth_token_by_hash(pool: &Pool<$db>, hash: &SecretHash) -> Result<Option<OauthTokenRecord>, StoreError> {
            let row: Option<(i64, String, String, String, i64)> =
                sqlx::query_as("SELECT tenant_id, client_id, user_id, scopes, expires_at FROM oauth_tokens WHERE hash = $1")
                    .bind(&hash[..])
                    .fetch_optional(pool)
                    .await
                    .map_err(from_sqlx)?;
            Ok(row.map(|(tenant, client_id, user_id, scopes, expires_at)| OauthTokenRecord {
                tenant: TenantId(tenant),
                client_id,
                user_id,
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                expires_at,
            }))
        }

        /// Applies the migrations the database lacks, in one transaction. `lock` (if any) is
        /// run first so that nodes starting together migrate one at a time.
        pub(crate) async fn migrate(pool: &Pool<$db>, migrations: &[Migration], lock: Option<&str>) -> Result<(), StoreError> {
            let failed = |e: sqlx::Error| StoreError::Migration(from_sqlx(e).to_string());
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            if let Some(lock) = lock {
                sqlx::Executor::execute(&mut *tx, lock).await.map_err(failed)?;
            }
            let ledger = "CREATE TABLE IF NOT EXISTS portcullis_migrations \
                          (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
            sqlx::Executor::execute(&mut *tx, ledger).await.map_err(failed)?;
            let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM portcullis_migrations ORDER BY version")
                .fetch_all(&mut *tx)
                .await
                .map_err(failed)?;
            let newest_known = migrations.iter().map(|m| m.version).max().unwrap_or(0);
            if let Some((newest,)) = applied.iter().copied().max() {
                if newest > newest_known {
                    return Err(StoreError::Migration(format!(
                        "the database is at schema version {newest}, newer than this build knows ({newest_known}); run a newer portcullis"
                    )));
                }
            }
            for migration in migrations {
                if applied.iter().any(|(v,)| *v == migration.version) {
                    continue;
                }
                tracing::info!(version = migration.version, name = migration.name, "applying migration");
                sqlx::Executor::execute(&mut *tx, migration.sql).await.map_err(|e| {
                    StoreError::Migration(format!("migration {} `{}`: {}", migration.version, migration.name, from_sqlx(e)))
                })?;
                sqlx::query("INSERT INTO portcullis_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                    .bind(migration.version)
                    .bind(migration.name)
                    .bind($crate::now())
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
            }
            tx.commit().await.map_err(failed)?;
            Ok(())
        }
    };
}

pub(crate) use define_sql_store;
