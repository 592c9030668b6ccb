//! What the router needs from the server: a tenant's current state, a way to commit
//! [`Change`]s to it, the credential stores (API keys, OAuth client secrets) and the audit
//! trail (its events and settings), which live outside the tenant model. The server implements
//! [`ApiHost`] over its store and snapshot registry; tests implement it in memory.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use portcullis_audit::{AuditQuery, AuditSettings, EventBody};
use portcullis_engine::Snapshot;
use portcullis_model::tenant_ops::OpError;
use portcullis_model::{Change, Tenant};

use crate::caller::Caller;
use crate::mutation::AuditNote;

/// A borrowed tenant: the host's live model (e.g. a read guard), held while a handler runs.
pub type TenantRef = Box<dyn Deref<Target = Tenant> + Send + Sync>;

/// A tenant as of one revision: the model and the engine's snapshot of it. The router drops it
/// before it commits (a host may hold a read lock on its model through `tenant`).
pub struct TenantState {
    /// The tenant.
    pub tenant: TenantRef,
    /// Its snapshot (built from `tenant` at `revision`).
    pub snapshot: Arc<Snapshot>,
    /// The API ids of its users and groups, at the same revision.
    pub ids: crate::ids::ApiIds,
    /// The revision both were read at.
    pub revision: u64,
}

impl fmt::Debug for TenantState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantState")
            .field("tenant", &self.tenant.name)
            .field("revision", &self.revision)
            .finish()
    }
}

/// A write to commit: changes to apply, all or none, in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The revision the handler read; the host refuses with [`HostError::Stale`] when the
    /// tenant has moved on since (the router then reads again and retries).
    pub base_revision: u64,
    /// The changes, in order (`Tenant::apply_all`).
    pub changes: &'a [Change],
    /// The audit trail's account of them (one note per request, usually).
    pub notes: &'a [AuditNote],
    /// Who made the change.
    pub actor: &'a Caller,
}

/// An API key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The user (subject) the key acts as.
    pub user_id: String,
    /// Free text.
    pub description: String,
    /// Unix seconds after which the key is refused; `None` = never.
    pub expires_at: Option<i64>,
}

/// A stored API key, without its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// Key id.
    pub id: String,
    /// The user (subject) the key acts as.
    pub user_id: String,
    /// Free text.
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which it is refused.
    pub expires_at: Option<i64>,
    /// Unix seconds of revocation.
    pub revoked_at: Option<i64>,
    /// Unix seconds of the last change of its description.
    pub updated_at: Option<i64>,
}

/// A tenant's API-key settings: whether keys may be created, the longest lifetime of a new
/// key, how many active keys one user may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeySettings {
    /// Whether keys may be created.
    pub enabled: bool,
    /// Seconds.
    pub max_expiry_seconds: i64,
    /// Active (neither revoked nor expired) keys per user.
    pub max_keys_per_user: u32,
}

/// A created key and its token, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedApiKey {
    /// The stored key.
    pub key: ApiKeyInfo,
    /// The bearer token.
    pub token: String,
}

/// One of an OAuth client's secrets, as Qlik lists it: by its hint, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecretInfo {
    /// The secret's last characters; unique within the client, what it is revoked by.
    pub hint: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The user (model key) who created it, whom its `client_credentials` tokens act as.
    pub created_by: String,
}

/// A created client secret and the secret itself, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedClientSecret {
    /// The stored secret's hint and origin.
    pub info: ClientSecretInfo,
    /// The secret.
    pub secret: String,
}

/// The most secrets one OAuth client holds at a time, as in Qlik.
pub const MAX_CLIENT_SECRETS: usize = 5;

/// One event of a tenant's audit trail, as the host read it and checked it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Its sequence number in the tenant's chain.
    pub seq: u64,
    /// Its hash in the chain.
    pub hash: String,
    /// What it records.
    pub body: EventBody,
}

/// A host failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The tenant changed after it was read.
    #[error("tenant changed since revision {base_revision}")]
    Stale {
        /// The revision the change was based on.
        base_revision: u64,
    },
    /// The tenant (or key) does not exist.
    #[error("`{0}` does not exist")]
    NotFound(String),
    /// The store refused the change; the message is safe to show.
    #[error("{0}")]
    Refused(String),
    /// The model refused change number `index` of the commit; nothing was written.
    #[error("change {index} refused: {error}")]
    Rejected {
        /// Position of the refused change in [`Commit::changes`].
        index: usize,
        /// The model's reason.
        error: OpError,
    },
    /// What the store holds fails its integrity check (an audit event altered, say); the
    /// message is safe to show and says what to run. Answered 500.
    #[error("{0}")]
    Damaged(String),
    /// It would go over a limit of what one resource holds (a sixth secret of an OAuth
    /// client, say); the message is safe to show and says what to do. Answered 409.
    #[error("{0}")]
    Full(String),
    /// The tenant's settings do not allow it (a key over the API-key settings, say); the
    /// message is safe to show and names the setting. Answered 403.
    #[error("{0}")]
    Denied(String),
    /// Storage is unavailable; the message is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// The server side of the API.
pub trait ApiHost: Clone + Send + Sync + 'static {
    /// The tenant's current state.
    fn tenant_state(&self, tenant: &str) -> impl Future<Output = Result<TenantState, HostError>> + Send;

    /// Applies the commit's changes to the tenant at `base_revision` (all or none) and stores
    /// what they touched in one transaction, with the notes' events; returns the new revision
    /// ([`HostError::Rejected`] when the model refuses one). The next [`ApiHost::tenant_state`] (and every decision) sees the change.
    fn commit(&self, tenant: &str, commit: Commit<'_>) -> impl Future<Output = Result<u64, HostError>> + Send;

    /// Creates an API key in the caller's tenant, within the tenant's [`ApiKeySettings`]
    /// (checked as it is stored: [`HostError::Denied`] naming the setting); the caller (who
    /// may be an admin creating a key for someone else) is the event's actor.
    fn create_api_key(&self, caller: &Caller, key: NewApiKey) -> impl Future<Output = Result<CreatedApiKey, HostError>> + Send;

    /// The tenant's API-key settings.
    fn api_key_settings(&self, tenant: &str) -> impl Future<Output = Result<ApiKeySettings, HostError>> + Send;

    /// Replaces the caller's tenant's API-key settings (the caller is the event's actor).
    fn set_api_key_settings(&self, caller: &Caller, settings: &ApiKeySettings) -> impl Future<Output = Result<(), HostError>> + Send;

    /// Changes a key's description (the caller is the event's actor).
    fn update_api_key(&self, caller: &Caller, key_id: &str, description: &str) -> impl Future<Output = Result<(), HostError>> + Send;

    /// Deletes a key: its owner's way of retiring it (the caller is the event's actor).
    fn delete_api_key(&self, caller: &Caller, key_id: &str) -> impl Future<Output = Result<(), HostError>> + Send;

    /// The tenant's API keys, or one user's.
    fn api_keys(&self, tenant: &str, user_id: Option<&str>) -> impl Future<Output = Result<Vec<ApiKeyInfo>, HostError>> + Send;

    /// Revokes a key of the caller's tenant; the caller is the event's actor.
    fn revoke_api_key(&self, caller: &Caller, key_id: &str) -> impl Future<Output = Result<(), HostError>> + Send;

    /// Creates a secret for an OAuth client of the tenant; returns it in clear (shown once)
    /// with its hint. `client_credentials` tokens of that secret act as `bot_user` (the
    /// creator). A client holding [`MAX_CLIENT_SECRETS`] already: [`HostError::Full`].
    fn create_client_secret(
        &self,
        tenant: &str,
        client_id: &str,
        bot_user: &str,
    ) -> impl Future<Output = Result<CreatedClientSecret, HostError>> + Send;

    /// An OAuth client's secrets, by hint, oldest first.
    fn client_secrets(&self, tenant: &str, client_id: &str) -> impl Future<Output = Result<Vec<ClientSecretInfo>, HostError>> + Send;

    /// Revokes the client's secret with this hint (the caller is the event's actor); the token
    /// endpoint refuses it from then on. [`HostError::NotFound`] when the client holds none.
    fn delete_client_secret(&self, caller: &Caller, client_id: &str, hint: &str) -> impl Future<Output = Result<(), HostError>> + Send;

    /// The tenant's audit events that `query` selects, in its order, each checked: an event
    /// that fails its check is left out (the host logs and counts it), and a trail too damaged
    /// to page around is [`HostError::Damaged`].
    fn audit_events(&self, tenant: &str, query: &AuditQuery) -> impl Future<Output = Result<Vec<AuditRecord>, HostError>> + Send;

    /// One audit event by sequence number (`None`: no such event); one that fails its check
    /// is [`HostError::Damaged`], never served as if intact.
    fn audit_event(&self, tenant: &str, seq: u64) -> impl Future<Output = Result<Option<AuditRecord>, HostError>> + Send;

    /// The tenant's audit settings (decision-log mode and sampling, retention).
    fn audit_settings(&self, tenant: &str) -> impl Future<Output = Result<AuditSettings, HostError>> + Send;

    /// Replaces the tenant's audit settings (stored with their audit event, by `actor`); the
    /// next decision logs by them.
    fn set_audit_settings(&self, tenant: &str, settings: &AuditSettings, actor: &Caller) -> impl Future<Output = Result<(), HostError>> + Send;
}
