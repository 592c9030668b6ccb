//! Reading a whole tenant from an SQLite file with SQLite's own row API (`rusqlite`, on
//! query-only connections of its own): sqlx hands every row from its connection thread to the
//! caller one by one, which at a million rows cost more than everything else in a start. The
//! rows go through the same [`Assembler`] as sqlx's (which still reads in-memory databases,
//! invisible to other connections, and PostgreSQL).

use std::path::Path;
use std::time::Duration;

use portcullis_model::Tenant;
use rusqlite::OpenFlags;
use rusqlite::types::ValueRef;

use crate::TenantId;
use crate::err::StoreError;
use crate::load::{Assembler, HEAD, Row, Table, in_parts, stopped};

/// The tenant as of one revision, and the revision.
pub(crate) async fn load_tenant(file: &Path, tenant: TenantId) -> Result<(Tenant, u64), StoreError> {
    in_parts(tenant, |tables| {
        let file = file.to_owned();
        // Reading a million rows is seconds of CPU: off the async threads.
        async move { tokio::task::spawn_blocking(move || read(&file, tenant, tables)).await.map_err(stopped)? }
    })
    .await
}

/// Reads `tables` of the tenant in one read transaction on a connection of its own.
fn read(file: &Path, tenant: TenantId, tables: &[Table]) -> Result<Assembler, StoreError> {
    // Read-write without create (a read-only connection may fail to open a WAL database
    // whose shared-memory file is gone), made query-only so it cannot write.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = rusqlite::Connection::open_with_flags(file, flags).map_err(from_sqlite)?;
    db.busy_timeout(Duration::from_secs(10)).map_err(from_sqlite)?;
    db.pragma_update(None, "query_only", true).map_err(from_sqlite)?;
    let tx = db.unchecked_transaction().map_err(from_sqlite)?;
    let mut assembler = {
        let mut head = tx.prepare(HEAD).map_err(from_sqlite)?;
        let mut rows = head.query([tenant.0]).map_err(from_sqlite)?;
        match rows.next().map_err(from_sqlite)? {
            Some(row) => Assembler::new(&Stored(row))?,
            None => return Err(StoreError::NotFound(format!("tenant {tenant}"))),
        }
    };
    for &table in tables {
        if let Some(count) = table.count_query() {
            let rows: i64 = tx.query_row(count, [tenant.0], |row| row.get(0)).map_err(from_sqlite)?;
            assembler.reserve(table, rows);
        }
        let mut statement = tx.prepare(table.query()).map_err(from_sqlite)?;
        let mut rows = statement.query([tenant.0]).map_err(from_sqlite)?;
        while let Some(row) = rows.next().map_err(from_sqlite)? {
            assembler.add(table, &Stored(row))?;
        }
    }
    tx.commit().map_err(from_sqlite)?;
    Ok(assembler)
}

/// A row as SQLite hands it out.
struct Stored<'s, 'r>(&'r rusqlite::Row<'s>);

impl Row for Stored<'_, '_> {
    fn text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        match self.0.get_ref(i).map_err(from_sqlite)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("column {i} is not UTF-8: {e}"))),
            other => Err(StoreError::Corrupt(format!("column {i} holds {:?}, not text", other.data_type()))),
        }
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.0.get(i).map_err(from_sqlite)
    }
}

fn from_sqlite(error: rusqlite::Error) -> StoreError {
    StoreError::Database(error.to_string())
}
