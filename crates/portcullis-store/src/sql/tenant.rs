//! A tenant's record and its whole-tenant work: import, delete, read back, and the commit
//! of changes (the compare-and-swap on the revision, the change log, the events).

use portcullis_model::Subscription;
use portcullis_model::tenant::Tenant;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row as _, Type};
use sqlx::{Pool, QueryBuilder};

use super::{Dialect, ROWS_PER_INSERT, Sealer, Sql, Tx};
use crate::ImportProgress;
use crate::audit::{Author, EventDraft};
use crate::change::Change;
use crate::err::{StoreError, from_sqlx};
use crate::record::*;

/// The tables that hold a tenant's access model, children first.
const MODEL_TABLES: &[&str] = &[
    "entity_meta",
    "shares",
    "uses",
    "content",
    "space_members",
    "spaces",
    "oauth_client_scopes",
    "oauth_clients",
    "user_groups",
    "user_roles",
    "users",
    "everyone_roles",
    "group_roles",
    "tenant_groups",
    "role_permissions",
    "custom_roles",
    "user_default",
    "settings",
];

type TenantRow = (i64, String, i64, i64, i64);

fn tenant_record((id, name, revision, credentials_revision, rule_sites_revision): TenantRow) -> TenantRecord {
    TenantRecord {
        id: TenantId(id),
        name,
        revision: revision as u64,
        credentials_revision: credentials_revision as u64,
        rule_sites_revision: rule_sites_revision as u64,
    }
}

impl<DB: Dialect> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
{
    pub(crate) async fn tenants(pool: &Pool<DB>) -> Result<Vec<TenantRecord>, StoreError> {
        let rows: Vec<TenantRow> = sqlx::query_as("SELECT id, name, revision, credentials_revision, rule_sites_revision FROM tenants ORDER BY name")
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
        Ok(rows.into_iter().map(tenant_record).collect())
    }

    pub(crate) async fn tenant_by_name(pool: &Pool<DB>, name: &str) -> Result<Option<TenantRecord>, StoreError> {
        let row: Option<TenantRow> =
            sqlx::query_as("SELECT id, name, revision, credentials_revision, rule_sites_revision FROM tenants WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?;
        Ok(row.map(tenant_record))
    }

    /// A tenant's record as the open transaction sees it.
    pub(super) async fn tenant_in(tx: &mut Tx<DB>, id: i64) -> Result<TenantRecord, StoreError> {
        let row: TenantRow = sqlx::query_as("SELECT id, name, revision, credentials_revision, rule_sites_revision FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await
            .map_err(from_sqlx)?;
        Ok(tenant_record(row))
    }

    pub(crate) async fn revision(pool: &Pool<DB>, tenant: TenantId) -> Result<u64, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT revision FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
        row.map(|(r,)| r as u64).ok_or_else(|| StoreError::NotFound(format!("tenant {tenant}")))
    }

    /// Each revision in `low < revision <= high` with its kind (`import` for a whole-tenant import).
    async fn revision_kinds(tx: &mut Tx<DB>, tenant: TenantId, low: i64, high: i64) -> Result<Vec<(i64, String)>, StoreError> {
        sqlx::query_as("SELECT revision, kind FROM revisions WHERE tenant_id = $1 AND revision > $2 AND revision <= $3")
            .bind(tenant.0)
            .bind(low)
            .bind(high)
            .fetch_all(&mut **tx)
            .await
            .map_err(from_sqlx)
    }

    pub(super) async fn log_revision(tx: &mut Tx<DB>, tenant: i64, revision: i64, kind: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO revisions (tenant_id, revision, kind, at) VALUES ($1, $2, $3, $4)")
            .bind(tenant)
            .bind(revision)
            .bind(kind)
            .bind(crate::now())
            .execute(&mut **tx)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    pub(crate) async fn import_tenant(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: &Tenant,
        mode: ImportMode,
        author: &Author,
        progress: ImportProgress<'_>,
    ) -> Result<Imported, StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let inserted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO tenants (name, subscription, revision, created_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(&tenant.name)
        .bind(tenant.subscription.as_str())
        .bind(crate::now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let (id, revision, outcome) = match (inserted, mode) {
            (Some((id,)), _) => (id, 1, ImportOutcome::Created),
            (None, ImportMode::KeepExisting) => {
                let row: TenantRow =
                    sqlx::query_as("SELECT id, name, revision, credentials_revision, rule_sites_revision FROM tenants WHERE name = $1")
                        .bind(&tenant.name)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(from_sqlx)?;
                tx.rollback().await.map_err(from_sqlx)?;
                return Ok(Imported {
                    tenant: tenant_record(row),
                    outcome: ImportOutcome::Kept,
                });
            }
            (None, ImportMode::Replace) => {
                let (id, revision): (i64, i64) =
                    sqlx::query_as("UPDATE tenants SET revision = revision + 1, subscription = $2 WHERE name = $1 RETURNING id, revision")
                        .bind(&tenant.name)
                        .bind(tenant.subscription.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(from_sqlx)?;
                Self::delete_model(&mut tx, id).await?;
                (id, revision, ImportOutcome::Replaced)
            }
        };
        Self::write_model(&mut tx, id, tenant, progress).await?;
        Self::log_revision(&mut tx, id, revision, "import").await?;
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
        let resource = portcullis_audit::ResourceRef {
            kind: "tenant".to_owned(),
            id: tenant.name.clone(),
            space: None,
            owner: None,
        };
        let draft = EventDraft::change(portcullis_audit::EventType::TenantImported, author, "import", Some(resource), data);
        Self::append(&mut tx, sealer, id, &tenant.name, &[draft]).await?;
        if outcome == ImportOutcome::Replaced {
            // Users and clients the new content leaves out lose their credentials.
            let gone = Self::credential_owners(&mut tx, id).await?;
            let users: Vec<String> = gone.0.into_iter().filter(|u| tenant.users.get(u).is_none()).collect();
            let clients: Vec<String> = gone.1.into_iter().filter(|c| tenant.oauth_clients.get(c).is_none()).collect();
            Self::retire_credentials(&mut tx, sealer, id, &tenant.name, &users, &clients, author).await?;
            let logged_in: Vec<(String,)> = sqlx::query_as("SELECT user_id FROM sessions WHERE tenant_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            let gone: Vec<String> = logged_in.into_iter().map(|(u,)| u).filter(|u| tenant.users.get(u).is_none()).collect();
            Self::close_sessions(&mut tx, id, &gone).await?;
        }
        let record = Self::tenant_in(&mut tx, id).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(Imported { tenant: record, outcome })
    }

    pub(super) async fn delete_model(tx: &mut Tx<DB>, tenant: i64) -> Result<(), StoreError> {
        for table in MODEL_TABLES {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                .bind(tenant)
                .execute(&mut **tx)
                .await
                .map_err(from_sqlx)?;
        }
        Ok(())
    }

    pub(crate) async fn delete_tenant(pool: &Pool<DB>, tenant: TenantId) -> Result<(), StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        Self::delete_model(&mut tx, tenant.0).await?;
        // The tenant's audit trail goes with it (archive it first to keep it).
        for table in [
            "api_keys",
            "api_key_settings",
            "oauth_client_secrets",
            "oauth_tokens",
            "revisions",
            "change_log",
            "rule_sites",
            "sessions",
            "audit_events",
            "audit_settings",
            "audit_anchors",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                .bind(tenant.0)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        let deleted = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        if DB::rows_affected(&deleted) == 0 {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    pub(crate) async fn load_tenant(pool: &Pool<DB>, tenant: TenantId) -> Result<(Tenant, u64), StoreError> {
        crate::load::in_parts(tenant, |tables| {
            let pool = pool.clone();
            async move {
                tokio::spawn(Self::load_tables(pool, tenant, tables))
                    .await
                    .map_err(crate::load::stopped)?
            }
        })
        .await
    }

    /// Reads `tables` of a tenant in one read transaction.
    pub(super) async fn load_tables(
        pool: Pool<DB>,
        tenant: TenantId,
        tables: &'static [crate::load::Table],
    ) -> Result<crate::load::Assembler, StoreError> {
        use crate::load::{Assembler, HEAD};

        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        if let Some(statement) = DB::BEGIN_READ {
            sqlx::query(statement).execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        let head = sqlx::query(HEAD).bind(tenant.0).fetch_optional(&mut *tx).await.map_err(from_sqlx)?;
        let Some(head) = head else {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        };
        let mut assembler = Assembler::new(&Fetched::<DB>(head))?;
        for &table in tables {
            if let Some(count) = table.count_query() {
                let rows: i64 = sqlx::query_scalar(count).bind(tenant.0).fetch_one(&mut *tx).await.map_err(from_sqlx)?;
                assembler.reserve(table, rows);
            }
            // Streamed: a million rows are never all in memory as rows.
            let mut rows = sqlx::query(table.query()).bind(tenant.0).fetch(&mut *tx);
            while let Some(row) = futures_util::TryStreamExt::try_next(&mut rows).await.map_err(from_sqlx)? {
                assembler.add(table, &Fetched::<DB>(row))?;
            }
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(assembler)
    }

    /// Applies one change with the model's rules on the stored tenant: a convenience for
    /// callers without a live tenant (the CLI, tests). It reads the whole tenant; the
    /// server applies changes to its live tenant and calls [`Self::commit_changes`] instead.
    pub(crate) async fn apply(pool: &Pool<DB>, sealer: Sealer<'_>, tenant: TenantId, change: &Change, author: &Author) -> Result<u64, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (mut model, revision) = Self::load_tenant(pool, tenant).await?;
            let applied = model.apply(change)?;
            if applied.touched.is_empty() {
                // A step that changes nothing (spec: a no-op, not an error) writes nothing.
                return Ok(revision);
            }
            let mut event = crate::audit::change_event(change, author);
            if !applied.recorded_roles.is_empty() {
                event.data["recordedRoles"] = serde_json::json!(applied.recorded_roles);
            }
            let write = ChangeSet {
                base_revision: revision,
                after: &model,
                changes: std::slice::from_ref(change),
                touched: &applied.touched,
                events: &[event],
                sessions: &[],
                author,
                applied: std::slice::from_ref(&applied),
            };
            // Another writer went first: read again (this path reads the whole tenant; it is
            // for the CLI and tests, where writers are few).
            match Self::commit_changes(pool, sealer, tenant, &[write]).await {
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
    pub(crate) async fn commit_changes(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        writes: &[ChangeSet<'_>],
    ) -> Result<Vec<u64>, StoreError> {
        let (Some(first), Some(last)) = (writes.first(), writes.last()) else {
            return Ok(Vec::new());
        };
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
            if write.stores_anything() {
                current += 1;
            }
            revisions.push(current);
        }
        if current == base {
            return Ok(revisions);
        }
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let id = tenant.0;
        let (_, name) = Self::bump_revision(&mut tx, tenant, base, current - base, last.after.subscription).await?;
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
        Self::write_touched(&mut tx, id, last.after, &touched).await?;
        let at = crate::now();
        // (revision, position, change, author, undo) per change-log row; (revision, kind) per revision.
        let mut log: Vec<(i64, i64, String, String, Option<String>)> = Vec::new();
        let mut kinds: Vec<(i64, &str)> = Vec::new();
        let mut events: Vec<EventDraft> = Vec::new();
        // The sessions logins open, the last login of each user winning.
        let mut sessions: std::collections::BTreeMap<&str, (i64, &str)> = std::collections::BTreeMap::new();
        for (write, &revision) in writes.iter().zip(&revisions) {
            if !write.stores_anything() {
                continue;
            }
            for session in write.sessions {
                sessions.insert(&session.user_id, (revision as i64, &session.rights));
            }
            let author = serde_json::json!({ "actor": write.author.actor, "channel": write.author.channel }).to_string();
            // The undos only when there is one per change: history must not rewind half a write.
            let undos = (write.applied.len() == write.changes.len()).then_some(write.applied);
            for (position, change) in write.changes.iter().enumerate() {
                let text = serde_json::to_string(change).map_err(|e| StoreError::Database(format!("a change does not serialize: {e}")))?;
                let undo = match undos {
                    Some(applied) => Some(
                        serde_json::to_string(&applied[position].undo)
                            .map_err(|e| StoreError::Database(format!("an undo does not serialize: {e}")))?,
                    ),
                    None => None,
                };
                log.push((revision as i64, position as i64, text, author.clone(), undo));
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
        // Seven values a row: well under both backends' bind limits.
        for chunk in log.chunks(ROWS_PER_INSERT) {
            let mut builder: QueryBuilder<'_, DB> =
                QueryBuilder::new("INSERT INTO change_log (tenant_id, revision, position, change, author, at, undo) ");
            builder.push_values(chunk, |mut row, (revision, position, text, author, undo)| {
                row.push_bind(id)
                    .push_bind(*revision)
                    .push_bind(*position)
                    .push_bind(text.clone())
                    .push_bind(author.clone())
                    .push_bind(at)
                    .push_bind(undo.clone());
            });
            DB::built(&mut builder).execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        for chunk in kinds.chunks(ROWS_PER_INSERT) {
            let mut builder: QueryBuilder<'_, DB> = QueryBuilder::new("INSERT INTO revisions (tenant_id, revision, kind, at) ");
            builder.push_values(chunk, |mut row, (revision, kind)| {
                row.push_bind(id).push_bind(*revision).push_bind(*kind).push_bind(at);
            });
            DB::built(&mut builder).execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        Self::append(&mut tx, sealer, id, &name, &events).await?;
        let sessions: Vec<(&str, (i64, &str))> = sessions.into_iter().collect();
        for chunk in sessions.chunks(ROWS_PER_INSERT) {
            let mut builder: QueryBuilder<'_, DB> = QueryBuilder::new("INSERT INTO sessions (tenant_id, user_id, revision, rights, logged_in_at) ");
            builder.push_values(chunk, |mut row, (user, (revision, rights))| {
                row.push_bind(id).push_bind(*user).push_bind(*revision).push_bind(*rights).push_bind(at);
            });
            builder.push(
                " ON CONFLICT (tenant_id, user_id) DO UPDATE SET revision = excluded.revision, rights = excluded.rights, \
                 logged_in_at = excluded.logged_in_at",
            );
            DB::built(&mut builder).execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        // Sessions die with their user, like credentials.
        let gone: Vec<String> = touched.users.iter().filter(|u| last.after.users.get(u).is_none()).cloned().collect();
        Self::close_sessions(&mut tx, id, &gone).await?;
        // The credentials of users and clients gone at the end of the batch, each retired
        // in the name of the write that touched it (first come; later ones find nothing left).
        for write in writes {
            Self::retire_credentials_of_deleted(&mut tx, sealer, id, &name, last.after, write.touched, write.author).await?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(revisions)
    }

    /// Deletes the sessions of `users` (gone from the tenant).
    pub(super) async fn close_sessions(tx: &mut Tx<DB>, tenant: i64, users: &[String]) -> Result<(), StoreError> {
        for chunk in users.chunks(ROWS_PER_INSERT) {
            let mut builder: QueryBuilder<'_, DB> = QueryBuilder::new("DELETE FROM sessions WHERE tenant_id = ");
            builder.push_bind(tenant).push(" AND user_id IN (");
            let mut list = builder.separated(", ");
            for user in chunk {
                list.push_bind(user.as_str());
            }
            builder.push(")");
            DB::built(&mut builder).execute(&mut **tx).await.map_err(from_sqlx)?;
        }
        Ok(())
    }

    /// A tenant's stored sessions: every one, or only those of `users`.
    pub(crate) async fn sessions(pool: &Pool<DB>, tenant: TenantId, users: Option<&[String]>) -> Result<Vec<SessionRecord>, StoreError> {
        type SessionRow = (String, i64, String, i64);
        let record = |(user_id, revision, rights, logged_in_at): SessionRow| SessionRecord {
            user_id,
            revision: revision.max(0) as u64,
            rights,
            logged_in_at,
        };
        let Some(users) = users else {
            let rows: Vec<SessionRow> =
                sqlx::query_as("SELECT user_id, revision, rights, logged_in_at FROM sessions WHERE tenant_id = $1 ORDER BY user_id")
                    .bind(tenant.0)
                    .fetch_all(pool)
                    .await
                    .map_err(from_sqlx)?;
            return Ok(rows.into_iter().map(record).collect());
        };
        let mut found = Vec::new();
        for chunk in users.chunks(ROWS_PER_INSERT) {
            let mut builder: QueryBuilder<'_, DB> =
                QueryBuilder::new("SELECT user_id, revision, rights, logged_in_at FROM sessions WHERE tenant_id = ");
            builder.push_bind(tenant.0).push(" AND user_id IN (");
            let mut list = builder.separated(", ");
            for user in chunk {
                list.push_bind(user.as_str());
            }
            builder.push(") ORDER BY user_id");
            let rows = DB::built(&mut builder).fetch_all(pool).await.map_err(from_sqlx)?;
            for row in &rows {
                found.push(record(<SessionRow as sqlx::FromRow<'_, DB::Row>>::from_row(row).map_err(from_sqlx)?));
            }
        }
        Ok(found)
    }

    /// The change log of `tenant` after revision `after`, at most `limit` revisions, read
    /// in one transaction with the tenant's revision.
    pub(crate) async fn changes_after(pool: &Pool<DB>, tenant: TenantId, after: u64, limit: u64) -> Result<crate::feed::LogPage, StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        if let Some(statement) = DB::BEGIN_READ {
            sqlx::query(statement).execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        let row: Option<(i64,)> = sqlx::query_as("SELECT revision FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let Some((revision,)) = row else {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        };
        let revision = revision.max(0) as u64;
        let (low, high) = (
            after.min(i64::MAX as u64) as i64,
            after.saturating_add(limit.max(1)).min(revision).min(i64::MAX as u64) as i64,
        );
        let (kinds, logged) = if revision > after {
            let kinds = Self::revision_kinds(&mut tx, tenant, low, high).await?;
            let logged: Vec<(i64, String)> = sqlx::query_as(
                "SELECT revision, change FROM change_log WHERE tenant_id = $1 AND revision > $2 AND revision <= $3 ORDER BY revision, position",
            )
            .bind(tenant.0)
            .bind(low)
            .bind(high)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            (kinds, logged)
        } else {
            (Vec::new(), Vec::new())
        };
        tx.commit().await.map_err(from_sqlx)?;
        crate::feed::page(after, limit, revision, kinds, logged)
    }

    /// The changes logged after `after_revision`, in order: (revision, change).
    pub(crate) async fn changes_since(pool: &Pool<DB>, tenant: TenantId, after_revision: u64) -> Result<Vec<(u64, Change)>, StoreError> {
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

    /// The logged changes after `after` through `through`, oldest first, with their undos, read
    /// in one transaction; `None` when they cannot rewind the tenant that far: a revision in
    /// the range is an import or is no longer logged, or a row has no undo.
    pub(crate) async fn history(pool: &Pool<DB>, tenant: TenantId, after: u64, through: u64) -> Result<Option<Vec<LoggedChange>>, StoreError> {
        if through <= after {
            return Ok(Some(Vec::new()));
        }
        let (low, high) = (after.min(i64::MAX as u64) as i64, through.min(i64::MAX as u64) as i64);
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        if let Some(statement) = DB::BEGIN_READ {
            sqlx::query(statement).execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        let kinds = Self::revision_kinds(&mut tx, tenant, low, high).await?;
        let revisions: std::collections::BTreeSet<i64> = kinds.iter().map(|(revision, _)| *revision).collect();
        if revisions.len() as i64 != high - low || kinds.iter().any(|(_, kind)| kind == "import") {
            tx.commit().await.map_err(from_sqlx)?;
            return Ok(None);
        }
        type LogRow = (i64, i64, String, String, i64, Option<String>);
        let rows: Vec<LogRow> = sqlx::query_as(
            "SELECT revision, position, change, author, at, undo FROM change_log \
             WHERE tenant_id = $1 AND revision > $2 AND revision <= $3 ORDER BY revision, position",
        )
        .bind(tenant.0)
        .bind(low)
        .bind(high)
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        tx.commit().await.map_err(from_sqlx)?;
        // A write of changes whose rows are gone (pruned by hand) cannot be undone either.
        let with_rows: std::collections::BTreeSet<i64> = rows.iter().map(|row| row.0).collect();
        if kinds.iter().any(|(revision, kind)| kind != "commit" && !with_rows.contains(revision)) {
            return Ok(None);
        }
        let mut logged = Vec::with_capacity(rows.len());
        for (revision, position, change, author, at, undo) in rows {
            let Some(undo) = undo else { return Ok(None) };
            let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("change-log row {position} of revision {revision}: {e}"));
            logged.push(LoggedChange {
                revision: revision.max(0) as u64,
                position: position.max(0) as u64,
                change: serde_json::from_str(&change).map_err(corrupt)?,
                author: serde_json::from_str(&author).unwrap_or(serde_json::Value::String(author)),
                at,
                undo: serde_json::from_str(&undo).map_err(corrupt)?,
            });
        }
        Ok(Some(logged))
    }

    /// Forgets the change log up to the last revision reached before `older_than`, and the
    /// revisions before it (that one is kept: a time after it still resolves to it).
    pub(crate) async fn prune_history(pool: &Pool<DB>, tenant: TenantId, older_than: i64) -> Result<Option<u64>, StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let (horizon,): (Option<i64>,) = sqlx::query_as("SELECT MAX(revision) FROM revisions WHERE tenant_id = $1 AND at < $2")
            .bind(tenant.0)
            .bind(older_than)
            .fetch_one(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let Some(horizon) = horizon else {
            tx.rollback().await.map_err(from_sqlx)?;
            return Ok(None);
        };
        for statement in [
            "DELETE FROM change_log WHERE tenant_id = $1 AND revision <= $2",
            "DELETE FROM revisions WHERE tenant_id = $1 AND revision < $2",
        ] {
            sqlx::query(statement)
                .bind(tenant.0)
                .bind(horizon)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(Some(horizon.max(0) as u64))
    }

    /// The last revision `tenant` reached at or before `at` (Unix seconds).
    pub(crate) async fn revision_at(pool: &Pool<DB>, tenant: TenantId, at: i64) -> Result<Option<u64>, StoreError> {
        let row: (Option<i64>,) = sqlx::query_as("SELECT MAX(revision) FROM revisions WHERE tenant_id = $1 AND at <= $2")
            .bind(tenant.0)
            .bind(at)
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)?;
        Ok(row.0.map(|revision| revision.max(0) as u64))
    }

    /// Compare-and-swap on the revision, moving it `by` (one per write), as a transaction's
    /// first statement (it also takes the tenant's lock), so a change computed on a stale
    /// state is never written.
    pub(super) async fn bump_revision(
        tx: &mut Tx<DB>,
        tenant: TenantId,
        base_revision: u64,
        by: u64,
        subscription: Subscription,
    ) -> Result<(i64, String), StoreError> {
        let id = tenant.0;
        let bumped: Option<(i64, String)> =
            sqlx::query_as("UPDATE tenants SET revision = revision + $4, subscription = $3 WHERE id = $1 AND revision = $2 RETURNING revision, name")
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
                let stored: Option<(i64,)> = sqlx::query_as("SELECT revision FROM tenants WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
                Err(match stored {
                    Some((stored,)) => StoreError::Conflict(format!("the tenant is at revision {stored}, not {base_revision}")),
                    None => StoreError::NotFound(format!("tenant {tenant}")),
                })
            }
        }
    }
}

/// A row sqlx fetched, read through the assembler's column interface.
struct Fetched<DB: Database>(DB::Row);

impl<DB: Database> crate::load::Row for Fetched<DB>
where
    usize: ColumnIndex<DB::Row>,
    for<'r> &'r str: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
{
    fn text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        self.0.try_get(i).map_err(from_sqlx)
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.0.try_get(i).map_err(from_sqlx)
    }
}
