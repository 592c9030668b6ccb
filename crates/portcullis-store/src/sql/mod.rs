//! The SQL both backends share, written once as generic functions over sqlx's [`Database`].
//! Every statement here is portable between SQLite and PostgreSQL: `$N` placeholders (sqlx's
//! SQLite driver maps them by number), `ON CONFLICT` upserts, `RETURNING`, the tenant's lock
//! taken by an `UPDATE` of its row, integer columns read as `i64`, text as `String`, hashes as
//! bytes. What differs — DDL, connection set-up, read isolation, the migration lock — is the
//! backend's [`Dialect`] (in `sqlite/` and `postgres/`).
//!
//! The functions are associated functions of [`Sql`], one `impl` block per part (tenant and
//! its writes, the rows of the model, credentials, the audit trail, rule sites, migrations), each under
//! the same `where` clause: sqlx states per driver which Rust types it binds and reads and
//! that its connections execute queries, and Rust does not carry such bounds from a trait to
//! its users, so each block says them once. The codecs (model values ↔ stored words) are
//! plain functions below.

mod audit;
mod credentials;
mod migrate;
mod rows;

pub(crate) use rows::WithMeta;
mod rule_sites;
mod tenant;

use std::marker::PhantomData;

use sqlx::query::Query;
use sqlx::{Database, QueryBuilder, Transaction};

use portcullis_model::TenantSetting;
use portcullis_model::tenant::{Assignee, DirectOrigin, RoleSetting};

use crate::err::StoreError;

/// What differs between the backends around the shared SQL.
pub(crate) trait Dialect: Database {
    /// The statement that makes a transaction one consistent read (`None`: every read
    /// transaction already is one).
    const BEGIN_READ: Option<&'static str>;
    /// The statement that makes nodes starting together migrate one at a time (`None`: the
    /// migration's transaction already excludes other writers).
    const MIGRATION_LOCK: Option<&'static str>;
    /// The backend's schema migrations (its own DDL), in order.
    const MIGRATIONS: &'static [Migration];

    /// The statement `builder` built, its arguments living as long as the borrow. This is
    /// `builder.build()`, written per backend because only a concrete backend's argument type
    /// is known to Rust to outlive the builder safely (it is covariant in its lifetime):
    /// generic code calling `build()` cannot drop its builder afterwards.
    fn built<'b>(builder: &'b mut QueryBuilder<'_, Self>) -> Query<'b, Self, Self::Arguments<'b>>;

    /// The rows a statement wrote (an inherent method of each backend's result type).
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// The shared store functions for the backend `DB` (`Sql::<Sqlite>::tenants(&pool)`, or
/// `Sql::tenants(&pool)` with `DB` inferred from the pool).
pub(crate) struct Sql<DB>(PhantomData<DB>);

/// An open write (or read) transaction.
type Tx<DB> = Transaction<'static, DB>;

/// The key that seals the events a write appends (`None`: plain SHA-256).
type Sealer<'a> = Option<&'a portcullis_audit::AuditKey>;

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

/// A space's or item's owner column: the user id, or the empty text for one without an owner
/// (its owner was deleted; no user id is empty), so the column keeps its `NOT NULL`.
pub(crate) fn owner_word(owner: Option<&str>) -> &str {
    owner.unwrap_or("")
}

/// Reads [`owner_word`].
pub(crate) fn parse_owner(word: &str) -> Option<String> {
    (!word.is_empty()).then(|| word.to_owned())
}

pub(crate) fn role_setting_word(setting: RoleSetting) -> std::borrow::Cow<'static, str> {
    setting.word()
}

pub(crate) fn parse_role_setting(word: &str) -> Result<RoleSetting, StoreError> {
    RoleSetting::parse_word(word).ok_or_else(|| StoreError::Corrupt(format!("unknown permission value `{word}`")))
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
