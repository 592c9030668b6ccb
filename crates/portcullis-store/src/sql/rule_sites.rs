//! A tenant's security-rule sites: created, replaced and deleted each in one transaction with
//! its audit event, under the tenant's lock (the update that moves the tenant's
//! `rule_sites_revision`), and read back whole or only the ones written after a revision.

use sqlx::Pool;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{Dialect, Sealer, Sql, Tx};
use crate::audit::{Author, EventDraft};
use crate::err::{StoreError, from_sqlx};
use crate::record::*;

/// The columns of a site row, in this order.
const SITE_COLUMNS: &str = "name, format, source, revision, created_at, created_by, updated_at, updated_by";

type SiteRow = (String, String, String, i64, i64, String, i64, String);

fn site_record((name, format, source, revision, created_at, created_by, updated_at, updated_by): SiteRow) -> Result<RuleSiteRecord, StoreError> {
    let format = RuleSiteFormat::parse(&format).ok_or_else(|| StoreError::Corrupt(format!("rule site `{name}`: unknown format `{format}`")))?;
    Ok(RuleSiteRecord {
        name,
        format,
        source,
        revision: revision.max(0) as u64,
        created_at,
        created_by,
        updated_at,
        updated_by,
    })
}

/// The author as the rows keep it (as the change log does).
fn author_text(author: &Author) -> String {
    serde_json::json!({ "actor": author.actor, "channel": author.channel }).to_string()
}

/// The audit event of a write to a site.
fn site_event(author: &Author, name: &str, data: serde_json::Value) -> EventDraft {
    let resource = portcullis_audit::ResourceRef {
        kind: "rule-site".to_owned(),
        id: name.to_owned(),
        space: None,
        owner: None,
    };
    EventDraft::change(portcullis_audit::EventType::RulesUpdated, author, "rules:update", Some(resource), data)
}

/// Refuses a name the store does not keep.
fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::LimitReached("a rule site needs a name".to_owned()));
    }
    if name.len() > MAX_RULE_SITE_NAME_BYTES {
        return Err(StoreError::LimitReached(format!(
            "a rule site's name is at most {MAX_RULE_SITE_NAME_BYTES} bytes (this one has {})",
            name.len()
        )));
    }
    Ok(())
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
    /// Locks the tenant for a write to its sites and moves its rule-sites revision: the
    /// transaction's first statement. Returns the new revision and the tenant's name.
    async fn bump_rule_sites(tx: &mut Tx<DB>, tenant: TenantId) -> Result<(u64, String), StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("UPDATE tenants SET rule_sites_revision = rule_sites_revision + 1 WHERE id = $1 RETURNING rule_sites_revision, name")
                .bind(tenant.0)
                .fetch_optional(&mut **tx)
                .await
                .map_err(from_sqlx)?;
        let (revision, name) = row.ok_or_else(|| StoreError::NotFound(format!("tenant {tenant}")))?;
        Ok((revision.max(0) as u64, name))
    }

    async fn site_in(tx: &mut Tx<DB>, tenant: TenantId, name: &str) -> Result<Option<RuleSiteRecord>, StoreError> {
        let row: Option<SiteRow> = sqlx::query_as(&format!("SELECT {SITE_COLUMNS} FROM rule_sites WHERE tenant_id = $1 AND name = $2"))
            .bind(tenant.0)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await
            .map_err(from_sqlx)?;
        row.map(site_record).transpose()
    }

    /// Creates or replaces a site (checked against its expected revision and the limits
    /// under the tenant's lock), with its event, in one transaction.
    pub(crate) async fn put_rule_site(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        site: &NewRuleSite<'_>,
        author: &Author,
    ) -> Result<RuleSiteRecord, StoreError> {
        check_name(site.name)?;
        if site.source.len() > MAX_RULE_SITE_BYTES {
            return Err(StoreError::LimitReached(format!(
                "a rule site's source is at most {MAX_RULE_SITE_BYTES} bytes (this one has {})",
                site.source.len()
            )));
        }
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let (revision, tenant_name) = Self::bump_rule_sites(&mut tx, site.tenant).await?;
        let existing = Self::site_in(&mut tx, site.tenant, site.name).await?;
        match (&existing, site.expected_revision) {
            (Some(stored), Some(expected)) if stored.revision != expected => {
                return Err(StoreError::PreconditionFailed(format!(
                    "rule site `{}` is at revision {}, not {expected}",
                    site.name, stored.revision
                )));
            }
            (None, Some(expected)) => {
                return Err(StoreError::PreconditionFailed(format!(
                    "there is no rule site `{}` (expected at revision {expected})",
                    site.name
                )));
            }
            _ => {}
        }
        let now = crate::now();
        let by = author_text(author);
        if existing.is_none() {
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM rule_sites WHERE tenant_id = $1")
                .bind(site.tenant.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            if count.max(0) as u64 >= MAX_RULE_SITES {
                return Err(StoreError::LimitReached(format!(
                    "a tenant holds at most {MAX_RULE_SITES} rule sites; delete one before creating `{}`",
                    site.name
                )));
            }
        }
        // One statement for both: a replacement keeps the site's creation time and author.
        sqlx::query(
            "INSERT INTO rule_sites (tenant_id, name, format, source, revision, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET format = excluded.format, source = excluded.source, \
             revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(site.tenant.0)
        .bind(site.name)
        .bind(site.format.as_str())
        .bind(site.source)
        .bind(revision as i64)
        .bind(now)
        .bind(by.as_str())
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let record = RuleSiteRecord {
            name: site.name.to_owned(),
            format: site.format,
            source: site.source.to_owned(),
            revision,
            created_at: existing.as_ref().map_or(now, |stored| stored.created_at),
            created_by: existing.map_or_else(|| by.clone(), |stored| stored.created_by),
            updated_at: now,
            updated_by: by,
        };
        let data = serde_json::json!({ "loaded": site.summary, "format": site.format.as_str(), "revision": revision });
        Self::append(&mut tx, sealer, site.tenant.0, &tenant_name, &[site_event(author, site.name, data)]).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(record)
    }

    /// Deletes a site (only at `expected_revision` when given), with its event, in one
    /// transaction; returns the tenant's rule-sites revision the deletion reached.
    pub(crate) async fn delete_rule_site(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        name: &str,
        expected_revision: Option<u64>,
        author: &Author,
    ) -> Result<u64, StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let (revision, tenant_name) = Self::bump_rule_sites(&mut tx, tenant).await?;
        let stored: Option<(i64,)> = sqlx::query_as("SELECT revision FROM rule_sites WHERE tenant_id = $1 AND name = $2")
            .bind(tenant.0)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        match (stored, expected_revision) {
            (None, None) => return Err(StoreError::NotFound(format!("rule site `{name}`"))),
            (None, Some(expected)) => {
                return Err(StoreError::PreconditionFailed(format!(
                    "there is no rule site `{name}` (expected at revision {expected})"
                )));
            }
            (Some((stored,)), Some(expected)) if stored as u64 != expected => {
                return Err(StoreError::PreconditionFailed(format!(
                    "rule site `{name}` is at revision {stored}, not {expected}"
                )));
            }
            _ => {}
        }
        sqlx::query("DELETE FROM rule_sites WHERE tenant_id = $1 AND name = $2")
            .bind(tenant.0)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let data = serde_json::json!({ "deleted": true, "revision": revision });
        Self::append(&mut tx, sealer, tenant.0, &tenant_name, &[site_event(author, name, data)]).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(revision)
    }

    /// One site, whole.
    pub(crate) async fn rule_site(pool: &Pool<DB>, tenant: TenantId, name: &str) -> Result<Option<RuleSiteRecord>, StoreError> {
        let row: Option<SiteRow> = sqlx::query_as(&format!("SELECT {SITE_COLUMNS} FROM rule_sites WHERE tenant_id = $1 AND name = $2"))
            .bind(tenant.0)
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
        row.map(site_record).transpose()
    }

    /// Every site's name and revision, and the sites written after `after` whole, with the
    /// tenant's rule-sites revision, in one read transaction.
    pub(crate) async fn rule_sites_after(pool: &Pool<DB>, tenant: TenantId, after: u64) -> Result<RuleSitesRead, StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        if let Some(statement) = DB::BEGIN_READ {
            sqlx::query(statement).execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        let row: Option<(i64,)> = sqlx::query_as("SELECT rule_sites_revision FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let Some((revision,)) = row else {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        };
        let heads: Vec<(String, i64)> = sqlx::query_as("SELECT name, revision FROM rule_sites WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let changed: Vec<SiteRow> = if heads.iter().any(|(_, r)| *r as u64 > after) {
            sqlx::query_as(&format!(
                "SELECT {SITE_COLUMNS} FROM rule_sites WHERE tenant_id = $1 AND revision > $2 ORDER BY name"
            ))
            .bind(tenant.0)
            .bind(after.min(i64::MAX as u64) as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?
        } else {
            Vec::new()
        };
        tx.commit().await.map_err(from_sqlx)?;
        Ok(RuleSitesRead {
            revision: revision.max(0) as u64,
            heads: heads.into_iter().map(|(name, r)| (name, r.max(0) as u64)).collect(),
            changed: changed.into_iter().map(site_record).collect::<Result<_, _>>()?,
        })
    }
}
