//! The migration runner: a `portcullis_migrations` ledger, the missing migrations applied in
//! one transaction, and a refusal to run on a schema newer than this build.

use sqlx::Pool;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{Dialect, Sql};
use crate::err::{StoreError, from_sqlx};

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
    /// Applies the backend's migrations the database lacks, in one transaction, after its
    /// migration lock (if any) so that nodes starting together migrate one at a time.
    pub(crate) async fn migrate(pool: &Pool<DB>) -> Result<(), StoreError> {
        let migrations = DB::MIGRATIONS;
        let failed = |e: sqlx::Error| StoreError::Migration(from_sqlx(e).to_string());
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        if let Some(lock) = DB::MIGRATION_LOCK {
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
        if let Some((newest,)) = applied.iter().copied().max()
            && newest > newest_known
        {
            return Err(StoreError::Migration(format!(
                "the database is at schema version {newest}, newer than this build knows ({newest_known}); run a newer portcullis"
            )));
        }
        for migration in migrations {
            if applied.iter().any(|(v,)| *v == migration.version) {
                continue;
            }
            tracing::info!(version = migration.version, name = migration.name, "applying migration");
            sqlx::Executor::execute(&mut *tx, migration.sql)
                .await
                .map_err(|e| StoreError::Migration(format!("migration {} `{}`: {}", migration.version, migration.name, from_sqlx(e))))?;
            sqlx::query("INSERT INTO portcullis_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(migration.version)
                .bind(migration.name)
                .bind(crate::now())
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)?;
        Ok(())
    }
}
