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
        use portcullis_model::tenant::{CustomRole, Group, OauthClient, Share, Space, Tenant, Use, User};
        use portcullis_model::{Content, Subscription};
        use sqlx::{Pool, QueryBuilder, Transaction};

        use $crate::audit::{AuditSettings, Author, EventDraft};
        use portcullis_audit::AuditChain;
        use $crate::change::Change;
        use $crate::err::{StoreError, from_sqlx};
        use $crate::record::*;
        use $crate::sql::*;

        type Tx = Transaction<'static, $db>;

        /// The key that seals the events a write appends (`None`: plain SHA-256).
        type Sealer<'a> = Option<&'a portcullis_audit::AuditKey>;

        /// The tables that hold a tenant's access model, children first.
        const MODEL_TABLES: &[&str] = &[
            "shares", "uses", "content", "space_members", "spaces", "oauth_client_scopes", "oauth_clients",
            "user_groups", "user_roles", "users", "everyone_roles", "group_roles", "tenant_groups", "role_permissions",
            "custom_roles", "user_default", "settings",
        ];

        type TenantRow = (i64, String, i64, i64);

        fn tenant_record((id, name, revision, credentials_revision): TenantRow) -> TenantRecord {
            TenantRecord { id: TenantId(id), name, revision: revision as u64, credentials_revision: credentials_revision as u64 }
        }

        pub(crate) async fn tenants(pool: &Pool<$db>) -> Result<Vec<TenantRecord>, StoreError> {
            let rows: Vec<TenantRow> = sqlx::query_as("SELECT id, name, revision, credentials_revision FROM tenants ORDER BY name")
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?;
            Ok(rows.into_iter().map(tenant_record).collect())
        }

        pub(crate) async fn tenant_by_name(pool: &Pool<$db>, name: &str) -> Result<Option<TenantRecord>, StoreError> {
            let row: Option<TenantRow> = sqlx::query_as("SELECT id, name, revision, credentials_revision FROM tenants WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?;
            Ok(row.map(tenant_record))
        }

        /// A tenant's record as the open transaction sees it.
        async fn tenant_in(tx: &mut Tx, id: i64) -> Result<TenantRecord, StoreError> {
            let row: TenantRow = sqlx::query_as("SELECT id, name, revision, credentials_revision FROM tenants WHERE id = $1")
                .bind(id)
                .fetch_one(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            Ok(tenant_record(row))
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

        pub(crate) async fn import_tenant(pool: &Pool<$db>, sealer: Sealer<'_>, tenant: &Tenant, mode: ImportMode, author: &Author) -> Result<Imported, StoreError> {
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
                    let row: TenantRow = sqlx::query_as("SELECT id, name, revision, credentials_revision FROM tenants WHERE name = $1")
                        .bind(&tenant.name)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(from_sqlx)?;
                    tx.rollback().await.map_err(from_sqlx)?;
                    return Ok(Imported { tenant: tenant_record(row), outcome: ImportOutcome::Kept });
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
            write_model(&mut tx, id, tenant).await?;
            log_revision(&mut tx, id, revision, "import").await?;
            let data = serde_json::json!({
                "outcome": if outcome == ImportOutcome::Created { "created" } else { "replaced" },
                "revision": revision,
                "users": tenant.users.len(),
                "groups": tenant.groups.len(),
                "customRoles": tenant.custom_roles.len(),
                "spaces": tenant.spaces.len(),
                "content": tenant.content.len(),
                "oauthClients": tenant.oauth_clients.len(),
            });
            let resource = portcullis_audit::ResourceRef { kind: "tenant".to_owned(), id: tenant.name.clone(), space: None, owner: None };
            let draft = EventDraft::change(portcullis_audit::EventType::TenantImported, author, "import", Some(resource), data);
            append(&mut tx, sealer, id, &tenant.name, &[draft]).await?;
            if outcome == ImportOutcome::Replaced {
                // Users and clients the new content leaves out lose their credentials.
                let gone = credential_owners(&mut tx, id).await?;
                let users: Vec<String> = gone.0.into_iter().filter(|u| tenant.users.get(u).is_none()).collect();
                let clients: Vec<String> = gone.1.into_iter().filter(|c| tenant.oauth_clients.get(c).is_none()).collect();
                retire_credentials(&mut tx, sealer, id, &tenant.name, &users, &clients, author).await?;
            }
            let record = tenant_in(&mut tx, id).await?;
            tx.commit().await.map_err(from_sqlx)?;
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
            // The tenant's audit trail goes with it (archive it first to keep it).
            for table in ["api_keys", "oauth_client_secrets", "oauth_tokens", "revisions", "change_log", "audit_events", "audit_settings", "audit_anchors"] {
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

        /// Writes a whole tenant's rows into empty tables (an import).
        async fn write_model(tx: &mut Tx, id: i64, tenant: &Tenant) -> Result<(), StoreError> {
            insert_settings(tx, id, tenant).await?;
            insert_user_default(tx, id, tenant).await?;
            insert_everyone_roles(tx, id, tenant).await?;
            insert_custom_roles(tx, id, &tenant.custom_roles).await?;
            insert_groups(tx, id, &tenant.groups).await?;
            insert_users(tx, id, &tenant.users).await?;
            insert_clients(tx, id, &tenant.oauth_clients).await?;
            insert_spaces(tx, id, &tenant.spaces).await?;
            insert_content(tx, id, &tenant.content).await?;
            insert_shares(tx, id, &tenant.shares.iter().collect::<Vec<_>>()).await?;
            insert_uses(tx, id, &tenant.uses.iter().collect::<Vec<_>>()).await
        }

        // One writer per table group, used by imports (every row) and by writes (the rows of the
        // touched entities), so each row is encoded in one place.

        async fn insert_settings(tx: &mut Tx, id: i64, tenant: &Tenant) -> Result<(), StoreError> {
            let settings: Vec<(&str, i64)> = tenant.settings.iter().map(|(s, v)| (s.as_str(), i64::from(*v))).collect();
            insert_rows(tx, "settings", "name, value", id, &settings, |row, (name, value)| {
                row.push_bind(*name).push_bind(*value);
            })
            .await
        }

        async fn insert_user_default(tx: &mut Tx, id: i64, tenant: &Tenant) -> Result<(), StoreError> {
            let user_default: Vec<(&str, &str)> = tenant.user_default.iter().map(|(p, v)| (p.def().key, v.as_str())).collect();
            insert_rows(tx, "user_default", "permission, value", id, &user_default, |row, (permission, value)| {
                row.push_bind(*permission).push_bind(*value);
            })
            .await
        }

        async fn insert_everyone_roles(tx: &mut Tx, id: i64, tenant: &Tenant) -> Result<(), StoreError> {
            insert_rows(tx, "everyone_roles", "role", id, &tenant.everyone_roles, |row, role| {
                row.push_bind(role.as_str());
            })
            .await
        }

        async fn insert_custom_roles(tx: &mut Tx, id: i64, roles: &[CustomRole]) -> Result<(), StoreError> {
            insert_rows(tx, "custom_roles", "name, description", id, roles, |row, role| {
                row.push_bind(role.name.as_str()).push_bind(role.description.as_str());
            })
            .await?;
            let permissions: Vec<(&str, &str, &str)> = roles
                .iter()
                .flat_map(|r| r.permissions.iter().map(move |(p, s)| (r.name.as_str(), p.def().key, role_setting_word(*s))))
                .collect();
            insert_rows(tx, "role_permissions", "role, permission, value", id, &permissions, |row, (role, p, v)| {
                row.push_bind(*role).push_bind(*p).push_bind(*v);
            })
            .await
        }

        async fn insert_groups(tx: &mut Tx, id: i64, groups: &[Group]) -> Result<(), StoreError> {
            insert_rows(tx, "tenant_groups", "name, provider_type", id, groups, |row, group| {
                row.push_bind(group.name.as_str()).push_bind(group.provider_type.as_str());
            })
            .await?;
            let group_roles: Vec<(&str, &str)> = groups.iter().flat_map(|g| g.roles.iter().map(move |r| (g.name.as_str(), r.as_str()))).collect();
            insert_rows(tx, "group_roles", "group_name, role", id, &group_roles, |row, (group, role)| {
                row.push_bind(*group).push_bind(*role);
            })
            .await
        }

        async fn insert_users(tx: &mut Tx, id: i64, users: &[User]) -> Result<(), StoreError> {
            insert_rows(tx, "users", "id, name, email, entitlement, status", id, users, |row, user| {
                row.push_bind(user.id.as_str())
                    .push_bind(user.name.as_str())
                    .push_bind(user.email.as_deref())
                    .push_bind(user.entitlement.as_str())
                    .push_bind(user.status.as_str());
            })
            .await?;
            let user_roles: Vec<(&str, &str, &str)> =
                users.iter().flat_map(|u| u.roles.iter().map(move |r| (u.id.as_str(), r.role.as_str(), origin_word(r.origin)))).collect();
            insert_rows(tx, "user_roles", "user_id, role, origin", id, &user_roles, |row, (user, role, origin)| {
                row.push_bind(*user).push_bind(*role).push_bind(*origin);
            })
            .await?;
            let user_groups: Vec<(&str, &str)> = users.iter().flat_map(|u| u.groups.iter().map(move |g| (u.id.as_str(), g.as_str()))).collect();
            insert_rows(tx, "user_groups", "user_id, group_name", id, &user_groups, |row, (user, group)| {
                row.push_bind(*user).push_bind(*group);
            })
            .await
        }

        async fn insert_clients(tx: &mut Tx, id: i64, clients: &[OauthClient]) -> Result<(), StoreError> {
            insert_rows(tx, "oauth_clients", "id, name, impersonation", id, clients, |row, client| {
                row.push_bind(client.id.as_str()).push_bind(client.name.as_str()).push_bind(i64::from(client.impersonation));
            })
            .await?;
            let scopes: Vec<(&str, &str)> = clients.iter().flat_map(|c| c.scopes.iter().map(move |s| (c.id.as_str(), s.as_str()))).collect();
            insert_rows(tx, "oauth_client_scopes", "client_id, scope", id, &scopes, |row, (client, scope)| {
                row.push_bind(*client).push_bind(*scope);
            })
            .await
        }

        async fn insert_spaces(tx: &mut Tx, id: i64, spaces: &[Space]) -> Result<(), StoreError> {
            insert_rows(tx, "spaces", "id, name, space_type, owner", id, spaces, |row, space| {
                row.push_bind(space.id.as_str()).push_bind(space.name.as_str()).push_bind(space.space_type.as_str()).push_bind(space.owner.as_str());
            })
            .await?;
            let members: Vec<(&str, &str, &str, i64)> = spaces
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
            .await
        }

        async fn insert_content(tx: &mut Tx, id: i64, items: &[Content]) -> Result<(), StoreError> {
            insert_rows(tx, "content", "id, name, kind, space_id, owner", id, items, |row, item| {
                row.push_bind(item.id.as_str())
                    .push_bind(item.name.as_str())
                    .push_bind(item.kind.as_str())
                    .push_bind(item.space.as_deref())
                    .push_bind(item.owner.as_str());
            })
            .await
        }

        async fn insert_shares(tx: &mut Tx, id: i64, shares: &[&Share]) -> Result<(), StoreError> {
            insert_rows(tx, "shares", "resource, assignee_kind, assignee, roles", id, shares, |row, share| {
                let (kind, name) = assignee_parts(&share.assignee);
                row.push_bind(share.resource.as_str()).push_bind(kind).push_bind(name).push_bind(i64::from(share.roles.0));
            })
            .await
        }

        async fn insert_uses(tx: &mut Tx, id: i64, uses: &[&Use]) -> Result<(), StoreError> {
            insert_rows(tx, "uses", "consumer, source", id, uses, |row, use_| {
                row.push_bind(use_.consumer.as_str()).push_bind(use_.source.as_str());
            })
            .await
        }

        /// Deletes a tenant's rows from `tables`.
        async fn clear(tx: &mut Tx, id: i64, tables: &[&str]) -> Result<(), StoreError> {
            for table in tables {
                sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1")).bind(id).execute(&mut **tx).await.map_err(from_sqlx)?;
            }
            Ok(())
        }

        pub(crate) async fn load_tenant(pool: &Pool<$db>, tenant: TenantId) -> Result<(Tenant, u64), StoreError> {
            $crate::load::in_parts(tenant, |tables| {
                let pool = pool.clone();
                async move { tokio::spawn(load_tables(pool, tenant, tables)).await.map_err($crate::load::stopped)? }
            })
            .await
        }

        /// Reads `tables` of a tenant in one read transaction.
        async fn load_tables(pool: Pool<$db>, tenant: TenantId, tables: &'static [$crate::load::Table]) -> Result<$crate::load::Assembler, StoreError> {
            use sqlx::Row as _;
            use $crate::load::{Assembler, HEAD, Row};

            /// A fetched row, read through the assembler's column interface.
            struct Fetched(<$db as sqlx::Database>::Row);
            impl Row for Fetched {
                fn text(&self, i: usize) -> Result<Option<&str>, StoreError> {
                    self.0.try_get(i).map_err(from_sqlx)
                }
                fn int(&self, i: usize) -> Result<i64, StoreError> {
                    self.0.try_get(i).map_err(from_sqlx)
                }
            }

            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            if let Some(statement) = $begin_read {
                sqlx::query(statement).execute(&mut *tx).await.map_err(from_sqlx)?;
            }
            let head = sqlx::query(HEAD).bind(tenant.0).fetch_optional(&mut *tx).await.map_err(from_sqlx)?;
            let Some(head) = head else {
                return Err(StoreError::NotFound(format!("tenant {tenant}")));
            };
            let mut assembler = Assembler::new(&Fetched(head))?;
            for &table in tables {
                // Streamed: a million rows are never all in memory as rows.
                let mut rows = sqlx::query(table.query()).bind(tenant.0).fetch(&mut *tx);
                while let Some(row) = futures_util::TryStreamExt::try_next(&mut rows).await.map_err(from_sqlx)? {
                    assembler.add(table, &Fetched(row))?;
                }
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(assembler)
        }

        /// Applies one change with the model's rules on the stored tenant: a convenience for
        /// callers without a live tenant (the CLI, tests). It reads the whole tenant; the
        /// server applies changes to its live tenant and calls [`commit_changes`] instead.
        pub(crate) async fn apply(pool: &Pool<$db>, sealer: Sealer<'_>, tenant: TenantId, change: &Change, author: &Author) -> Result<u64, StoreError> {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let (mut model, revision) = load_tenant(pool, tenant).await?;
                let applied = model.apply(change)?;
                if applied.touched.is_empty() {
                    // A step that changes nothing (spec: a no-op, not an error) writes nothing.
                    return Ok(revision);
                }
                let mut event = $crate::audit::change_event(change, author);
                if !applied.recorded_roles.is_empty() {
                    event.data["recordedRoles"] = serde_json::json!(applied.recorded_roles);
                }
                let write = ChangeSet { base_revision: revision, after: &model, changes: std::slice::from_ref(change), touched: &applied.touched, events: &[event], author };
                // Another writer went first: read again (this path reads the whole tenant; it is
                // for the CLI and tests, where writers are few).
                match commit_changes(pool, sealer, tenant, &[write]).await {
                    Err(StoreError::Conflict(_)) if attempt < 64 => continue,
                    other => return other.map(|revisions| revisions.last().copied().unwrap_or(revision)),
                }
            }
        }

        /// Stores writes already applied, in order, to a live tenant by `Tenant::apply`, in one
        /// transaction: one compare-and-swap moving the revision from the first write's base by
        /// one per write that stores anything (touched rows or events), the rows of every entity
        /// any of them touched rewritten once from the last write's `after` (the tenant after
        /// all of them), and per write its change-log rows and its events (stamped with its own
        /// revision), so each keeps the revision, log and events it would have had alone. A
        /// write touching nothing and without events stores nothing and keeps the revision
        /// before it. Returns each write's revision. The single-write path is a batch of one.
        pub(crate) async fn commit_changes(pool: &Pool<$db>, sealer: Sealer<'_>, tenant: TenantId, writes: &[ChangeSet<'_>]) -> Result<Vec<u64>, StoreError> {
            let (Some(first), Some(last)) = (writes.first(), writes.last()) else { return Ok(Vec::new()) };
            let base = first.base_revision;
            let mut revisions = Vec::with_capacity(writes.len());
            let mut current = base;
            for write in writes {
                // Each write must have been planned on the one before it.
                if write.base_revision != current {
                    return Err(StoreError::Conflict(format!(
                        "a write of the batch is based on revision {}, not {current}",
                        write.base_revision
                    )));
                }
                if !(write.touched.is_empty() && write.events.is_empty()) {
                    current += 1;
                }
                revisions.push(current);
            }
            if current == base {
                return Ok(revisions);
            }
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let id = tenant.0;
            let (_, name) = bump_revision(&mut tx, tenant, base, current - base, last.after.subscription).await?;
            let touched = match writes {
                [one] => std::borrow::Cow::Borrowed(one.touched),
                _ => {
                    let mut all = portcullis_model::Touched::default();
                    for write in writes {
                        all.merge(write.touched.clone());
                    }
                    std::borrow::Cow::Owned(all)
                }
            };
            write_touched(&mut tx, id, last.after, &touched).await?;
            let at = $crate::now();
            // (revision, position, change, author) per change-log row; (revision, kind) per revision.
            let mut log: Vec<(i64, i64, String, String)> = Vec::new();
            let mut kinds: Vec<(i64, &str)> = Vec::new();
            let mut events: Vec<EventDraft> = Vec::new();
            for (write, &revision) in writes.iter().zip(&revisions) {
                if write.touched.is_empty() && write.events.is_empty() {
                    continue;
                }
                let author = serde_json::json!({ "actor": write.author.actor, "channel": write.author.channel }).to_string();
                for (position, change) in write.changes.iter().enumerate() {
                    let text = serde_json::to_string(change).map_err(|e| StoreError::Database(format!("a change does not serialize: {e}")))?;
                    log.push((revision as i64, position as i64, text, author.clone()));
                }
                let kind = match write.changes {
                    [one] => one.kind(),
                    [] => "commit",
                    _ => "changes",
                };
                kinds.push((revision as i64, kind));
                events.extend(write.events.iter().cloned().map(|mut event| {
                    if event.data.is_object() && event.data.get("revision").is_none() {
                        event.data["revision"] = serde_json::json!(revision);
                    }
                    event
                }));
            }
            // Six values a row: well under both backends' bind limits.
            for chunk in log.chunks(ROWS_PER_INSERT) {
                let mut builder: QueryBuilder<'_, $db> = QueryBuilder::new("INSERT INTO change_log (tenant_id, revision, position, change, author, at) ");
                builder.push_values(chunk, |mut row, (revision, position, text, author)| {
                    row.push_bind(id).push_bind(*revision).push_bind(*position).push_bind(text.clone()).push_bind(author.clone()).push_bind(at);
                });
                builder.build().execute(&mut *tx).await.map_err(from_sqlx)?;
            }
            for chunk in kinds.chunks(ROWS_PER_INSERT) {
                let mut builder: QueryBuilder<'_, $db> = QueryBuilder::new("INSERT INTO revisions (tenant_id, revision, kind, at) ");
                builder.push_values(chunk, |mut row, (revision, kind)| {
                    row.push_bind(id).push_bind(*revision).push_bind(*kind).push_bind(at);
                });
                builder.build().execute(&mut *tx).await.map_err(from_sqlx)?;
            }
            append(&mut tx, sealer, id, &name, &events).await?;
            // The credentials of users and clients gone at the end of the batch, each retired
            // in the name of the write that touched it (first come; later ones find nothing left).
            for write in writes {
                retire_credentials_of_deleted(&mut tx, sealer, id, &name, last.after, write.touched, write.author).await?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(revisions)
        }

        /// The changes logged after `after_revision`, in order: (revision, change).
        pub(crate) async fn changes_since(pool: &Pool<$db>, tenant: TenantId, after_revision: u64) -> Result<Vec<(u64, Change)>, StoreError> {
            let rows: Vec<(i64, String)> =
                sqlx::query_as("SELECT revision, change FROM change_log WHERE tenant_id = $1 AND revision > $2 ORDER BY revision, position")
                    .bind(tenant.0)
                    .bind(after_revision as i64)
                    .fetch_all(pool)
                    .await
                    .map_err(from_sqlx)?;
            rows.into_iter()
                .map(|(revision, text)| {
                    let change = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("change-log row of revision {revision}: {e}")))?;
                    Ok((revision as u64, change))
                })
                .collect()
        }

        /// Compare-and-swap on the revision, moving it `by` (one per write), as a transaction's
        /// first statement (it also takes the tenant's lock), so a change computed on a stale
        /// state is never written.
        async fn bump_revision(tx: &mut Tx, tenant: TenantId, base_revision: u64, by: u64, subscription: Subscription) -> Result<(i64, String), StoreError> {
            let id = tenant.0;
            let bumped: Option<(i64, String)> = sqlx::query_as(
                "UPDATE tenants SET revision = revision + $4, subscription = $3 WHERE id = $1 AND revision = $2 RETURNING revision, name",
            )
            .bind(id)
            .bind(base_revision as i64)
            .bind(subscription.as_str())
            .bind(by as i64)
            .fetch_optional(&mut **tx)
            .await
            .map_err(from_sqlx)?;
            match bumped {
                Some(bumped) => Ok(bumped),
                None => {
                    let stored: Option<(i64,)> =
                        sqlx::query_as("SELECT revision FROM tenants WHERE id = $1").bind(id).fetch_optional(&mut **tx).await.map_err(from_sqlx)?;
                    Err(match stored {
                        Some((stored,)) => StoreError::Conflict(format!("the tenant is at revision {stored}, not {base_revision}")),
                        None => StoreError::NotFound(format!("tenant {tenant}")),
                    })
                }
            }
        }

        /// Deletes the rows of `keys` from each `(table, key column)`: a statement per table (per
        /// 2,000 keys), however many entities a write or a batch of writes touched.
        async fn delete_keyed(tx: &mut Tx, id: i64, keys: &[&str], tables: &[(&str, &str)]) -> Result<(), StoreError> {
            for (table, column) in tables {
                for chunk in keys.chunks(ROWS_PER_INSERT) {
                    let mut builder: QueryBuilder<'_, $db> = QueryBuilder::new(format!("DELETE FROM {table} WHERE tenant_id = "));
                    builder.push_bind(id).push(format!(" AND {column} IN ("));
                    let mut list = builder.separated(", ");
                    for key in chunk {
                        list.push_bind(*key);
                    }
                    builder.push(")");
                    builder.build().execute(&mut **tx).await.map_err(from_sqlx)?;
                }
            }
            Ok(())
        }

        /// Rewrites the rows of every touched entity from `tenant` (deleted entities lose theirs):
        /// per kind, their rows are deleted and those still in the tenant inserted again, in a few
        /// statements whatever their number (a batch of writes touches many).
        async fn write_touched(tx: &mut Tx, id: i64, tenant: &Tenant, touched: &portcullis_model::Touched) -> Result<(), StoreError> {
            fn keys(set: &std::collections::BTreeSet<String>) -> Vec<&str> {
                set.iter().map(String::as_str).collect()
            }
            if touched.settings {
                clear(tx, id, &["settings"]).await?;
                insert_settings(tx, id, tenant).await?;
            }
            if touched.user_default {
                clear(tx, id, &["user_default"]).await?;
                insert_user_default(tx, id, tenant).await?;
            }
            if touched.everyone_roles {
                clear(tx, id, &["everyone_roles"]).await?;
                insert_everyone_roles(tx, id, tenant).await?;
            }
            if !touched.custom_roles.is_empty() {
                delete_keyed(tx, id, &keys(&touched.custom_roles), &[("custom_roles", "name"), ("role_permissions", "role")]).await?;
                let rows: Vec<CustomRole> = touched.custom_roles.iter().filter_map(|k| tenant.custom_roles.get(k)).cloned().collect();
                insert_custom_roles(tx, id, &rows).await?;
            }
            if !touched.groups.is_empty() {
                delete_keyed(tx, id, &keys(&touched.groups), &[("tenant_groups", "name"), ("group_roles", "group_name")]).await?;
                let rows: Vec<Group> = touched.groups.iter().filter_map(|k| tenant.groups.get(k)).cloned().collect();
                insert_groups(tx, id, &rows).await?;
            }
            if !touched.users.is_empty() {
                delete_keyed(tx, id, &keys(&touched.users), &[("users", "id"), ("user_roles", "user_id"), ("user_groups", "user_id")]).await?;
                let rows: Vec<User> = touched.users.iter().filter_map(|k| tenant.users.get(k)).cloned().collect();
                insert_users(tx, id, &rows).await?;
            }
            if !touched.clients.is_empty() {
                delete_keyed(tx, id, &keys(&touched.clients), &[("oauth_clients", "id"), ("oauth_client_scopes", "client_id")]).await?;
                let rows: Vec<OauthClient> = touched.clients.iter().filter_map(|k| tenant.oauth_clients.get(k)).cloned().collect();
                insert_clients(tx, id, &rows).await?;
            }
            if !touched.spaces.is_empty() {
                delete_keyed(tx, id, &keys(&touched.spaces), &[("spaces", "id"), ("space_members", "space_id")]).await?;
                let rows: Vec<Space> = touched.spaces.iter().filter_map(|k| tenant.spaces.get(k)).cloned().collect();
                insert_spaces(tx, id, &rows).await?;
            }
            if !touched.content.is_empty() {
                delete_keyed(tx, id, &keys(&touched.content), &[("content", "id"), ("shares", "resource"), ("uses", "consumer")]).await?;
                let rows: Vec<Content> = touched.content.iter().filter_map(|k| tenant.content.get(k)).cloned().collect();
                insert_content(tx, id, &rows).await?;
                // Per item: its shares and the `uses` it consumes, through the model's index.
                let shares: Vec<&Share> = touched.content.iter().flat_map(|k| tenant.shares.of(k)).collect();
                let uses: Vec<&Use> = touched.content.iter().flat_map(|k| tenant.uses.of(k)).collect();
                insert_shares(tx, id, &shares).await?;
                insert_uses(tx, id, &uses).await?;
            }
            Ok(())
        }

        type KeyRow = (i64, i64, String, String, i64, Option<i64>, Option<i64>);

        fn key_record((id, tenant, user_id, description, created_at, expires_at, revoked_at): KeyRow) -> ApiKeyRecord {
            ApiKeyRecord { id, tenant: TenantId(tenant), user_id, description, created_at, expires_at, revoked_at }
        }

        pub(crate) async fn create_api_key(pool: &Pool<$db>, sealer: Sealer<'_>, key: &NewApiKey, author: &Author) -> Result<ApiKeyRecord, StoreError> {
            let created_at = $crate::now();
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let name = lock_tenant(&mut tx, key.tenant.0).await?;
            // Under the tenant's lock, so a key is never stored for a user deleted meanwhile.
            require_row(&mut tx, "users", "id", key.tenant.0, &key.user_id, "user").await?;
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
            .fetch_one(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            let data = serde_json::json!({ "sub": key.user_id, "description": key.description, "expiresAt": key.expires_at });
            let resource = portcullis_audit::ResourceRef { kind: "api-key".to_owned(), id: id.to_string(), space: None, owner: Some(key.user_id.clone()) };
            let draft = EventDraft::change(portcullis_audit::EventType::ApiKeyCreated, author, "create-api-key", Some(resource), data);
            append(&mut tx, sealer, key.tenant.0, &name, &[draft]).await?;
            tx.commit().await.map_err(from_sqlx)?;
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

        pub(crate) async fn revoke_api_key(pool: &Pool<$db>, sealer: Sealer<'_>, tenant: TenantId, key_id: i64, author: &Author) -> Result<(), StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let name = lock_tenant(&mut tx, tenant.0).await?;
            let key: Option<(String, Option<i64>)> = sqlx::query_as("SELECT user_id, revoked_at FROM api_keys WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            let Some((user_id, revoked_at)) = key else {
                return Err(StoreError::NotFound(format!("API key {key_id}")));
            };
            // Revoking a revoked key changes nothing and records nothing.
            if revoked_at.is_none() {
                sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(key_id)
                    .bind($crate::now())
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                let resource = portcullis_audit::ResourceRef { kind: "api-key".to_owned(), id: key_id.to_string(), space: None, owner: Some(user_id.clone()) };
                let data = serde_json::json!({ "sub": user_id });
                let draft = EventDraft::change(portcullis_audit::EventType::ApiKeyRevoked, author, "revoke-api-key", Some(resource), data);
                append(&mut tx, sealer, tenant.0, &name, &[draft]).await?;
                bump_credentials_revision(&mut tx, tenant.0).await?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(())
        }

        pub(crate) async fn create_client_secret(pool: &Pool<$db>, sealer: Sealer<'_>, secret: &NewClientSecret, author: &Author) -> Result<ClientSecretRecord, StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let name = lock_tenant(&mut tx, secret.tenant.0).await?;
            require_row(&mut tx, "oauth_clients", "id", secret.tenant.0, &secret.client_id, "OAuth client").await?;
            require_row(&mut tx, "users", "id", secret.tenant.0, &secret.bot_user, "user").await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO oauth_client_secrets (tenant_id, client_id, hash, bot_user, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(secret.tenant.0)
            .bind(&secret.client_id)
            .bind(&secret.hash[..])
            .bind(&secret.bot_user)
            .bind($crate::now())
            .fetch_one(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            let resource = portcullis_audit::ResourceRef { kind: "oauth-client".to_owned(), id: secret.client_id.clone(), space: None, owner: None };
            let data = serde_json::json!({ "secretCreated": id, "botUser": secret.bot_user });
            let draft = EventDraft::change(portcullis_audit::EventType::OauthClientUpdated, author, "create-client-secret", Some(resource), data);
            append(&mut tx, sealer, secret.tenant.0, &name, &[draft]).await?;
            tx.commit().await.map_err(from_sqlx)?;
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

        pub(crate) async fn create_oauth_token(pool: &Pool<$db>, sealer: Sealer<'_>, token: &NewOauthToken, author: &Author) -> Result<(), StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let name = lock_tenant(&mut tx, token.tenant.0).await?;
            // Under the tenant's lock: the client, its secret and the user are there now (a
            // deletion meanwhile has removed their credentials and would miss this token), and
            // an impersonation token needs the client's flag as stored now.
            let client: Option<(i64,)> = sqlx::query_as("SELECT impersonation FROM oauth_clients WHERE tenant_id = $1 AND id = $2")
                .bind(token.tenant.0)
                .bind(&token.client_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            match client {
                None => return Err(StoreError::NotFound(format!("OAuth client `{}`", token.client_id))),
                Some((0,)) if token.grant_type == IMPERSONATION_GRANT => {
                    let message = format!("OAuth client `{}` may not impersonate users", token.client_id);
                    return Err(StoreError::Rejected(portcullis_model::tenant_ops::OpError::Invalid { message }));
                }
                Some(_) => {}
            }
            let secret: Option<(i64,)> = sqlx::query_as("SELECT id FROM oauth_client_secrets WHERE tenant_id = $1 AND id = $2 AND client_id = $3")
                .bind(token.tenant.0)
                .bind(token.secret_id)
                .bind(&token.client_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            if secret.is_none() {
                return Err(StoreError::NotFound(format!("secret {} of OAuth client `{}`", token.secret_id, token.client_id)));
            }
            require_row(&mut tx, "users", "id", token.tenant.0, &token.user_id, "user").await?;
            sqlx::query(
                "INSERT INTO oauth_tokens (hash, tenant_id, client_id, user_id, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&token.hash[..])
            .bind(token.tenant.0)
            .bind(&token.client_id)
            .bind(&token.user_id)
            .bind(token.scopes.join(" "))
            .bind(token.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            // Every issuance is on record: which client, for which user, with which scopes, when.
            let resource = portcullis_audit::ResourceRef { kind: "oauth-client".to_owned(), id: token.client_id.clone(), space: None, owner: None };
            let data = serde_json::json!({
                "clientId": token.client_id,
                "sub": token.user_id,
                "grantType": token.grant_type,
                "scopes": token.scopes,
                "expiresAt": token.expires_at,
                "secretId": token.secret_id,
            });
            let draft = EventDraft::change(portcullis_audit::EventType::OauthTokenIssued, author, "issue-oauth-token", Some(resource), data);
            append(&mut tx, sealer, token.tenant.0, &name, &[draft]).await?;
            tx.commit().await.map_err(from_sqlx)?;
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

        // ---- Credentials die with their owner --------------------------------------------

        /// Refuses with `NotFound` unless the tenant has a `table` row whose `column` is `key`.
        async fn require_row(tx: &mut Tx, table: &str, column: &str, id: i64, key: &str, what: &str) -> Result<(), StoreError> {
            let found: Option<(String,)> = sqlx::query_as(&format!("SELECT {column} FROM {table} WHERE tenant_id = $1 AND {column} = $2"))
                .bind(id)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            match found {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound(format!("{what} `{key}`"))),
            }
        }

        async fn bump_credentials_revision(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
            sqlx::query("UPDATE tenants SET credentials_revision = credentials_revision + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            Ok(())
        }

        /// The users and the clients that hold live credentials in a tenant (usable API keys,
        /// tokens, secrets and their bot users), each once.
        async fn credential_owners(tx: &mut Tx, id: i64) -> Result<(Vec<String>, Vec<String>), StoreError> {
            let users: Vec<(String,)> = sqlx::query_as(
                "SELECT user_id FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL \
                 UNION SELECT user_id FROM oauth_tokens WHERE tenant_id = $1 \
                 UNION SELECT bot_user FROM oauth_client_secrets WHERE tenant_id = $1",
            )
            .bind(id)
            .fetch_all(&mut **tx)
            .await
            .map_err(from_sqlx)?;
            let clients: Vec<(String,)> = sqlx::query_as(
                "SELECT client_id FROM oauth_tokens WHERE tenant_id = $1 UNION SELECT client_id FROM oauth_client_secrets WHERE tenant_id = $1",
            )
            .bind(id)
            .fetch_all(&mut **tx)
            .await
            .map_err(from_sqlx)?;
            Ok((users.into_iter().map(|(u,)| u).collect(), clients.into_iter().map(|(c,)| c).collect()))
        }

        /// After a commit: the credentials of the users and clients it deleted go with them.
        /// Costs nothing when the commit deleted neither.
        async fn retire_credentials_of_deleted(
            tx: &mut Tx,
            sealer: Sealer<'_>,
            id: i64,
            name: &str,
            after: &Tenant,
            touched: &portcullis_model::Touched,
            author: &Author,
        ) -> Result<(), StoreError> {
            let users: Vec<String> = touched.users.iter().filter(|u| after.users.get(u).is_none()).cloned().collect();
            let clients: Vec<String> = touched.clients.iter().filter(|c| after.oauth_clients.get(c).is_none()).cloned().collect();
            retire_credentials(tx, sealer, id, name, &users, &clients, author).await
        }

        /// Retires what acts as `users` or through `clients`, which no longer exist: a user's
        /// API keys are revoked (kept, so they are listed as revoked), the OAuth tokens acting
        /// as the user or issued to the client are deleted, and so are the client's secrets and
        /// the secrets whose bot user the user was. So a user or client created again under the
        /// same key starts without credentials. Each revoked key and deleted secret is an
        /// event; the tenant's credentials revision moves when anything was retired.
        async fn retire_credentials(tx: &mut Tx, sealer: Sealer<'_>, id: i64, name: &str, users: &[String], clients: &[String], author: &Author) -> Result<(), StoreError> {
            if users.is_empty() && clients.is_empty() {
                return Ok(());
            }
            let now = $crate::now();
            let mut drafts = Vec::new();
            let mut retired = 0u64;
            for user in users {
                let keys: Vec<(i64,)> =
                    sqlx::query_as("UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id")
                        .bind(id)
                        .bind(user)
                        .bind(now)
                        .fetch_all(&mut **tx)
                        .await
                        .map_err(from_sqlx)?;
                for (key,) in keys {
                    let resource = portcullis_audit::ResourceRef { kind: "api-key".to_owned(), id: key.to_string(), space: None, owner: Some(user.clone()) };
                    let data = serde_json::json!({ "sub": user, "reason": "user-deleted" });
                    drafts.push(EventDraft::change(portcullis_audit::EventType::ApiKeyRevoked, author, "revoke-api-key", Some(resource), data));
                    retired += 1;
                }
                let tokens = sqlx::query("DELETE FROM oauth_tokens WHERE tenant_id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user)
                    .execute(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
                retired += tokens.rows_affected();
                let secrets: Vec<(i64, String)> =
                    sqlx::query_as("DELETE FROM oauth_client_secrets WHERE tenant_id = $1 AND bot_user = $2 RETURNING id, client_id")
                        .bind(id)
                        .bind(user)
                        .fetch_all(&mut **tx)
                        .await
                        .map_err(from_sqlx)?;
                for (secret, client) in secrets {
                    let resource = portcullis_audit::ResourceRef { kind: "oauth-client".to_owned(), id: client, space: None, owner: None };
                    let data = serde_json::json!({ "secretDeleted": secret, "botUser": user, "reason": "bot-user-deleted" });
                    drafts.push(EventDraft::change(portcullis_audit::EventType::OauthClientUpdated, author, "delete-client-secret", Some(resource), data));
                    retired += 1;
                }
            }
            for client in clients {
                let tokens = sqlx::query("DELETE FROM oauth_tokens WHERE tenant_id = $1 AND client_id = $2")
                    .bind(id)
                    .bind(client)
                    .execute(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
                retired += tokens.rows_affected();
                let secrets: Vec<(i64,)> = sqlx::query_as("DELETE FROM oauth_client_secrets WHERE tenant_id = $1 AND client_id = $2 RETURNING id")
                    .bind(id)
                    .bind(client)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
                for (secret,) in secrets {
                    let resource = portcullis_audit::ResourceRef { kind: "oauth-client".to_owned(), id: client.clone(), space: None, owner: None };
                    let data = serde_json::json!({ "secretDeleted": secret, "reason": "client-deleted" });
                    drafts.push(EventDraft::change(portcullis_audit::EventType::OauthClientUpdated, author, "delete-client-secret", Some(resource), data));
                    retired += 1;
                }
            }
            append(tx, sealer, id, name, &drafts).await?;
            if retired > 0 {
                bump_credentials_revision(tx, id).await?;
            }
            Ok(())
        }

        // ---- The audit trail -------------------------------------------------------------

        /// Locks a tenant's row for a write that moves no revision (the same lock every write
        /// takes first); returns the tenant's name.
        async fn lock_tenant(tx: &mut Tx, id: i64) -> Result<String, StoreError> {
            let row: Option<(String,)> = sqlx::query_as("UPDATE tenants SET revision = revision WHERE id = $1 RETURNING name")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            row.map(|(name,)| name).ok_or_else(|| StoreError::NotFound(format!("tenant {id}")))
        }

        /// Appends events to a tenant's chain inside the writing transaction (the tenant's row
        /// is already locked), sealed with `sealer` (plain SHA-256 without one); returns their
        /// sequence numbers.
        async fn append(tx: &mut Tx, sealer: Sealer<'_>, id: i64, tenant: &str, drafts: &[EventDraft]) -> Result<Vec<u64>, StoreError> {
            if drafts.is_empty() {
                return Ok(Vec::new());
            }
            let anchor: Option<(i64, String)> = sqlx::query_as("SELECT head_seq, head_hash FROM audit_anchors WHERE tenant_id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            let (head_seq, mut prev_hash) = anchor.unwrap_or((0, portcullis_audit::GENESIS.to_owned()));
            let mut seq = head_seq as u64;
            let now = $crate::rfc3339_now();
            let mut rows = Vec::with_capacity(drafts.len());
            for draft in drafts {
                seq += 1;
                let body = portcullis_audit::EventBody {
                    tenant: tenant.to_owned(),
                    seq,
                    event_time: draft.event_time.clone().unwrap_or_else(|| now.clone()),
                    event_type: draft.event_type.as_str().to_owned(),
                    actor: draft.author.actor.clone(),
                    channel: draft.author.channel.clone(),
                    action: draft.action.clone(),
                    resource: draft.resource.clone(),
                    decision: draft.decision.clone(),
                    explanation: draft.explanation.clone(),
                    data: draft.data.clone(),
                };
                let sealed = portcullis_audit::seal_with(sealer, &prev_hash, &body).map_err(|e| StoreError::Database(format!("cannot encode an event: {e}")))?;
                prev_hash.clone_from(&sealed.hash);
                rows.push(sealed);
            }
            // Ten values a row: well under both backends' bind limits.
            for chunk in rows.chunks(500) {
                let mut builder: QueryBuilder<'_, $db> = QueryBuilder::new(
                    "INSERT INTO audit_events (tenant_id, seq, event_time, event_type, user_id, space_id, body_json, prev_hash, hash, key_id) ",
                );
                builder.push_values(chunk, |mut row, sealed| {
                    let columns = sealed.columns.clone().unwrap_or_default();
                    row.push_bind(id)
                        .push_bind(sealed.seq as i64)
                        .push_bind(columns.event_time)
                        .push_bind(columns.event_type)
                        .push_bind(columns.user_id)
                        .push_bind(columns.space_id)
                        .push_bind(sealed.body_json.clone())
                        .push_bind(sealed.prev_hash.clone())
                        .push_bind(sealed.hash.clone())
                        .push_bind(sealed.key_id.clone());
                });
                builder.build().execute(&mut **tx).await.map_err(from_sqlx)?;
            }
            sqlx::query(
                "INSERT INTO audit_anchors (tenant_id, archived_seq, archived_hash, head_seq, head_hash) VALUES ($1, 0, $2, $3, $4) \
                 ON CONFLICT (tenant_id) DO UPDATE SET head_seq = excluded.head_seq, head_hash = excluded.head_hash",
            )
            .bind(id)
            .bind(portcullis_audit::GENESIS)
            .bind(seq as i64)
            .bind(&prev_hash)
            .execute(&mut **tx)
            .await
            .map_err(from_sqlx)?;
            Ok(rows.iter().map(|sealed| sealed.seq).collect())
        }

        pub(crate) async fn append_events(pool: &Pool<$db>, sealer: Sealer<'_>, tenant: TenantId, drafts: &[EventDraft]) -> Result<Vec<u64>, StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let name = lock_tenant(&mut tx, tenant.0).await?;
            let seqs = append(&mut tx, sealer, tenant.0, &name, drafts).await?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok(seqs)
        }

        /// The columns of an event row, in this order.
        const EVENT_COLUMNS: &str = "seq, body_json, prev_hash, hash, key_id, event_time, event_type, user_id, space_id";

        type EventRow = (i64, String, String, String, Option<String>, String, String, Option<String>, Option<String>);

        fn sealed_of((seq, body_json, prev_hash, hash, key_id, event_time, event_type, user_id, space_id): EventRow) -> portcullis_audit::SealedEvent {
            portcullis_audit::SealedEvent {
                seq: seq as u64,
                body_json,
                prev_hash,
                hash,
                key_id,
                columns: Some(portcullis_audit::IndexColumns { event_time, event_type, user_id, space_id }),
            }
        }

        /// An event row, checked on its own ([`portcullis_audit::check_event`]: it parses, its
        /// hash covers it, its columns agree with it).
        fn event_of(keys: &portcullis_audit::Keyring, row: EventRow) -> Result<(portcullis_audit::SealedEvent, portcullis_audit::EventBody), portcullis_audit::ChainBreak> {
            let sealed = sealed_of(row);
            let body = portcullis_audit::check_event(&sealed, keys)?;
            Ok((sealed, body))
        }

        pub(crate) async fn audit_events(
            pool: &Pool<$db>,
            keys: &portcullis_audit::Keyring,
            tenant: TenantId,
            query: &portcullis_audit::AuditQuery,
        ) -> Result<Vec<(portcullis_audit::SealedEvent, portcullis_audit::EventBody)>, StoreError> {
            audit_event_rows(pool, tenant, query).await?.into_iter().map(|row| event_of(keys, row).map_err(StoreError::Integrity)).collect()
        }

        /// Like [`audit_events`], with the events that fail their check left out and named
        /// (with why) instead of failing the whole answer.
        pub(crate) async fn readable_audit_events(
            pool: &Pool<$db>,
            keys: &portcullis_audit::Keyring,
            tenant: TenantId,
            query: &portcullis_audit::AuditQuery,
        ) -> Result<(Vec<(portcullis_audit::SealedEvent, portcullis_audit::EventBody)>, Vec<portcullis_audit::ChainBreak>), StoreError> {
            let mut intact = Vec::new();
            let mut failed = Vec::new();
            for row in audit_event_rows(pool, tenant, query).await? {
                match event_of(keys, row) {
                    Ok(event) => intact.push(event),
                    Err(fault) => failed.push(fault),
                }
            }
            Ok((intact, failed))
        }

        async fn audit_event_rows(pool: &Pool<$db>, tenant: TenantId, query: &portcullis_audit::AuditQuery) -> Result<Vec<EventRow>, StoreError> {
            let mut builder: QueryBuilder<'_, $db> = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = "));
            builder.push_bind(tenant.0);
            if !query.event_types.is_empty() {
                builder.push(" AND event_type IN (");
                let mut types = builder.separated(", ");
                for event_type in &query.event_types {
                    types.push_bind(event_type.clone());
                }
                builder.push(")");
            }
            if let Some(user) = &query.user {
                builder.push(" AND user_id = ").push_bind(user.clone());
            }
            if let Some(space) = &query.space {
                builder.push(" AND space_id = ").push_bind(space.clone());
            }
            if let Some(since) = &query.since {
                builder.push(" AND event_time >= ").push_bind(since.clone());
            }
            if let Some(until) = &query.until {
                builder.push(" AND event_time < ").push_bind(until.clone());
            }
            if let Some(after) = query.after_seq {
                builder.push(" AND seq > ").push_bind(after as i64);
            }
            if let Some(before) = query.before_seq {
                builder.push(" AND seq < ").push_bind(before as i64);
            }
            builder.push(if query.newest_first { " ORDER BY seq DESC" } else { " ORDER BY seq" });
            if query.limit > 0 {
                builder.push(" LIMIT ").push_bind(query.limit as i64);
            }
            builder.build_query_as().fetch_all(pool).await.map_err(from_sqlx)
        }

        pub(crate) async fn audit_event(
            pool: &Pool<$db>,
            keys: &portcullis_audit::Keyring,
            tenant: TenantId,
            seq: u64,
        ) -> Result<Option<(portcullis_audit::SealedEvent, portcullis_audit::EventBody)>, StoreError> {
            let row: Option<EventRow> = sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = $1 AND seq = $2"))
                .bind(tenant.0)
                .bind(seq as i64)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?;
            row.map(|row| event_of(keys, row).map_err(StoreError::Integrity)).transpose()
        }

        /// A tenant's chain as one consistent read: its anchor and its events, all of them or
        /// (`tail`) only the last `tail` ones.
        pub(crate) async fn audit_chain(pool: &Pool<$db>, keys: &portcullis_audit::Keyring, tenant: TenantId, tail: Option<u64>) -> Result<AuditChain, StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            if let Some(statement) = $begin_read {
                sqlx::query(statement).execute(&mut *tx).await.map_err(from_sqlx)?;
            }
            let (name,): (String,) = sqlx::query_as("SELECT name FROM tenants WHERE id = $1")
                .bind(tenant.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?
                .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant}")))?;
            type AnchorRow = (i64, String, i64, String, Option<String>, Option<String>);
            let anchor: Option<AnchorRow> = sqlx::query_as(
                "SELECT archived_seq, archived_hash, head_seq, head_hash, archived_key_id, archived_sig FROM audit_anchors WHERE tenant_id = $1",
            )
            .bind(tenant.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            let rows: Vec<EventRow> = match tail {
                None => sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = $1 ORDER BY seq"))
                    .bind(tenant.0)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(from_sqlx)?,
                Some(n) => {
                    let mut rows: Vec<EventRow> = sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2"))
                        .bind(tenant.0)
                        .bind(n.min(i64::MAX as u64) as i64)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(from_sqlx)?;
                    rows.reverse();
                    rows
                }
            };
            tx.commit().await.map_err(from_sqlx)?;
            let genesis = portcullis_audit::GENESIS.to_owned();
            let (archived_seq, archived_hash, head_seq, head_hash, archived_key_id, archived_sig) =
                anchor.unwrap_or((0, genesis.clone(), 0, genesis, None, None));
            Ok(AuditChain {
                tenant: name,
                archived_seq: archived_seq as u64,
                archived_hash,
                archived_sig: archived_key_id.zip(archived_sig),
                head_seq: head_seq as u64,
                head_hash,
                events: rows.into_iter().map(sealed_of).collect(),
                partial: tail.is_some(),
                keys: keys.clone(),
            })
        }

        pub(crate) async fn audit_heads(pool: &Pool<$db>) -> Result<Vec<(TenantId, u64, String)>, StoreError> {
            let rows: Vec<(i64, i64, String)> = sqlx::query_as("SELECT tenant_id, head_seq, head_hash FROM audit_anchors ORDER BY tenant_id")
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?;
            Ok(rows.into_iter().map(|(tenant, seq, hash)| (TenantId(tenant), seq as u64, hash)).collect())
        }

        pub(crate) async fn audit_settings(pool: &Pool<$db>, tenant: TenantId) -> Result<AuditSettings, StoreError> {
            let row: Option<(String, i64, Option<i64>)> =
                sqlx::query_as("SELECT mode, sample_per_million, retention_days FROM audit_settings WHERE tenant_id = $1")
                    .bind(tenant.0)
                    .fetch_optional(pool)
                    .await
                    .map_err(from_sqlx)?;
            let Some((mode, sample_per_million, retention_days)) = row else { return Ok(AuditSettings::default()) };
            Ok(AuditSettings {
                policy: portcullis_audit::DecisionLogPolicy {
                    mode: parse_word("decision log mode", &mode, $crate::audit::parse_mode)?,
                    sample_per_million: sample_per_million.clamp(0, 1_000_000) as u32,
                },
                retention_days: retention_days.map(|d| d.clamp(0, i64::from(u32::MAX)) as u32),
            })
        }

        pub(crate) async fn set_audit_settings(pool: &Pool<$db>, sealer: Sealer<'_>, tenant: TenantId, settings: &AuditSettings, author: &Author) -> Result<(), StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let name = lock_tenant(&mut tx, tenant.0).await?;
            let mode = $crate::audit::mode_word(settings.policy.mode);
            sqlx::query(
                "INSERT INTO audit_settings (tenant_id, mode, sample_per_million, retention_days) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id) DO UPDATE SET mode = excluded.mode, sample_per_million = excluded.sample_per_million, \
                 retention_days = excluded.retention_days",
            )
            .bind(tenant.0)
            .bind(mode)
            .bind(i64::from(settings.policy.sample_per_million.min(1_000_000)))
            .bind(settings.retention_days.map(i64::from))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            let data = serde_json::json!({
                "audit": { "mode": mode, "samplePerMillion": settings.policy.sample_per_million, "retentionDays": settings.retention_days }
            });
            let draft = EventDraft::change(portcullis_audit::EventType::TenantSettingsUpdated, author, "set-audit-settings", None, data);
            append(&mut tx, sealer, tenant.0, &name, &[draft]).await?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok(())
        }

        pub(crate) async fn expired_audit_events(
            pool: &Pool<$db>,
            tenant: TenantId,
            older_than: &str,
        ) -> Result<Vec<portcullis_audit::SealedEvent>, StoreError> {
            // Only a prefix of the chain can be archived: up to the first event that is not expired.
            let (first_kept,): (Option<i64>,) = sqlx::query_as("SELECT MIN(seq) FROM audit_events WHERE tenant_id = $1 AND event_time >= $2")
                .bind(tenant.0)
                .bind(older_than)
                .fetch_one(pool)
                .await
                .map_err(from_sqlx)?;
            let rows: Vec<EventRow> = sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = $1 AND seq < $2 ORDER BY seq"))
                .bind(tenant.0)
                .bind(first_kept.unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?;
            Ok(rows.into_iter().map(sealed_of).collect())
        }

        /// Deletes the archived prefix and moves the anchor, signed with `sealer` when there
        /// is one. Without one, a prefix followed by keyed events is refused: its anchor could
        /// not be told from one moved by someone deleting events.
        pub(crate) async fn archive_audit_events(pool: &Pool<$db>, sealer: Sealer<'_>, tenant: TenantId, through_seq: u64, through_hash: &str) -> Result<u64, StoreError> {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let name = lock_tenant(&mut tx, tenant.0).await?;
            let stored: Option<(String,)> = sqlx::query_as("SELECT hash FROM audit_events WHERE tenant_id = $1 AND seq = $2")
                .bind(tenant.0)
                .bind(through_seq as i64)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            if stored.as_ref().map(|(h,)| h.as_str()) != Some(through_hash) {
                return Err(StoreError::Conflict(format!("audit event {through_seq} is not the one that was written to the archive")));
            }
            if sealer.is_none() {
                let next: Option<(Option<String>,)> = sqlx::query_as("SELECT key_id FROM audit_events WHERE tenant_id = $1 AND seq = $2")
                    .bind(tenant.0)
                    .bind(through_seq as i64 + 1)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                if let Some((Some(key_id),)) = next {
                    return Err(StoreError::KeyNeeded(format!(
                        "the events after the archive are sealed with the audit key `{key_id}`: archive with that key, so the anchor is signed"
                    )));
                }
            }
            let deleted = sqlx::query("DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2")
                .bind(tenant.0)
                .bind(through_seq as i64)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            let (key_id, sig) = sealer.map(|key| portcullis_audit::chain::sign_archive(key, &name, through_seq, through_hash)).unzip();
            sqlx::query("UPDATE audit_anchors SET archived_seq = $2, archived_hash = $3, archived_key_id = $4, archived_sig = $5 WHERE tenant_id = $1")
                .bind(tenant.0)
                .bind(through_seq as i64)
                .bind(through_hash)
                .bind(key_id)
                .bind(sig)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok(deleted.rows_affected())
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
