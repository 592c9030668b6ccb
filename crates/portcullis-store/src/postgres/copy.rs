//! Reading a tenant from PostgreSQL with `COPY … TO STDOUT (FORMAT binary)` instead of rows.
//!
//! A start reads about three million rows at 100k users. Fetched as sqlx rows, each one is a
//! message decoded into a row object with shared column metadata and then type-checked column
//! by column; that client-side work was the larger part of a PostgreSQL start. The binary copy
//! stream carries the same values as length-prefixed fields, read here straight from the bytes.
//! sqlx hands out the stream but has no reader for its tuples, so this small one (the format is
//! documented with `COPY`: a signature, then per tuple a field count and per field a length
//! and the value) is written by hand.
//!
//! The three parts and the one-revision check are the shared [`in_parts`]; the assembler is the
//! same as every other backend's.

use futures_util::TryStreamExt;
use sqlx::PgPool;

use crate::TenantId;
use crate::err::{StoreError, from_sqlx};
use crate::load::{Assembler, HEAD, Row, Table, in_parts, stopped};

/// `PGCOPY\n\377\r\n\0`: the first bytes of a binary copy.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// The tenant as of one revision, and the revision.
pub(crate) async fn load_tenant(pool: &PgPool, tenant: TenantId) -> Result<(portcullis_model::Tenant, u64), StoreError> {
    in_parts(tenant, |tables| {
        let pool = pool.clone();
        async move { tokio::spawn(read(pool, tenant, tables)).await.map_err(stopped)? }
    })
    .await
}

/// Reads `tables` of the tenant in one `REPEATABLE READ` transaction.
async fn read(pool: PgPool, tenant: TenantId, tables: &'static [Table]) -> Result<Assembler, StoreError> {
    let mut tx = pool.begin().await.map_err(from_sqlx)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
    let mut assembler = None;
    copy(&mut tx, &bound(HEAD, tenant), |row| {
        assembler = Some(Assembler::new(row)?);
        Ok(())
    })
    .await?;
    let mut assembler = assembler.ok_or_else(|| StoreError::NotFound(format!("tenant {tenant}")))?;
    for &table in tables {
        if let Some(count) = table.count_query() {
            let rows: i64 = sqlx::query_scalar(count).bind(tenant.0).fetch_one(&mut *tx).await.map_err(from_sqlx)?;
            assembler.reserve(table, rows);
        }
        copy(&mut tx, &bound(table.query(), tenant), |row| assembler.add(table, row)).await?;
    }
    tx.commit().await.map_err(from_sqlx)?;
    Ok(assembler)
}

/// The query with the tenant id in place of `$1` (`COPY` takes no parameters; the id is a number).
fn bound(query: &str, tenant: TenantId) -> String {
    format!("COPY ({}) TO STDOUT (FORMAT binary)", query.replace("$1", &tenant.0.to_string()))
}

/// Runs one binary `COPY` and hands each tuple to `each`, in order.
async fn copy(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    statement: &str,
    mut each: impl FnMut(&Tuple<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stream = tx.copy_out_raw(statement).await.map_err(from_sqlx)?;
    // PostgreSQL sends a tuple per message, but a tuple split across chunks is kept for the next.
    let mut pending: Vec<u8> = Vec::new();
    let mut started = false;
    let mut ended = false;
    let mut fields = Vec::new();
    // A refused row stops the reading but not the stream: the connection goes back to the pool,
    // and must not be left in the middle of a copy.
    let mut refused = None;
    while let Some(chunk) = stream.try_next().await.map_err(from_sqlx)? {
        if ended || refused.is_some() {
            continue;
        }
        pending.extend_from_slice(&chunk);
        let mut at = 0;
        if !started {
            match header_end(&pending)? {
                Some(after) => (at, started) = (after, true),
                None => continue,
            }
        }
        while let Some((tuple_end, end_of_data)) = tuple(&pending, at, &mut fields)? {
            at = tuple_end;
            if end_of_data {
                ended = true;
                break;
            }
            if let Err(error) = each(&Tuple {
                bytes: &pending,
                fields: &fields,
            }) {
                refused = Some(error);
                break;
            }
        }
        pending.drain(..at);
    }
    if let Some(error) = refused {
        return Err(error);
    }
    if !ended {
        return Err(corrupt("the copy stream ended before its end-of-data marker"));
    }
    Ok(())
}

/// Where the tuples start, once the whole header is in `bytes`.
fn header_end(bytes: &[u8]) -> Result<Option<usize>, StoreError> {
    let fixed = SIGNATURE.len() + 8;
    if bytes.len() < fixed {
        return Ok(None);
    }
    if &bytes[..SIGNATURE.len()] != SIGNATURE {
        return Err(corrupt("the copy stream does not start with the binary signature"));
    }
    let extension = u32::from_be_bytes(bytes[SIGNATURE.len() + 4..fixed].try_into().unwrap_or_default()) as usize;
    Ok((bytes.len() >= fixed + extension).then_some(fixed + extension))
}

/// Reads the tuple at `at` into `fields` (byte ranges; `None` for NULL): its end, and whether
/// it is the end-of-data marker. `None` when the tuple is not complete in `bytes`.
fn tuple(bytes: &[u8], at: usize, fields: &mut Vec<Option<(usize, usize)>>) -> Result<Option<(usize, bool)>, StoreError> {
    let Some(count) = bytes.get(at..at + 2) else { return Ok(None) };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(Some((at + 2, true)));
    }
    let count = usize::try_from(count).map_err(|_| corrupt("a tuple with a negative field count"))?;
    fields.clear();
    let mut at = at + 2;
    for _ in 0..count {
        let Some(length) = bytes.get(at..at + 4) else { return Ok(None) };
        let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        at += 4;
        if length < 0 {
            fields.push(None);
            continue;
        }
        let end = at + length as usize;
        if bytes.len() < end {
            return Ok(None);
        }
        fields.push(Some((at, end)));
        at = end;
    }
    Ok(Some((at, false)))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Database(format!("reading the tenant: {what}"))
}

/// One tuple of a binary copy: its fields as ranges of the chunk.
struct Tuple<'a> {
    bytes: &'a [u8],
    fields: &'a [Option<(usize, usize)>],
}

impl Tuple<'_> {
    fn field(&self, i: usize) -> Result<Option<&[u8]>, StoreError> {
        match self.fields.get(i) {
            Some(Some((start, end))) => Ok(Some(&self.bytes[*start..*end])),
            Some(None) => Ok(None),
            None => Err(corrupt(&format!("a tuple has no column {i}"))),
        }
    }
}

impl Row for Tuple<'_> {
    /// `text` columns are their UTF-8 bytes in the binary format.
    fn text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        self.field(i)?
            .map(|value| std::str::from_utf8(value).map_err(|_| corrupt(&format!("column {i} is not UTF-8"))))
            .transpose()
    }

    /// Integer columns are big-endian: eight bytes for `bigint`, four for `integer`.
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        let value = self.field(i)?.ok_or_else(|| corrupt(&format!("column {i} is NULL")))?;
        match value.len() {
            8 => Ok(i64::from_be_bytes(value.try_into().unwrap_or_default())),
            4 => Ok(i32::from_be_bytes(value.try_into().unwrap_or_default()).into()),
            _ => Err(corrupt(&format!("column {i} is not an integer"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary copy of two tuples, `('ann', NULL)` and `('bob', 7)`, and the end marker.
    fn stream() -> Vec<u8> {
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend_from_slice(&0u32.to_be_bytes());
        bytes.extend_from_slice(&2u32.to_be_bytes());
        bytes.extend_from_slice(b"xx");
        let tuple = |bytes: &mut Vec<u8>, name: &[u8], n: Option<i64>| {
            bytes.extend_from_slice(&2i16.to_be_bytes());
            bytes.extend_from_slice(&(name.len() as i32).to_be_bytes());
            bytes.extend_from_slice(name);
            match n {
                Some(n) => {
                    bytes.extend_from_slice(&8i32.to_be_bytes());
                    bytes.extend_from_slice(&n.to_be_bytes());
                }
                None => bytes.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        };
        tuple(&mut bytes, b"ann", None);
        tuple(&mut bytes, b"bob", Some(7));
        bytes.extend_from_slice(&(-1i16).to_be_bytes());
        bytes
    }

    #[test]
    fn tuples_are_read_field_by_field_and_a_cut_one_waits_for_more() {
        let bytes = stream();
        assert_eq!(header_end(&bytes[..10]).unwrap(), None, "a cut header waits");
        let start = header_end(&bytes).unwrap().unwrap();
        assert_eq!(start, SIGNATURE.len() + 8 + 2);
        let mut fields = Vec::new();
        let (first_end, last) = tuple(&bytes, start, &mut fields).unwrap().unwrap();
        assert!(!last);
        let first = Tuple {
            bytes: &bytes,
            fields: &fields,
        };
        assert_eq!((first.text(0).unwrap(), first.text(1).unwrap()), (Some("ann"), None));
        assert!(first.int(1).is_err(), "NULL is no integer");
        let (second_end, _) = tuple(&bytes, first_end, &mut fields).unwrap().unwrap();
        let second = Tuple {
            bytes: &bytes,
            fields: &fields,
        };
        assert_eq!((second.text(0).unwrap(), second.int(1).unwrap()), (Some("bob"), 7));
        assert_eq!(tuple(&bytes, second_end, &mut fields).unwrap(), Some((second_end + 2, true)));
        for cut in first_end + 1..second_end {
            assert_eq!(tuple(&bytes[..cut], first_end, &mut fields).unwrap(), None, "cut at {cut}");
        }
        assert!(header_end(b"NOTCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0").is_err());
    }
}
