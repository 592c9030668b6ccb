//! The change log as the change feed reads it: the revisions after one a node has, with their
//! changes, in one consistent read with the tenant's revision.

use sqlx::Pool;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{Dialect, Sql};
use crate::err::{StoreError, from_sqlx};
use crate::feed::LogPage;
use crate::record::TenantId;

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
    /// The change log of `tenant` after revision `after`, at most `limit` revisions, read
    /// in one transaction with the tenant's revision.
    pub(crate) async fn changes_after(pool: &Pool<DB>, tenant: TenantId, after: u64, limit: u64) -> Result<LogPage, StoreError> {
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
            let kinds: Vec<(i64, String)> =
                sqlx::query_as("SELECT revision, kind FROM revisions WHERE tenant_id = $1 AND revision > $2 AND revision <= $3")
                    .bind(tenant.0)
                    .bind(low)
                    .bind(high)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
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
}
