//! Tenant storage: one [`Store`] trait, two backends — embedded SQLite (the default, one file,
//! WAL) and PostgreSQL (several server nodes on one database) — each with its own migrations.
//!
//! Every write is one transaction and bumps the tenant's revision in that same transaction;
//! an import replaces a tenant atomically. The store knows SQL and nothing about HTTP or
//! decisions: the server loads a tenant with [`Store::load_tenant`] and builds the engine's
//! snapshot from it. Only this crate knows SQL.
//!
//! INVARIANT: an audit event is appended in the same transaction as the write it records, after
//! the tenant's row is locked, so a tenant's chain is extended by one writer at a time.
#![warn(missing_docs)]

/// The trail's values (`portcullis_audit::draft`), under the name the SQL modules use.
use portcullis_audit::draft as audit;
mod change;
mod err;
pub mod feed;
mod load;
mod record;
mod sql;

pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_model::Tenant;

pub use change::{Applied, Change, Touched, Undo};
pub use err::StoreError;
pub use feed::{Feed, FeedEvent, LogPage, Notice, NoticeKind};
pub use portcullis_audit::checkpoint;
pub use portcullis_audit::{
    Actor, AuditChain, AuditKey, AuditOrder, AuditQuery, ChainBreak, Checkpoint, CheckpointBreak, DecisionLogMode, DecisionLogPolicy, EventBody,
    EventType, GENESIS, KeyError, Keyring, ResourceRef, SealedEvent, verify,
};
pub use portcullis_audit::{AuditSettings, Author, EventDraft, change_event, rfc3339_millis};
pub use record::*;

/// Reports how far an import has come: `(rows written, rows to write)`. Called between the
/// import's statements, on the task that writes: it should be cheap (a progress bar's move).
pub type ImportProgress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

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
/// exactly one with each write to its access model (imports and committed [`Change`]s), in the
/// same transaction as the write. Credential writes (keys, secrets, tokens) do not move it: they
/// change no decision. Every administrative write and every token issuance appends its audit
/// event to the tenant's chain in the same transaction, so a change is never without its event.
///
/// INVARIANT: credentials die with their owner. Deleting a user (a commit, or an import that
/// replaces the tenant without it) revokes its API keys and deletes the tokens acting as it and
/// the secrets it is the bot user of; deleting a client deletes its secrets and tokens; both in
/// the deleting transaction, and a credential is only created while its user and client exist
/// (checked under the tenant's lock). So a user or client created again under the same key
/// never inherits a credential. Tenant, key and secret ids are never handed out twice.
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
    async fn import_tenant(&self, tenant: &Tenant, mode: ImportMode, author: &Author) -> Result<Imported, StoreError> {
        self.import_tenant_with_progress(tenant, mode, author, &|_, _| {}).await
    }

    /// [`Store::import_tenant`], reporting the rows written as it goes (a million-item tenant
    /// takes seconds).
    async fn import_tenant_with_progress(
        &self,
        tenant: &Tenant,
        mode: ImportMode,
        author: &Author,
        progress: ImportProgress<'_>,
    ) -> Result<Imported, StoreError>;

    /// A tenant's whole state and the revision it was read at (one consistent read).
    async fn load_tenant(&self, tenant: TenantId) -> Result<(Tenant, u64), StoreError>;

    /// Deletes a tenant and everything in it, credentials included.
    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError>;

    /// Applies one change with the model's rules to the stored tenant (reading it whole: for
    /// the CLI and tests; a server applies changes to its live tenant and calls
    /// [`Store::commit_changes`]); returns the tenant's new revision.
    async fn apply(&self, tenant: TenantId, change: &Change, author: &Author) -> Result<u64, StoreError>;

    /// Stores changes already applied to a live tenant (the one write path): in one
    /// transaction, a compare-and-swap on the revision, the rows of exactly the touched
    /// entities, a change-log row per change and the events; returns the new revision (the
    /// base revision when nothing was touched and there is no event nor session). A batch of one.
    async fn commit_changes(&self, tenant: TenantId, write: ChangeSet<'_>) -> Result<u64, StoreError> {
        let revisions = self.commit_batch(tenant, std::slice::from_ref(&write)).await?;
        Ok(revisions.last().copied().unwrap_or(write.base_revision))
    }

    /// Stores several writes applied one after another to a live tenant (group commit) in one
    /// transaction, each as [`Store::commit_changes`] would alone: write `i` is based on the
    /// revision write `i - 1` reached (the first on the stored one, compare-and-swap), gets
    /// the next revision when it stores anything, and keeps its own change-log rows and events
    /// (in order, one hash chain). The rows of everything they touched are written once, from
    /// the last write's `after`. All or nothing; returns each write's revision.
    async fn commit_batch(&self, tenant: TenantId, writes: &[ChangeSet<'_>]) -> Result<Vec<u64>, StoreError>;

    /// The changes committed after `after_revision`, in order, with their revisions.
    async fn changes_since(&self, tenant: TenantId, after_revision: u64) -> Result<Vec<(u64, Change)>, StoreError>;

    /// The change log of a tenant after `after_revision`, at most `limit` revisions, read in
    /// one transaction with the tenant's revision: what a node applies to follow another
    /// node's writes, or [`LogPage::Missing`] when only reading the tenant whole brings it to
    /// the store's revision (an import, rows no longer logged).
    async fn changes_after(&self, tenant: TenantId, after_revision: u64, limit: u64) -> Result<LogPage, StoreError>;

    /// Access history: the changes committed after `after_revision` up to `through_revision`,
    /// oldest first, each with its undo — or `None` when the log cannot take the tenant back
    /// that far (an import in between, which replaced the tenant whole, or rows logged before
    /// undos were kept or pruned since).
    async fn history(&self, tenant: TenantId, after_revision: u64, through_revision: u64) -> Result<Option<Vec<LoggedChange>>, StoreError>;

    /// Access history's retention: forgets the changes (change-log rows, with their undos) of
    /// the revisions reached before `older_than` (Unix seconds), in one transaction, keeping
    /// the last such revision as the moment history now starts at (returned; `None` when
    /// nothing is that old). The audit trail keeps its own record of each change and author,
    /// archived by its own retention.
    async fn prune_history(&self, tenant: TenantId, older_than: i64) -> Result<Option<u64>, StoreError>;

    /// The last revision a tenant reached at or before `at` (Unix seconds), if any.
    async fn revision_at(&self, tenant: TenantId, at: i64) -> Result<Option<u64>, StoreError>;

    /// For how long the database has not answered, if it is known not to (PostgreSQL: calls
    /// are then refused at once until it answers again); `None` while it answers or when the
    /// backend cannot tell.
    fn unreachable_for(&self) -> Option<std::time::Duration> {
        None
    }

    /// Subscribes to the notices of changes committed by any node on this database (the
    /// change feed), or `None` when the backend has none (SQLite: one node, which follows the
    /// log by polling if at all).
    fn subscribe(&self) -> Option<Feed> {
        None
    }

    /// A tenant's stored sessions (the rights each user's last login froze, written by the
    /// login's commit: [`ChangeSet::sessions`]): every one, or only those of `users` (what a
    /// node following the change log reads for the logins it replays).
    async fn sessions(&self, tenant: TenantId, users: Option<&[String]>) -> Result<Vec<SessionRecord>, StoreError>;

    /// Creates or replaces a tenant's security-rule site, with its audit event
    /// (`com.qlik.v1.security-rule.updated`), in one transaction that moves the tenant's
    /// rule-sites revision (not its model revision): the site's new revision. Refused with
    /// [`StoreError::PreconditionFailed`] when [`NewRuleSite::expected_revision`] is not the
    /// stored one, with [`StoreError::LimitReached`] over [`MAX_RULE_SITES`],
    /// [`MAX_RULE_SITE_BYTES`] or [`MAX_RULE_SITE_NAME_BYTES`]; nothing is written then.
    async fn put_rule_site(&self, site: &NewRuleSite<'_>, author: &Author) -> Result<RuleSiteRecord, StoreError>;

    /// Deletes a tenant's rule site (only at `expected_revision` when given), with its
    /// audit event, in one transaction; returns the rule-sites revision the deletion reached.
    async fn delete_rule_site(&self, tenant: TenantId, name: &str, expected_revision: Option<u64>, author: &Author) -> Result<u64, StoreError>;

    /// One of a tenant's rule sites, whole.
    async fn rule_site(&self, tenant: TenantId, name: &str) -> Result<Option<RuleSiteRecord>, StoreError>;

    /// A tenant's rule sites as one consistent read: every site's name and revision, and
    /// whole only those written after `after_revision` (0: all of them), so a node that holds
    /// the sites as of that revision reads only what changed since.
    async fn rule_sites_after(&self, tenant: TenantId, after_revision: u64) -> Result<RuleSitesRead, StoreError>;

    /// Appends events that record no write (decisions), in one transaction; returns their
    /// sequence numbers.
    async fn append_events(&self, tenant: TenantId, events: &[EventDraft]) -> Result<Vec<u64>, StoreError>;

    /// The audit keys this store was opened with: the first seals the events it appends and
    /// signs archive anchors; all of them check what they sealed when events are read.
    fn audit_keys(&self) -> &Keyring;

    /// A tenant's events that pass `query`, with their parsed bodies. Each is checked on its
    /// own first (its hash covers its body under the key that sealed it, its indexed columns
    /// agree with it): an event that fails is [`StoreError::Integrity`].
    async fn audit_events(&self, tenant: TenantId, query: &AuditQuery) -> Result<Vec<(SealedEvent, EventBody)>, StoreError>;

    /// Like [`Store::audit_events`], but an event that fails its check (its body does not
    /// parse, it was altered, a column was edited, it was sealed with a key not held) is left
    /// out and returned beside the others, with why (it still counts towards the limit), so
    /// one damaged row does not hide the rest from a listing. Note that an event whose
    /// indexed column was edited so that the query no longer selects it cannot be found here:
    /// `portcullis audit verify` finds it.
    async fn readable_audit_events(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
    ) -> Result<(Vec<(SealedEvent, EventBody)>, Vec<ChainBreak>), StoreError>;

    /// One event by sequence number, checked like [`Store::audit_events`].
    async fn audit_event(&self, tenant: TenantId, seq: u64) -> Result<Option<(SealedEvent, EventBody)>, StoreError>;

    /// A tenant's whole stored chain, for verification (one consistent read), with this
    /// store's keys.
    async fn audit_chain(&self, tenant: TenantId) -> Result<AuditChain, StoreError>;

    /// A tenant's anchor and its last `n` events (one consistent read): what a server checks
    /// at start, at a cost that does not grow with the chain.
    async fn audit_tail(&self, tenant: TenantId, n: u64) -> Result<AuditChain, StoreError>;

    /// Every tenant's chain head as its anchor records it: (tenant, last sequence number, its
    /// hash), in one query (a checkpoint writer polls it).
    async fn audit_heads(&self) -> Result<Vec<(TenantId, u64, String)>, StoreError>;

    /// A tenant's audit settings (the defaults when never set).
    async fn audit_settings(&self, tenant: TenantId) -> Result<AuditSettings, StoreError>;

    /// Sets a tenant's audit settings (recorded as an event).
    async fn set_audit_settings(&self, tenant: TenantId, settings: &AuditSettings, author: &Author) -> Result<(), StoreError>;

    /// The prefix of a tenant's chain older than `older_than` (RFC 3339), to archive.
    async fn expired_audit_events(&self, tenant: TenantId, older_than: &str) -> Result<Vec<SealedEvent>, StoreError>;

    /// Deletes the events up to `through_seq` (whose hash must be `through_hash`) and moves the
    /// archive anchor there, signed with the sealing key, in one transaction; returns how many
    /// were deleted. Without a key, archiving up to keyed events is [`StoreError::KeyNeeded`].
    ///
    /// INVARIANT: the caller has written the events to the archive file and flushed it to disk
    /// before calling this, so an event is never gone from both.
    async fn archive_audit_events(&self, tenant: TenantId, through_seq: u64, through_hash: &str) -> Result<u64, StoreError>;

    /// Stores an API key (the operator's: no tenant setting applies).
    async fn create_api_key(&self, key: &NewApiKey, author: &Author) -> Result<ApiKeyRecord, StoreError>;

    /// Stores an API key a user asked for, within the tenant's [`ApiKeySettings`], checked
    /// under the tenant's lock: [`StoreError::LimitReached`] (naming the setting) while keys
    /// are turned off, for a key without expiry or living longer than the maximum, or when its
    /// user holds the maximum of active keys already.
    async fn create_api_key_within_settings(&self, key: &NewApiKey, author: &Author) -> Result<ApiKeyRecord, StoreError>;

    /// A tenant's API-key settings (the defaults when never set).
    async fn api_key_settings(&self, tenant: TenantId) -> Result<ApiKeySettings, StoreError>;

    /// Sets a tenant's API-key settings, with their event (`com.qlik.api-keys-config.updated`).
    async fn set_api_key_settings(&self, tenant: TenantId, settings: &ApiKeySettings, author: &Author) -> Result<(), StoreError>;

    /// Changes the description of one of a tenant's API keys, with its event (not found for
    /// another tenant's key).
    async fn update_api_key(&self, tenant: TenantId, key_id: i64, description: &str, author: &Author) -> Result<(), StoreError>;

    /// Deletes one of a tenant's API keys (its owner's way of retiring it; an administrator
    /// revokes instead), with its event; the key is refused from then on, like a revoked one.
    async fn delete_api_key(&self, tenant: TenantId, key_id: i64, author: &Author) -> Result<(), StoreError>;

    /// The API key with this hash, revoked or expired ones included.
    async fn api_key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// A tenant's API keys, optionally only one user's.
    async fn api_keys(&self, tenant: TenantId, user_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Revokes one of a tenant's API keys (not found for another tenant's key).
    async fn revoke_api_key(&self, tenant: TenantId, key_id: i64, author: &Author) -> Result<(), StoreError>;

    /// Stores an OAuth client secret: `LimitReached` when the client holds
    /// [`MAX_SECRETS_PER_CLIENT`] already, `Conflict` when one of them has the same hint.
    async fn create_client_secret(&self, secret: &NewClientSecret, author: &Author) -> Result<ClientSecretRecord, StoreError>;

    /// The client secret with this hash.
    async fn client_secret_by_hash(&self, hash: &SecretHash) -> Result<Option<ClientSecretRecord>, StoreError>;

    /// One OAuth client's secrets (without the secrets: their hints), oldest first.
    async fn client_secrets(&self, tenant: TenantId, client_id: &str) -> Result<Vec<ClientSecretRecord>, StoreError>;

    /// Deletes the client's secret with this hint, with its event (`NotFound` when the client
    /// holds none); the token endpoint refuses it from then on.
    async fn delete_client_secret(&self, tenant: TenantId, client_id: &str, hint: &str, author: &Author) -> Result<(), StoreError>;

    /// Stores an OAuth access token and its issuance event, if its client, secret and user
    /// still exist (`NotFound` otherwise) and, for an impersonation token, the client may
    /// impersonate (`Rejected` otherwise), as of the transaction.
    async fn create_oauth_token(&self, token: &NewOauthToken, author: &Author) -> Result<(), StoreError>;

    /// The OAuth access token with this hash, expired ones included.
    async fn oauth_token_by_hash(&self, hash: &SecretHash) -> Result<Option<OauthTokenRecord>, StoreError>;
}

/// Opens (creating when needed) and migrates the store at `url`: `sqlite://PATH`,
/// `sqlite::memory:`, or `postgres://...`; without audit keys (events sealed with plain SHA-256).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with_keys(url, Keyring::none()).await
}

/// Like [`open`], with the audit keys that seal and check events ([`Store::audit_keys`]).
pub async fn open_with_keys(url: &str, keys: Keyring) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?.with_audit_keys(keys)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::open(url).await?.with_audit_keys(keys)))
    } else {
        Err(StoreError::BadUrl {
            url: redact(url),
            reason: "the scheme is not known".to_owned(),
        })
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Takes `tenant` back over `logged` (what [`Store::history`] returned from the tenant's
/// revision down to an earlier one): each change's undo, newest first.
pub fn rewind(tenant: &mut Tenant, logged: &[LoggedChange]) {
    for one in logged.iter().rev() {
        tenant.undo(one.undo.clone());
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Now as RFC 3339 in UTC with milliseconds (`2026-11-23T10:00:00.123Z`), which orders as text.
pub fn rfc3339_now() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    portcullis_audit::rfc3339_millis(millis)
}
