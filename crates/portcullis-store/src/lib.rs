//! Tenant storage: one [`Store`] trait, two backends — embedded SQLite (the default, one file,
//! WAL) and PostgreSQL (several server nodes on one database) — each with its own migrations.
//!
//! Every write is one transaction and bumps the tenant's revision in that same transaction;
//! an import replaces a tenant atomically. The store knows SQL and nothing about HTTP or
//! decisions: the server loads a tenant with [`Store::load_tenant`] and builds the engine's
//! snapshot from it. Only this crate knows SQL.
#![warn(missing_docs)]

mod change;
mod err;
mod record;
mod sql;

pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_model::Tenant;

pub use change::Change;
pub use err::StoreError;
pub use record::*;

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Tenants, their access model, and the credentials that act in them.
///
/// INVARIANT: every method that writes runs in one transaction; a tenant's revision grows by
/// exactly one with each write to its access model (imports and [`Change`]s), in the same
/// transaction as the write. Credential writes (keys, secrets, tokens) do not move it: they
/// change no decision.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Every tenant, by name.
    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;

    /// A tenant by name.
    async fn tenant_by_name(&self, name: &str) -> Result<Option<TenantRecord>, StoreError>;

    /// A tenant's current revision.
    async fn revision(&self, tenant: TenantId) -> Result<u64, StoreError>;

    /// Stores a validated tenant under its name, atomically: a new tenant, or (with
    /// [`ImportMode::Replace`]) a whole new content for an existing one.
    async fn import_tenant(&self, tenant: &Tenant, mode: ImportMode) -> Result<Imported, StoreError>;

    /// A tenant's whole state and the revision it was read at (one consistent read).
    async fn load_tenant(&self, tenant: TenantId) -> Result<(Tenant, u64), StoreError>;

    /// Deletes a tenant and everything in it, credentials included.
    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError>;

    /// Applies one change; returns the tenant's new revision.
    async fn apply(&self, tenant: TenantId, change: &Change) -> Result<u64, StoreError>;

    /// Stores an API key.
    async fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKeyRecord, StoreError>;

    /// The API key with this hash, revoked or expired ones included.
    async fn api_key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// A tenant's API keys, optionally only one user's.
    async fn api_keys(&self, tenant: TenantId, user_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Revokes one of a tenant's API keys (not found for another tenant's key).
    async fn revoke_api_key(&self, tenant: TenantId, key_id: i64) -> Result<(), StoreError>;

    /// Stores an OAuth client secret.
    async fn create_client_secret(&self, secret: &NewClientSecret) -> Result<ClientSecretRecord, StoreError>;

    /// The client secret with this hash.
    async fn client_secret_by_hash(&self, hash: &SecretHash) -> Result<Option<ClientSecretRecord>, StoreError>;

    /// Stores an OAuth access token.
    async fn create_oauth_token(&self, token: &NewOauthToken) -> Result<(), StoreError>;

    /// The OAuth access token with this hash, expired ones included.
    async fn oauth_token_by_hash(&self, hash: &SecretHash) -> Result<Option<OauthTokenRecord>, StoreError>;
}

/// Opens (creating when needed) and migrates the store at `url`: `sqlite://PATH`,
/// `sqlite::memory:`, or `postgres://...`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::open(url).await?))
    } else {
        Err(StoreError::BadUrl {
            url: redact(url),
            reason: "the scheme is not known".to_owned(),
        })
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.split_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
