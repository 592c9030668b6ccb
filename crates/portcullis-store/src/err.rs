//! The store's one error type. Driver errors (SQLite and PostgreSQL codes alike) are mapped
//! here, in one place, to neutral kinds the server can turn into HTTP statuses; no SQL text
//! or driver detail is meant to reach a client.

use portcullis_model::ModelError;
use portcullis_model::tenant_ops::OpError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The tenant, key or row asked for does not exist.
    #[error("{0} was not found")]
    NotFound(String),
    /// A write collided with existing data (a unique key, a concurrent writer).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A conditional write found another version than the one it was made for (`If-Match`);
    /// nothing was written.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// A write would go over one of the store's limits (named in the message); nothing was
    /// written.
    #[error("limit reached: {0}")]
    LimitReached(String),
    /// The change is refused by the model's rules; nothing was written.
    #[error(transparent)]
    Rejected(#[from] OpError),
    /// The database cannot be reached or is not answering.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database URL cannot be used.
    #[error("cannot use the database URL `{url}`: {reason}")]
    BadUrl {
        /// The URL as given (without any password).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the database: {0}")]
    Migration(String),
    /// A stored value that the model does not accept (a database edited by hand, or a newer version).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// A stored audit event fails its check (altered, an edited column, sealed with a key
    /// not held): it is not handed out as if it were intact.
    #[error("audit event failed its integrity check: {0}; run `portcullis audit verify`")]
    Integrity(portcullis_audit::ChainBreak),
    /// The operation needs the audit key, which this store was not opened with.
    #[error("the audit key is needed: {0}")]
    KeyNeeded(String),
    /// Any other database failure.
    #[error("the database failed: {0}")]
    Database(String),
}

impl StoreError {
    /// A short, stable name of the kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::NotFound(_) => "not-found",
            StoreError::Conflict(_) => "conflict",
            StoreError::PreconditionFailed(_) => "precondition-failed",
            StoreError::LimitReached(_) => "limit-reached",
            StoreError::Rejected(_) => "rejected",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::BadUrl { .. } => "bad-url",
            StoreError::Migration(_) => "migration",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Integrity(_) => "integrity",
            StoreError::KeyNeeded(_) => "key-needed",
            StoreError::Database(_) => "database",
        }
    }
}

impl From<ModelError> for StoreError {
    fn from(error: ModelError) -> StoreError {
        StoreError::Rejected(OpError::Model(error))
    }
}

/// Maps a driver error to a neutral kind. The one place that knows driver error codes.
pub(crate) fn from_sqlx(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::RowNotFound => StoreError::NotFound("the row".to_owned()),
        sqlx::Error::Database(db) => match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => StoreError::Conflict(db.message().to_owned()),
            sqlx::error::ErrorKind::ForeignKeyViolation => StoreError::Conflict(db.message().to_owned()),
            _ => {
                // SQLITE_BUSY (5) / SQLITE_LOCKED (6); PostgreSQL serialization and deadlock failures.
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if matches!(code.as_str(), "5" | "6" | "40001" | "40P01") {
                    StoreError::Conflict(db.message().to_owned())
                } else if code.starts_with("08") || code.starts_with("57P") {
                    StoreError::Unavailable(db.message().to_owned())
                } else {
                    StoreError::Database(db.message().to_owned())
                }
            }
        },
        sqlx::Error::Io(io) => StoreError::Unavailable(io.to_string()),
        sqlx::Error::PoolTimedOut => StoreError::Unavailable("no database connection became free in time".to_owned()),
        sqlx::Error::PoolClosed => StoreError::Unavailable("the connection pool is closed".to_owned()),
        sqlx::Error::Configuration(reason) => StoreError::Unavailable(reason.to_string()),
        other => StoreError::Database(other.to_string()),
    }
}
