//! The audit trail: appending sealed events under the tenant's lock, reading and checking
//! them, the chain's anchor, the tenant's audit settings, and archiving an expired prefix.

use portcullis_audit::{AuditChain, AuditOrder};
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, IntoArguments, Type};
use sqlx::{Pool, QueryBuilder};

use super::{Dialect, Sealer, Sql, Tx, parse_word};
use crate::audit::{AuditSettings, Author, EventDraft};
use crate::err::{StoreError, from_sqlx};
use crate::record::*;

/// The columns of an event row, in this order.
const EVENT_COLUMNS: &str = "seq, body_json, prev_hash, hash, key_id, event_time, event_type, user_id, space_id";

type EventRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn sealed_of((seq, body_json, prev_hash, hash, key_id, event_time, event_type, user_id, space_id): EventRow) -> portcullis_audit::SealedEvent {
    portcullis_audit::SealedEvent {
        seq: seq as u64,
        body_json,
        prev_hash,
        hash,
        key_id,
        columns: Some(portcullis_audit::IndexColumns {
            event_time,
            event_type,
            user_id,
            space_id,
        }),
    }
}

/// An event row, checked on its own ([`portcullis_audit::check_event`]: it parses, its
/// hash covers it, its columns agree with it).
fn event_of(
    keys: &portcullis_audit::Keyring,
    row: EventRow,
) -> Result<(portcullis_audit::SealedEvent, portcullis_audit::EventBody), portcullis_audit::ChainBreak> {
    let sealed = sealed_of(row);
    let body = portcullis_audit::check_event(&sealed, keys)?;
    Ok((sealed, body))
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
    // ---- The audit trail -------------------------------------------------------------

    /// Locks a tenant's row for a write that moves no revision (the same lock every write
    /// takes first); returns the tenant's name.
    pub(super) async fn lock_tenant(tx: &mut Tx<DB>, id: i64) -> Result<String, StoreError> {
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
    pub(super) async fn append(tx: &mut Tx<DB>, sealer: Sealer<'_>, id: i64, tenant: &str, drafts: &[EventDraft]) -> Result<Vec<u64>, StoreError> {
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
        let now = crate::rfc3339_now();
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
            let sealed =
                portcullis_audit::seal_with(sealer, &prev_hash, &body).map_err(|e| StoreError::Database(format!("cannot encode an event: {e}")))?;
            prev_hash.clone_from(&sealed.hash);
            rows.push(sealed);
        }
        // Ten values a row: well under both backends' bind limits.
        for chunk in rows.chunks(500) {
            let mut builder: QueryBuilder<'_, DB> = QueryBuilder::new(
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
            DB::built(&mut builder).execute(&mut **tx).await.map_err(from_sqlx)?;
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

    pub(crate) async fn append_events(pool: &Pool<DB>, sealer: Sealer<'_>, tenant: TenantId, drafts: &[EventDraft]) -> Result<Vec<u64>, StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, tenant.0).await?;
        let seqs = Self::append(&mut tx, sealer, tenant.0, &name, drafts).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(seqs)
    }
    pub(crate) async fn audit_events(
        pool: &Pool<DB>,
        keys: &portcullis_audit::Keyring,
        tenant: TenantId,
        query: &portcullis_audit::AuditQuery,
    ) -> Result<Vec<(portcullis_audit::SealedEvent, portcullis_audit::EventBody)>, StoreError> {
        Self::audit_event_rows(pool, tenant, query)
            .await?
            .into_iter()
            .map(|row| event_of(keys, row).map_err(StoreError::Integrity))
            .collect()
    }

    /// Like [`Self::audit_events`], with the events that fail their check left out and named
    /// (with why) instead of failing the whole answer.
    pub(crate) async fn readable_audit_events(
        pool: &Pool<DB>,
        keys: &portcullis_audit::Keyring,
        tenant: TenantId,
        query: &portcullis_audit::AuditQuery,
    ) -> Result<
        (
            Vec<(portcullis_audit::SealedEvent, portcullis_audit::EventBody)>,
            Vec<portcullis_audit::ChainBreak>,
        ),
        StoreError,
    > {
        let mut intact = Vec::new();
        let mut failed = Vec::new();
        for row in Self::audit_event_rows(pool, tenant, query).await? {
            match event_of(keys, row) {
                Ok(event) => intact.push(event),
                Err(fault) => failed.push(fault),
            }
        }
        Ok((intact, failed))
    }

    pub(super) async fn audit_event_rows(
        pool: &Pool<DB>,
        tenant: TenantId,
        query: &portcullis_audit::AuditQuery,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut builder: QueryBuilder<'_, DB> = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = "));
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
        if let Some(seqs) = &query.seqs {
            if seqs.is_empty() {
                return Ok(Vec::new());
            }
            builder.push(" AND seq IN (");
            let mut list = builder.separated(", ");
            for seq in seqs {
                list.push_bind(*seq as i64);
            }
            builder.push(")");
        }
        // By sequence number alone, or by the rank of the event's type under the order, then
        // the sequence number; a cursor is a position in that order.
        let ranked = query.order != AuditOrder::Seq;
        let ranks = query.order.ranks();
        let unlisted = i64::from(query.order.unlisted_rank());
        let push_rank = |builder: &mut QueryBuilder<'_, DB>| {
            builder.push("(CASE event_type");
            for (name, rank) in &ranks {
                builder.push(" WHEN ").push_bind(name.clone()).push(" THEN ").push_bind(i64::from(*rank));
            }
            builder.push(" ELSE ").push_bind(unlisted).push(" END)");
        };
        for (cursor, rank, beyond) in [(query.after_seq, query.after_rank, " > "), (query.before_seq, query.before_rank, " < ")] {
            let Some(seq) = cursor else { continue };
            match rank.filter(|_| ranked) {
                None => {
                    builder.push(" AND seq").push(beyond).push_bind(seq as i64);
                }
                Some(rank) => {
                    builder.push(" AND (");
                    push_rank(&mut builder);
                    builder.push(beyond).push_bind(i64::from(rank)).push(" OR (");
                    push_rank(&mut builder);
                    builder
                        .push(" = ")
                        .push_bind(i64::from(rank))
                        .push(" AND seq")
                        .push(beyond)
                        .push_bind(seq as i64)
                        .push("))");
                }
            }
        }
        let direction = if query.newest_first { " DESC" } else { "" };
        builder.push(" ORDER BY ");
        if ranked {
            push_rank(&mut builder);
            builder.push(direction).push(", ");
        }
        builder.push("seq").push(direction);
        if query.limit > 0 {
            builder.push(" LIMIT ").push_bind(query.limit as i64);
        }
        let rows = DB::built(&mut builder).fetch_all(pool).await.map_err(from_sqlx)?;
        rows.iter().map(|row| EventRow::from_row(row).map_err(from_sqlx)).collect()
    }

    pub(crate) async fn audit_event(
        pool: &Pool<DB>,
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
    pub(crate) async fn audit_chain(
        pool: &Pool<DB>,
        keys: &portcullis_audit::Keyring,
        tenant: TenantId,
        tail: Option<u64>,
    ) -> Result<AuditChain, StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        if let Some(statement) = DB::BEGIN_READ {
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
                let mut rows: Vec<EventRow> = sqlx::query_as(&format!(
                    "SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2"
                ))
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

    pub(crate) async fn audit_heads(pool: &Pool<DB>) -> Result<Vec<(TenantId, u64, String)>, StoreError> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as("SELECT tenant_id, head_seq, head_hash FROM audit_anchors ORDER BY tenant_id")
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
        Ok(rows.into_iter().map(|(tenant, seq, hash)| (TenantId(tenant), seq as u64, hash)).collect())
    }

    pub(crate) async fn audit_settings(pool: &Pool<DB>, tenant: TenantId) -> Result<AuditSettings, StoreError> {
        let row: Option<(String, i64, Option<i64>)> =
            sqlx::query_as("SELECT mode, sample_per_million, retention_days FROM audit_settings WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?;
        let Some((mode, sample_per_million, retention_days)) = row else {
            return Ok(AuditSettings::default());
        };
        Ok(AuditSettings {
            policy: portcullis_audit::DecisionLogPolicy {
                mode: parse_word("decision log mode", &mode, crate::audit::parse_mode)?,
                sample_per_million: sample_per_million.clamp(0, 1_000_000) as u32,
            },
            retention_days: retention_days.map(|d| d.clamp(0, i64::from(u32::MAX)) as u32),
        })
    }

    pub(crate) async fn set_audit_settings(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        settings: &AuditSettings,
        author: &Author,
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, tenant.0).await?;
        let mode = crate::audit::mode_word(settings.policy.mode);
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
        let draft = EventDraft::change(
            portcullis_audit::EventType::TenantSettingsUpdated,
            author,
            "set-audit-settings",
            None,
            data,
        );
        Self::append(&mut tx, sealer, tenant.0, &name, &[draft]).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    pub(crate) async fn expired_audit_events(
        pool: &Pool<DB>,
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
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = $1 AND seq < $2 ORDER BY seq"
        ))
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
    pub(crate) async fn archive_audit_events(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        through_seq: u64,
        through_hash: &str,
    ) -> Result<u64, StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, tenant.0).await?;
        let stored: Option<(String,)> = sqlx::query_as("SELECT hash FROM audit_events WHERE tenant_id = $1 AND seq = $2")
            .bind(tenant.0)
            .bind(through_seq as i64)
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        if stored.as_ref().map(|(h,)| h.as_str()) != Some(through_hash) {
            return Err(StoreError::Conflict(format!(
                "audit event {through_seq} is not the one that was written to the archive"
            )));
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
        let (key_id, sig) = sealer
            .map(|key| portcullis_audit::chain::sign_archive(key, &name, through_seq, through_hash))
            .unzip();
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
        Ok(DB::rows_affected(&deleted))
    }
}
