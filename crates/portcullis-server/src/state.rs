//! The server's shared state: the store, and per tenant the live model (the `Tenant` every
//! write of this node is applied to) and an immutable [`View`] (the engine's snapshot plus the
//! tenant's interactive sessions) that decisions read without locking anything.
//!
//! A write is the one write path: `Tenant::apply` on the live model (the model's rules), then
//! the store (the touched rows, the change log and the events, with a compare-and-swap on the
//! revision), then the next view derived with `Snapshot::apply` at the cost of what was
//! touched; a refused or failed write is undone on the live model, so it always equals the
//! store at its revision.
//!
//! Group commit: a tenant's writes queue while a transaction is in flight, and its committer
//! (one task per tenant while there is work) takes them all as the next batch — each applied
//! in order (a refused one undone on its own), one store transaction for all of them (each with
//! its own revision, change-log rows and events), one snapshot derivation. A writer is answered
//! only after the transaction committed. If it fails, the batch is undone and its writes are
//! committed one by one, so one bad write cannot fail its neighbours.
//!
//! Sessions: a login freezes the user's rights from the snapshot at its own revision (within a
//! batch, derived as the batch is staged: [`Freezer`]) and stores them (the engine's
//! `FrozenRights` as JSON) in its transaction; other nodes replaying the login read them back
//! from the store, and a node loading a tenant opens every stored session. A deleted user's
//! session goes with the user.
//!
//! Other nodes' writes are followed from the change log (`follow.rs`: the change feed, the
//! poll, `minRevision`), through the same `next_view`.
//!
//! INVARIANT: a decision reads one `Arc<View>` from start to end; views are never mutated,
//! only replaced, and a replacement never goes back in revision.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use portcullis_engine::{FrozenRights, GroupBinding, SessionTimeouts, Sessions, Snapshot, TenantRights};
use portcullis_model::{Channel, Tenant};
use portcullis_qlik_api::ApiIds;
use portcullis_qlik_api::ratelimit::{Limit, QUOTA_WINDOW, RateLimitConfig};
use portcullis_store::{
    Applied, Author, Change, ChangeSet, DecisionLogPolicy, EventDraft, ImportMode, Imported, SecretHash, Store, StoreError, TenantId, Touched,
};

mod follow;
mod history;

pub use follow::MIN_REVISION_WAIT;
pub use history::{AsOf, Between, MOMENTS_KEPT, Moment};

use crate::decision_log::DecisionLog;
use crate::err::ApiError;
use crate::metrics::Metrics;

/// What a tenant's decisions read: one snapshot and the sessions bound to it.
#[derive(Debug)]
pub struct View {
    /// The engine's snapshot.
    pub snapshot: Arc<Snapshot>,
    /// The tenant's sessions (`POST /v1/sessions` on any node), re-bound to `snapshot`.
    pub sessions: Sessions,
    /// The management API's ids of the users and groups of `snapshot`.
    pub api_ids: ApiIds,
}

/// One tenant on this node.
#[derive(Debug)]
pub struct TenantState {
    /// The store's key.
    pub id: TenantId,
    /// The tenant's name.
    pub name: String,
    view: RwLock<Arc<View>>,
    /// The revision of `view`, for readers waiting for one (`minRevision`).
    revision: tokio::sync::watch::Sender<u64>,
    /// The live model and its revision; the committer holds it from `apply` to the new view,
    /// so this node's writes to the tenant are serialized.
    live: Arc<tokio::sync::RwLock<Live>>,
    /// Writes waiting for the committer.
    queue: std::sync::Mutex<Queue>,
    /// Which decisions this tenant logs (read from the store at load, updated by this node's writes).
    audit_policy: RwLock<DecisionLogPolicy>,
    /// The tenant's security-rule sites, compiled (read from the store at load, following it
    /// after); they go with the tenant.
    pub rule_sites: crate::rules_api::RuleSites,
    /// From this sequence number on, every event read must be keyed (`None`: this node holds
    /// no audit key). Learnt when the tenant was loaded: its first keyed event in the checked
    /// tail, else its head then, after which this node seals everything it appends.
    pub audit_keyed_from: Option<u64>,
}

/// A tenant's writes waiting to be committed, and whether its committer is running.
#[derive(Debug, Default)]
struct Queue {
    pending: Vec<Pending>,
    committing: bool,
}

/// A queued write and where its answer goes.
#[derive(Debug)]
struct Pending {
    request: Request,
    reply: tokio::sync::oneshot::Sender<Result<Written, WriteFailure>>,
}

/// One write as the committer takes it: owned, since it waits in the queue.
#[derive(Debug)]
struct Request {
    changes: Vec<Change>,
    author: Author,
    /// [`WriteOptions::base_revision`].
    base_revision: Option<u64>,
    /// [`WriteOptions::events`].
    events: Option<Vec<EventDraft>>,
    /// A login: the user whose session opens once the write is committed.
    login: Option<String>,
}

/// A write applied to the live model, waiting for its transaction.
struct Staged {
    applied: Vec<Applied>,
    touched: Touched,
    events: Vec<EventDraft>,
    /// Its revision once committed (the one before it when it stores nothing).
    revision: u64,
    /// A login's session: the rights frozen at the write's revision.
    login: Option<Login>,
    /// The same as the store keeps it (none, or one).
    sessions: Vec<portcullis_store::NewSession>,
}

impl Staged {
    /// Whether the write stores anything (a login always does: its session and log row).
    fn stores_anything(&self) -> bool {
        !self.touched.is_empty() || !self.sessions.is_empty()
    }
}

/// A session to open in the next view.
#[derive(Debug, Clone)]
enum Login {
    /// Frozen on this node: the user, the rights, the login's revision, and the group
    /// numbering the rights were resolved against.
    Frozen(Arc<str>, TenantRights, u64, GroupBinding),
    /// Frozen by another node's login, read from the store.
    Stored(portcullis_store::SessionRecord),
}

/// The snapshots the logins of a batch freeze their rights from: derived from the view at the
/// batch's base as the batch is staged, at each login's revision (a login sees the writes
/// before it in the batch and none after), only when the batch holds a login. The last one is
/// carried on to the batch's view.
#[derive(Default)]
struct Freezer {
    /// The snapshot at the last login staged (`None`: no login yet; the view is the base).
    snapshot: Option<Snapshot>,
    /// What the writes staged since touched.
    pending: Touched,
}

impl Freezer {
    /// Freezes `user`'s rights at `revision`, `model` being the live model at that revision.
    fn freeze(
        &mut self,
        tenant: &TenantState,
        model: &Tenant,
        base_revision: u64,
        revision: u64,
        user: &str,
    ) -> Option<(Login, portcullis_store::NewSession)> {
        let pending = std::mem::take(&mut self.pending);
        let snapshot = match self.snapshot.take() {
            Some(previous) => previous.apply(model, &pending, revision),
            None => {
                let view = tenant.view();
                if view.snapshot.revision == base_revision {
                    view.snapshot.apply(model, &pending, revision)
                } else {
                    Snapshot::build(model, revision)
                }
            }
        };
        let frozen = snapshot.user_idx(user).map(|idx| snapshot.user(idx).clone());
        let binding = snapshot.group_binding();
        self.snapshot = Some(snapshot);
        let info = frozen?;
        let stored = portcullis_store::NewSession {
            user_id: user.to_owned(),
            rights: serde_json::to_string(&info.rights.freeze()).ok()?,
        };
        Some((Login::Frozen(info.id, info.rights, revision, binding), stored))
    }

    /// The snapshot at `revision` of `model`, derived from the last login's, if there was one.
    fn finish(self, model: &Tenant, revision: u64) -> Option<Snapshot> {
        self.snapshot.map(|snapshot| snapshot.apply(model, &self.pending, revision))
    }
}

/// Why [`TenantState::what_if`] has no answer.
#[derive(Debug)]
pub enum WhatIfFailure {
    /// The model refused one of the changes; nothing was applied.
    Refused(portcullis_engine::WhatIfError),
    /// The diff's thread failed (a bug).
    Failed(String),
}

/// A tenant's model as of one revision.
#[derive(Debug)]
pub struct Live {
    /// The model.
    pub tenant: Tenant,
    /// The store revision it equals.
    pub revision: u64,
}

impl TenantState {
    /// The current view (readers clone the `Arc` and let go of the lock at once).
    pub fn view(&self) -> Arc<View> {
        match self.view.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The revision of the current view, as it moves (to wait for one).
    pub fn revisions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revision.subscribe()
    }

    /// Which decisions this tenant logs.
    pub fn audit_policy(&self) -> DecisionLogPolicy {
        match self.audit_policy.read() {
            Ok(guard) => *guard,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Replaces the decision-logging policy on this node.
    pub fn set_audit_policy(&self, policy: DecisionLogPolicy) {
        match self.audit_policy.write() {
            Ok(mut guard) => *guard = policy,
            Err(poisoned) => *poisoned.into_inner() = policy,
        }
    }

    /// The live model (read-only), e.g. for the management API's reads; the view is at the
    /// same revision while this is held.
    pub async fn live(&self) -> tokio::sync::RwLockReadGuard<'_, Live> {
        self.live.read().await
    }

    /// Like [`TenantState::live`], holding the lock without borrowing `self` (the management
    /// API keeps it for the duration of one handler; drop it before writing).
    pub async fn live_owned(&self) -> tokio::sync::OwnedRwLockReadGuard<Live> {
        self.live.clone().read_owned().await
    }

    /// What `changes` would do to effective permissions, without doing it: they are applied
    /// to the live model under its write lock (so no write interleaves), the proposed snapshot
    /// is derived from the current one, and they are undone before the lock is let go of for
    /// reads; the diff is then worked out on a blocking thread while the model stays readable.
    /// Nothing is stored, and the view never moves. Answers the revision it compared against.
    pub async fn what_if(&self, changes: Vec<portcullis_model::Change>) -> Result<(u64, portcullis_engine::AccessDiff), WhatIfFailure> {
        let mut live = self.live.clone().write_owned().await;
        let view = self.view();
        let current: Snapshot = if view.snapshot.revision == live.revision {
            (*view.snapshot).clone()
        } else {
            Snapshot::build(&live.tenant, live.revision)
        };
        let proposed = portcullis_engine::propose(&mut live.tenant, &current, &changes).map_err(WhatIfFailure::Refused)?;
        let live = live.downgrade();
        let revision = live.revision;
        let diff = tokio::task::spawn_blocking(move || portcullis_engine::diff(&live.tenant, &current, &proposed))
            .await
            .map_err(|e| WhatIfFailure::Failed(e.to_string()))?;
        Ok((revision, diff))
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        match self.queue.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn swap(&self, view: View) {
        let mut guard = match self.view.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if view.snapshot.revision >= guard.snapshot.revision {
            let revision = view.snapshot.revision;
            *guard = Arc::new(view);
            drop(guard);
            self.revision.send_if_modified(|seen| std::mem::replace(seen, revision) != revision);
        }
    }
}

/// Settings of the server that are not in the store.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// SHA-256 of the operator token (automation only: imports tenants, acts as an admin in
    /// the tenant named by the `Portcullis-Tenant` header). `None` = no operator.
    pub operator_token_hash: Option<SecretHash>,
    /// How long one request may take, its body's reading included (503 after).
    pub request_timeout: Duration,
    /// Logins (`POST /v1/sessions`, per user) and token grants (`POST /oauth/token`, per OAuth
    /// client) allowed a minute; 0 = no limit. Over it: 429 with `Retry-After`.
    pub issues_per_minute: u32,
    /// The public origin (`https://portcullis.example.com`, no trailing `/`) of every absolute
    /// URL the server writes. `None`: `http://` and the request's `Host` header, which a client
    /// chooses. (`portcullis serve` reads `--public-url` or `PORTCULLIS_PUBLIC_URL` once, at start.)
    pub public_url: Option<String>,
    /// The management API's per-user limits (`PORTCULLIS_API_READS_PER_MINUTE`,
    /// `PORTCULLIS_API_WRITES_PER_MINUTE` for `portcullis serve`).
    pub api_rate_limits: RateLimitConfig,
    /// Where and how often signed audit checkpoints are written (`None`: not written, and
    /// chains are checked at load without one).
    pub audit_checkpoints: Option<crate::audit_integrity::CheckpointConfig>,
    /// Tenants whose AuthZEN requests are answered from one of their rule sites: tenant
    /// name → site name (`--authzen-site TENANT/SITE`). Other tenants answer from their Qlik
    /// Cloud model.
    pub authzen_sites: std::collections::BTreeMap<String, String>,
    /// How long interactive sessions keep the rights of their login (Qlik Cloud's session
    /// timeouts; `--session-max-hours`, `--session-idle-minutes`).
    pub session_timeouts: SessionTimeouts,
}

impl ServerConfig {
    /// The origin of absolute URLs for a request with these headers: [`ServerConfig::public_url`],
    /// else `http://` and the `Host` header.
    pub fn public_origin(&self, headers: &axum::http::HeaderMap) -> String {
        portcullis_qlik_api::routes::public_origin(self.public_url.as_deref(), headers)
    }
}

/// Default of [`ServerConfig::issues_per_minute`]: far above what a person or a gateway needs
/// for one user or client, far below what guessing needs.
pub const ISSUES_PER_MINUTE: u32 = 60;

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            operator_token_hash: None,
            request_timeout: crate::REQUEST_TIMEOUT,
            issues_per_minute: ISSUES_PER_MINUTE,
            public_url: None,
            api_rate_limits: RateLimitConfig::default(),
            audit_checkpoints: None,
            authzen_sites: Default::default(),
            session_timeouts: SessionTimeouts::QLIK_CLOUD,
        }
    }
}

/// The state every route shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    tenants: RwLock<HashMap<TenantId, Arc<TenantState>>>,
    metrics: Metrics,
    config: ServerConfig,
    decision_log: DecisionLog,
    /// Verified credentials, each for [`CREDENTIAL_TTL`], at most [`MAX_CACHED_CREDENTIALS`].
    credentials: moka::sync::Cache<portcullis_store::SecretHash, VerifiedCredential>,
    /// Per tenant, the store's credentials revision [`AppState::follow_store`] last saw.
    credentials_seen: std::sync::Mutex<HashMap<TenantId, u64>>,
    /// Moves with every forgetting of cached credentials, so a credential verified before a
    /// revocation was heard is not cached after it ([`AppState::remember_credential`]).
    credentials_epoch: std::sync::atomic::AtomicU64,
    /// Whether the change feed is listening now (`None`: no feed is followed).
    feed: std::sync::OnceLock<portcullis_store::feed::Listening>,
    /// Counts logins and token grants against [`ServerConfig::issues_per_minute`].
    issue_limiter: Limit,
    /// The checkpoint file and each tenant's audit chain state.
    audit_integrity: crate::audit_integrity::AuditIntegrity,
    /// The past moments last asked for (access history).
    moments: history::Moments,
}

/// How long a verified credential is trusted without asking the store again.
///
/// A revocation on this node (a key revoked; a user, client or tenant deleted) drops the
/// affected entries at once. Another node learns of it from the change feed (a notice that the
/// tenant's credentials revision moved, about a millisecond after the commit) and, should the
/// notice be lost, from the tenant list it polls ([`AppState::follow_store`], every
/// `--poll-ms`): it then drops the tenant's entries; at worst (feed and poll failing) the entry
/// dies after this time. Asking the store on every request instead would cost a round trip per
/// request (BENCHMARKS.md, "Credentials"). Entries name their tenant by its store id, which is
/// never handed out twice, so an entry never acts in a tenant created later under the same name.
pub const CREDENTIAL_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Most credentials the cache holds; past it the least used are dropped.
const MAX_CACHED_CREDENTIALS: u64 = 100_000;

/// A moment in the life of the credential cache ([`AppState::credentials_epoch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialsEpoch(u64);

/// A bearer credential the store has confirmed: whose it is and until when it is usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCredential {
    /// Its tenant.
    pub tenant: TenantId,
    /// Its user.
    pub user_id: String,
    /// An API key's or an OAuth client's.
    pub via: Channel,
    /// Unix seconds after which it is refused (`None`: never).
    pub expires_at: Option<i64>,
}

impl VerifiedCredential {
    /// A credential confirmed now.
    pub fn new(tenant: TenantId, user_id: String, via: Channel, expires_at: Option<i64>) -> VerifiedCredential {
        VerifiedCredential {
            tenant,
            user_id,
            via,
            expires_at,
        }
    }
}

/// Reads a tenant whole from the store, with its stored sessions, and builds its view
/// (startup, another node's import).
async fn load_live(store: &Arc<dyn Store>, id: TenantId, timeouts: SessionTimeouts) -> Result<(Live, View), StoreError> {
    let started = Instant::now();
    let ((tenant, revision), stored) = tokio::try_join!(store.load_tenant(id), store.sessions(id, None))?;
    let read = started.elapsed();
    // Building a snapshot is CPU work proportional to the tenant: off the async threads.
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let (snapshot, api_ids) = std::thread::scope(|scope| {
            let api_ids = scope.spawn(|| ApiIds::build(&tenant));
            let snapshot = Snapshot::build(&tenant, revision);
            (snapshot, api_ids.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        });
        let mut sessions = Sessions::with_timeouts(timeouts);
        for record in stored {
            open_stored(&mut sessions, &snapshot, &tenant.name, record);
        }
        tracing::info!(
            tenant = %tenant.name,
            users = tenant.users.len(),
            items = tenant.content.len(),
            read_ms = read.as_millis() as u64,
            view_ms = started.elapsed().as_millis() as u64,
            "tenant read and its view built"
        );
        (
            Live { tenant, revision },
            View {
                snapshot: Arc::new(snapshot),
                sessions,
                api_ids,
            },
        )
    })
    .await
    .map_err(|e| StoreError::Database(format!("building the snapshot failed: {e}")))
}

/// Counts the model's [`Refs`](portcullis_model::Refs) off the start path: they are O(tenant) to
/// build once (a second or so at a million items) and the first write that asks would otherwise
/// pay for them. Writes wait for the count (it holds a read lock); decisions never do.
async fn count_refs_in_background(tenant: &TenantState) {
    let live = tenant.live.clone().read_owned().await;
    tokio::task::spawn_blocking(move || {
        let _ = live.tenant.refs();
    });
}

/// How often a write is retried when another node wrote first.
const WRITE_ATTEMPTS: usize = 3;

/// How [`AppState::write_with`] writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions<'a> {
    /// The revision the changes were planned at; `None`: the current one.
    pub base_revision: Option<u64>,
    /// The events to store; `None`: one per change that touched something.
    pub events: Option<&'a [portcullis_store::EventDraft]>,
}

/// Why [`AppState::write_with`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum WriteFailure {
    /// The model refused change number `index`.
    #[error("change {index} refused: {error}")]
    Refused {
        /// Its position.
        index: usize,
        /// The model's reason.
        error: portcullis_model::tenant_ops::OpError,
    },
    /// The store failed or refused (`Conflict`: the tenant moved on).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A write that went through: its revision, the view that includes it and what each change did.
#[derive(Debug)]
pub struct Written {
    /// The write's own revision (the one before it when it touched nothing). Writes committed
    /// together each have theirs; the view may be at a later one.
    pub revision: u64,
    /// A view that includes the write (read-your-writes): at its revision or later.
    pub view: Arc<View>,
    /// Per change, what it touched (and for a login, the roles it recorded).
    pub applied: Vec<Applied>,
}

impl AppState {
    /// Loads every stored tenant's view, checking each one's audit chain (its anchor, its last
    /// events and its latest checkpoint); a checkpoint file that cannot be read is
    /// [`StoreError::Corrupt`].
    pub async fn new(store: Arc<dyn Store>, config: ServerConfig) -> Result<AppState, StoreError> {
        let audit_integrity = crate::audit_integrity::AuditIntegrity::open(config.audit_checkpoints.clone()).map_err(StoreError::Corrupt)?;
        let decision_log = DecisionLog::start(store.clone());
        let issues_per_minute = config.issues_per_minute;
        let state = AppState(Arc::new(Inner {
            store,
            tenants: RwLock::new(HashMap::new()),
            metrics: Metrics::default(),
            config,
            decision_log,
            credentials: moka::sync::Cache::builder()
                .max_capacity(MAX_CACHED_CREDENTIALS)
                .time_to_live(CREDENTIAL_TTL)
                .support_invalidation_closures()
                .build(),
            credentials_seen: std::sync::Mutex::new(HashMap::new()),
            credentials_epoch: std::sync::atomic::AtomicU64::new(0),
            feed: std::sync::OnceLock::new(),
            issue_limiter: Limit::new(issues_per_minute, QUOTA_WINDOW),
            audit_integrity,
            moments: history::moments(),
        }));
        let records = state.0.store.tenants().await?;
        for record in &records {
            state.load(record.id, record.name.clone()).await?;
        }
        let stored: Vec<(TenantId, String)> = records.into_iter().map(|r| (r.id, r.name)).collect();
        state.0.audit_integrity.check_gone(&stored);
        Ok(state)
    }

    /// The audit chains' state on this node and the checkpoint file.
    pub fn audit_integrity(&self) -> &crate::audit_integrity::AuditIntegrity {
        &self.0.audit_integrity
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    /// A credential verified less than [`CREDENTIAL_TTL`] ago.
    pub fn verified_credential(&self, hash: &portcullis_store::SecretHash) -> Option<VerifiedCredential> {
        self.0.credentials.get(hash)
    }

    /// Where cached credentials stand now: take it before asking the store about a
    /// credential, and give it to [`AppState::remember_credential`].
    pub fn credentials_epoch(&self) -> CredentialsEpoch {
        CredentialsEpoch(self.0.credentials_epoch.load(std::sync::atomic::Ordering::Acquire))
    }

    /// Remembers a credential the store confirmed after `epoch` was taken — unless cached
    /// credentials were forgotten since (a revocation heard meanwhile may be of this one: the
    /// next request asks the store again).
    pub fn remember_credential(&self, hash: portcullis_store::SecretHash, credential: VerifiedCredential, epoch: CredentialsEpoch) {
        if self.credentials_epoch() != epoch {
            return;
        }
        self.0.credentials.insert(hash, credential);
        // A forgetting between the check and the insert may have missed the entry.
        if self.credentials_epoch() != epoch {
            self.0.credentials.invalidate(&hash);
        }
    }

    /// Forgets every cached credential (after a revocation on this node).
    pub fn forget_credentials(&self) {
        self.0.credentials_epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.0.credentials.invalidate_all();
    }

    /// Forgets the cached credentials `gone` picks; none of them is returned again.
    fn forget_credentials_where(&self, gone: impl Fn(&VerifiedCredential) -> bool + Send + Sync + 'static) {
        self.0.credentials_epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if let Err(error) = self.0.credentials.invalidate_entries_if(move |_, credential| gone(credential)) {
            // Only when the cache was built without invalidation closures: drop everything.
            tracing::error!(%error, "cannot forget credentials selectively; forgetting all");
            self.0.credentials.invalidate_all();
        }
    }

    /// Forgets the cached credentials of a tenant (deleted, replaced, or its credentials
    /// revision moved on another node).
    pub fn forget_tenant_credentials(&self, tenant: TenantId) {
        self.forget_credentials_where(move |c| c.tenant == tenant);
    }

    /// Forgets the cached credentials acting as `users` or through `clients` of a tenant
    /// (deleted on this node: a user or client created again under the same key must not
    /// find them).
    pub fn forget_credentials_of(&self, tenant: TenantId, users: &[&str], clients: &[&str]) {
        if users.is_empty() && clients.is_empty() {
            return;
        }
        let users: HashSet<String> = users.iter().map(|u| (*u).to_owned()).collect();
        let clients: HashSet<String> = clients.iter().map(|c| (*c).to_owned()).collect();
        self.forget_credentials_where(move |c| {
            c.tenant == tenant && (users.contains(&c.user_id) || c.via.client().is_some_and(|client| clients.contains(client)))
        });
    }

    /// After a write on this node: forgets the cached credentials of the users and clients it
    /// deleted (the store retired them in the write's transaction). Runs under the live
    /// model's lock, so no write creating them again can come first.
    fn forget_retired_credentials(&self, tenant: TenantId, after: &Tenant, touched: &Touched) {
        let users: Vec<&str> = touched
            .users
            .iter()
            .filter(|u| after.users.get(u).is_none())
            .map(String::as_str)
            .collect();
        let clients: Vec<&str> = touched
            .clients
            .iter()
            .filter(|c| after.oauth_clients.get(c).is_none())
            .map(String::as_str)
            .collect();
        self.forget_credentials_of(tenant, &users, &clients);
    }

    /// Drops the cached credentials of every tenant whose credentials revision in the store
    /// differs from the one last seen here (or that is new to this node), and of tenants that
    /// are gone. `records` is the store's tenant list.
    fn follow_credentials(&self, records: &[portcullis_store::TenantRecord]) {
        let Ok(mut seen) = self.0.credentials_seen.lock() else { return };
        for record in records {
            if seen.insert(record.id, record.credentials_revision) != Some(record.credentials_revision) {
                self.forget_tenant_credentials(record.id);
            }
        }
        let gone: Vec<TenantId> = seen.keys().filter(|id| !records.iter().any(|r| r.id == **id)).copied().collect();
        for id in gone {
            seen.remove(&id);
            self.forget_tenant_credentials(id);
        }
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The decision log's queue.
    pub fn decision_log(&self) -> &DecisionLog {
        &self.0.decision_log
    }

    /// Counts one login or token grant for `key` in `scope` (`login:TENANT`, `oauth`);
    /// `Err(seconds)` to wait when over [`ServerConfig::issues_per_minute`].
    pub fn count_issue(&self, scope: &str, key: &str) -> Result<(), u64> {
        self.0.issue_limiter.check(scope, key)
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    fn tenants_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<TenantId, Arc<TenantState>>> {
        match self.0.tenants.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Every tenant on this node.
    pub fn tenants(&self) -> Vec<Arc<TenantState>> {
        let mut all: Vec<_> = self.tenants_read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// A tenant by key, loading it when another node created it.
    pub async fn tenant(&self, id: TenantId) -> Result<Option<Arc<TenantState>>, StoreError> {
        if let Some(tenant) = self.tenants_read().get(&id) {
            return Ok(Some(tenant.clone()));
        }
        let records = self.0.store.tenants().await?;
        match records.into_iter().find(|r| r.id == id) {
            Some(record) => Ok(Some(self.load(record.id, record.name).await?)),
            None => Ok(None),
        }
    }

    /// A tenant by name, loading it when another node created it.
    pub async fn tenant_by_name(&self, name: &str) -> Result<Option<Arc<TenantState>>, StoreError> {
        if let Some(tenant) = self.tenants_read().values().find(|t| t.name == name) {
            return Ok(Some(tenant.clone()));
        }
        match self.0.store.tenant_by_name(name).await? {
            Some(record) => Ok(Some(self.load(record.id, record.name).await?)),
            None => Ok(None),
        }
    }

    async fn load(&self, id: TenantId, name: String) -> Result<Arc<TenantState>, StoreError> {
        // The small reads go beside the large one: a start waits for the slowest, not the sum.
        let started = Instant::now();
        let (loaded, audit_settings, audit, rule_sites) = tokio::join!(
            load_live(&self.0.store, id, self.0.config.session_timeouts),
            self.0.store.audit_settings(id),
            self.0.audit_integrity.check_tenant(self.0.store.as_ref(), id, &name),
            crate::rules_api::RuleSites::load(self.0.store.as_ref(), id),
        );
        let (live, view) = loaded?;
        let audit_policy = RwLock::new(audit_settings?.policy);
        let rule_sites = rule_sites?;
        tracing::info!(tenant = %name, elapsed_ms = started.elapsed().as_millis() as u64, "tenant loaded");
        let tenant = Arc::new(TenantState {
            id,
            name,
            revision: tokio::sync::watch::Sender::new(view.snapshot.revision),
            view: RwLock::new(Arc::new(view)),
            live: Arc::new(tokio::sync::RwLock::new(live)),
            queue: std::sync::Mutex::new(Queue::default()),
            audit_policy,
            rule_sites,
            audit_keyed_from: audit.keyed_from,
        });
        count_refs_in_background(&tenant).await;
        let mut tenants = match self.0.tenants.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        Ok(tenants.entry(id).or_insert(tenant).clone())
    }

    /// Brings a tenant's model and view up to the store when the store is ahead of this node
    /// (another node wrote); returns the view.
    pub async fn refresh(&self, tenant: &TenantState) -> Result<Arc<View>, StoreError> {
        let mut live = tenant.live.write().await;
        self.catch_up(tenant, &mut live).await?;
        Ok(tenant.view())
    }

    /// Imports a tenant and makes it live on this node.
    pub async fn import(&self, tenant: &Tenant, mode: ImportMode, author: &Author) -> Result<Imported, StoreError> {
        let imported = self.0.store.import_tenant(tenant, mode, author).await?;
        if imported.outcome == portcullis_store::ImportOutcome::Replaced {
            // Users and clients the new content leaves out lost their credentials in the store.
            self.forget_tenant_credentials(imported.tenant.id);
        }
        match self.tenant(imported.tenant.id).await? {
            Some(state) => {
                self.refresh(&state).await?;
            }
            None => return Err(StoreError::NotFound(format!("tenant `{}`", tenant.name))),
        }
        Ok(imported)
    }

    /// Deletes a tenant everywhere, with its credentials and rule sites.
    pub async fn delete(&self, tenant: &TenantState) -> Result<(), StoreError> {
        let head = self
            .0
            .store
            .audit_tail(tenant.id, 0)
            .await
            .ok()
            .map(|chain| (chain.head_seq, chain.head_hash));
        self.0.store.delete_tenant(tenant.id).await?;
        self.write_tombstone(tenant.id, &tenant.name, head).await;
        {
            let mut tenants = match self.0.tenants.write() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            tenants.remove(&tenant.id);
        }
        tenant.rule_sites.clear();
        self.forget_tenant_credentials(tenant.id);
        Ok(())
    }

    /// Applies changes to the tenant, all or none, through the one write path; returns the view
    /// that includes them. Changes that touch nothing write nothing.
    pub async fn write(&self, tenant: &Arc<TenantState>, changes: &[Change], author: &Author) -> Result<Written, StoreError> {
        self.write_with(tenant, changes, author, WriteOptions::default())
            .await
            .map_err(WriteFailure::into_store_error)
    }

    /// [`AppState::write`] with its options: the revision the changes were planned at (a write
    /// based on an older one is refused with [`StoreError::Conflict`] and not retried, since
    /// whoever planned it must look again) and the events to store instead of one per change.
    /// A refusal of the model names the position of the refused change.
    pub async fn write_with(
        &self,
        tenant: &Arc<TenantState>,
        changes: &[Change],
        author: &Author,
        options: WriteOptions<'_>,
    ) -> Result<Written, WriteFailure> {
        let request = Request {
            changes: changes.to_vec(),
            author: author.clone(),
            base_revision: options.base_revision,
            events: options.events.map(<[EventDraft]>::to_vec),
            login: None,
        };
        self.submit(tenant, request).await
    }

    /// Applies one change and returns the write (read-your-writes).
    pub async fn apply(&self, tenant: &Arc<TenantState>, change: &Change, author: &Author) -> Result<Written, StoreError> {
        self.write(tenant, std::slice::from_ref(change), author).await
    }

    /// Records a login (entitlement toggles) and freezes the user's rights at its revision in
    /// a session, stored with the login in one transaction (so every node, and this one after
    /// a restart, opens it), under the same hold of the live model (sessions change only there,
    /// so two logins cannot lose each other). A login always takes a revision of its own, with
    /// its change-log row, even when it records no role: that is how other nodes hear of it.
    pub async fn login(&self, tenant: &Arc<TenantState>, user_id: &str, author: &Author) -> Result<Written, StoreError> {
        let request = Request {
            changes: vec![Change::RecordLogin { user: user_id.to_owned() }],
            author: author.clone(),
            base_revision: None,
            events: None,
            login: Some(user_id.to_owned()),
        };
        self.submit(tenant, request).await.map_err(WriteFailure::into_store_error)
    }

    /// Queues a write for the tenant's committer (starting it when it is not running) and
    /// waits for the answer, which comes once the write's transaction committed or failed.
    async fn submit(&self, tenant: &Arc<TenantState>, request: Request) -> Result<Written, WriteFailure> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let start = {
            let mut queue = tenant.queue();
            queue.pending.push(Pending { request, reply });
            !std::mem::replace(&mut queue.committing, true)
        };
        if start {
            // Its own task: a writer that goes away (a client hanging up) drops only its wait,
            // never a batch half way through.
            let (state, tenant) = (self.clone(), tenant.clone());
            tokio::spawn(async move { state.committer(tenant).await });
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the write was interrupted; its outcome is unknown".to_owned()).into()))
    }

    /// Commits the tenant's queued writes, a batch at a time (every write queued by the time it
    /// holds the live model), until the queue is empty.
    async fn committer(&self, tenant: Arc<TenantState>) {
        /// On a panic: lets the next write start a committer, and answers the queued writes
        /// with an error (their senders are dropped) instead of leaving them waiting.
        struct Reset<'a>(&'a TenantState);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut queue = self.0.queue();
                    queue.committing = false;
                    queue.pending.clear();
                }
            }
        }
        let _reset = Reset(&tenant);
        loop {
            // The writers just answered are woken on this thread: let them queue their next
            // writes before the batch is taken, or it would be a batch of one.
            tokio::task::yield_now().await;
            let mut live = tenant.live.write().await;
            let batch = {
                let mut queue = tenant.queue();
                if queue.pending.is_empty() {
                    queue.committing = false;
                    return;
                }
                std::mem::take(&mut queue.pending)
            };
            self.commit_batch(&tenant, &mut live, batch).await;
        }
    }

    /// Commits a batch of writes and answers each: applied in order on the live model, one
    /// store transaction, one new view. When the transaction fails, everything is undone and
    /// the writes are committed one by one.
    async fn commit_batch(&self, tenant: &TenantState, live: &mut Live, mut batch: Vec<Pending>) {
        if batch.len() == 1
            && let Some(Pending { request, reply }) = batch.pop()
        {
            let _ = reply.send(self.write_one(tenant, live, &request).await);
            return;
        }
        let base_revision = live.revision;
        let mut revision = base_revision;
        let mut freezer = Freezer::default();
        let staged: Vec<Result<Staged, WriteFailure>> = batch
            .iter()
            .map(|pending| {
                let one = stage(tenant, &mut live.tenant, &pending.request, revision, base_revision, &mut freezer);
                if let Ok(one) = &one {
                    revision = one.revision;
                }
                one
            })
            .collect();
        let committed = {
            let writes: Vec<ChangeSet<'_>> = batch
                .iter()
                .zip(&staged)
                .filter_map(|(pending, one)| match one {
                    Ok(one) if one.stores_anything() => Some(ChangeSet {
                        base_revision: one.revision - 1,
                        after: &live.tenant,
                        changes: &pending.request.changes,
                        touched: &one.touched,
                        events: &one.events,
                        sessions: &one.sessions,
                        author: &pending.request.author,
                        applied: &one.applied,
                    }),
                    _ => None,
                })
                .collect();
            if writes.is_empty() {
                Ok(Vec::new())
            } else {
                let committed = self.0.store.commit_batch(tenant.id, &writes).await;
                if committed.is_ok() {
                    self.0.metrics.record_commit(writes.len() as u64);
                }
                committed
            }
        };
        match committed {
            Ok(revisions) => {
                debug_assert_eq!(revisions.last().copied().unwrap_or(base_revision), revision);
                let mut touched = Touched::default();
                let mut logins = Vec::new();
                for one in staged.iter().flatten() {
                    touched.merge(one.touched.clone());
                    logins.extend(one.login.clone());
                }
                if revision != base_revision {
                    live.revision = revision;
                    self.forget_retired_credentials(tenant.id, &live.tenant, &touched);
                    let derived = freezer.finish(&live.tenant, revision);
                    next_view(tenant, live, base_revision, &touched, derived, logins);
                }
                let view = tenant.view();
                for (pending, one) in batch.into_iter().zip(staged) {
                    let answer = one.map(|one| Written {
                        revision: one.revision,
                        view: view.clone(),
                        applied: one.applied,
                    });
                    let _ = pending.reply.send(answer);
                }
            }
            Err(error) => {
                for one in staged.into_iter().rev().flatten() {
                    for applied in one.applied.into_iter().rev() {
                        live.tenant.undo(applied.undo);
                    }
                }
                tracing::warn!(%error, writes = batch.len(), "a batch of writes failed; committing them one by one");
                for Pending { request, reply } in batch {
                    let _ = reply.send(self.write_one(tenant, live, &request).await);
                }
            }
        }
    }

    /// Commits one write on its own: applied on the live model, one transaction, the next
    /// view; on a conflict with another node's write it catches up and applies it again (unless
    /// the write was planned at a given revision).
    async fn write_one(&self, tenant: &TenantState, live: &mut Live, request: &Request) -> Result<Written, WriteFailure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(base) = request.base_revision
                && base != live.revision
            {
                self.catch_up(tenant, live).await?;
                return Err(StoreError::Conflict(format!("the tenant is at revision {}, not {base}", live.revision)).into());
            }
            let base_revision = live.revision;
            let mut freezer = Freezer::default();
            let staged = stage(tenant, &mut live.tenant, request, base_revision, base_revision, &mut freezer)?;
            if !staged.stores_anything() {
                return Ok(Written {
                    revision: base_revision,
                    view: tenant.view(),
                    applied: staged.applied,
                });
            }
            let write = ChangeSet {
                base_revision,
                after: &live.tenant,
                changes: &request.changes,
                touched: &staged.touched,
                events: &staged.events,
                sessions: &staged.sessions,
                author: &request.author,
                applied: &staged.applied,
            };
            match self.0.store.commit_changes(tenant.id, write).await {
                Ok(revision) => {
                    self.0.metrics.record_commit(1);
                    live.revision = revision;
                    self.forget_retired_credentials(tenant.id, &live.tenant, &staged.touched);
                    let derived = freezer.finish(&live.tenant, revision);
                    next_view(tenant, live, base_revision, &staged.touched, derived, staged.login.into_iter().collect());
                    return Ok(Written {
                        revision,
                        view: tenant.view(),
                        applied: staged.applied,
                    });
                }
                Err(error) => {
                    for one in staged.applied.into_iter().rev() {
                        live.tenant.undo(one.undo);
                    }
                    match error {
                        // Another node wrote first: catch up and apply again on its state
                        // (unless the caller planned the changes at a given revision).
                        StoreError::Conflict(_) if attempt < WRITE_ATTEMPTS && request.base_revision.is_none() => self.catch_up(tenant, live).await?,
                        StoreError::Conflict(message) => {
                            self.catch_up(tenant, live).await?;
                            return Err(StoreError::Conflict(message).into());
                        }
                        other => return Err(other.into()),
                    }
                }
            }
        }
    }
}

impl WriteFailure {
    /// As a store error (a refusal of the model is [`StoreError::Rejected`]).
    pub fn into_store_error(self) -> StoreError {
        match self {
            WriteFailure::Refused { error, .. } => StoreError::Rejected(error),
            WriteFailure::Store(error) => error,
        }
    }
}

/// Applies a write on the live model at `revision`, all or none: a write planned at another
/// revision is refused with a conflict, a refusal of the model leaves the model as it was. A
/// login freezes the user's rights at its own revision (`freezer`: the batch's snapshots from
/// its base), so a login always stores something, if only its session.
fn stage(
    state: &TenantState,
    tenant: &mut Tenant,
    request: &Request,
    revision: u64,
    base_revision: u64,
    freezer: &mut Freezer,
) -> Result<Staged, WriteFailure> {
    if let Some(base) = request.base_revision
        && base != revision
    {
        return Err(StoreError::Conflict(format!("the tenant is at revision {revision}, not {base}")).into());
    }
    let applied = tenant
        .apply_all(&request.changes)
        .map_err(|(index, error)| WriteFailure::Refused { index, error })?;
    let mut touched = Touched::default();
    for one in &applied {
        touched.merge(one.touched.clone());
    }
    freezer.pending.merge(touched.clone());
    let (login, sessions) = match request
        .login
        .as_deref()
        .and_then(|user| freezer.freeze(state, tenant, base_revision, revision + 1, user))
    {
        Some((login, stored)) => (Some(login), vec![stored]),
        None => (None, Vec::new()),
    };
    if touched.is_empty() && login.is_none() {
        return Ok(Staged {
            applied,
            touched,
            events: Vec::new(),
            revision,
            login,
            sessions,
        });
    }
    let events = match &request.events {
        _ if touched.is_empty() => Vec::new(),
        Some(events) => events.clone(),
        None => request
            .changes
            .iter()
            .zip(&applied)
            .filter(|(_, one)| !one.touched.is_empty())
            .map(|(change, one)| {
                let mut event = portcullis_store::change_event(change, &request.author);
                if !one.recorded_roles.is_empty() {
                    event.data["recordedRoles"] = serde_json::json!(one.recorded_roles);
                }
                event
            })
            .collect(),
    };
    Ok(Staged {
        applied,
        touched,
        events,
        revision: revision + 1,
        login,
        sessions,
    })
}

/// Derives the view at `live.revision` from the one at `base_revision` (the live model's, as
/// both change only under its lock) at the cost of what was touched, or takes `derived` (the
/// snapshot at `live.revision` the batch's logins were frozen on); closes the sessions of users
/// deleted and opens the `logins`' sessions.
fn next_view(tenant: &TenantState, live: &Live, base_revision: u64, touched: &Touched, derived: Option<Snapshot>, logins: Vec<Login>) {
    let current = tenant.view();
    let mut sessions = current.sessions.clone();
    let from_current = current.snapshot.revision == base_revision;
    let snapshot = match derived {
        Some(snapshot) => snapshot,
        None if from_current => current.snapshot.apply(&live.tenant, touched, live.revision),
        None => Snapshot::build(&live.tenant, live.revision),
    };
    let api_ids = if from_current {
        current.api_ids.after(&live.tenant, touched)
    } else {
        ApiIds::build(&live.tenant)
    };
    for user in &touched.users {
        if live.tenant.users.get(user).is_none() {
            sessions.remove(user);
        }
    }
    for login in logins {
        match login {
            Login::Frozen(user, rights, revision, binding) => {
                sessions.insert(user, rights, revision, binding, portcullis_store::now());
            }
            Login::Stored(record) => open_stored(&mut sessions, &snapshot, &live.tenant.name, record),
        }
    }
    sessions.rebind(&snapshot);
    tenant.swap(View {
        snapshot: Arc::new(snapshot),
        sessions,
        api_ids,
    });
}

/// Opens a session another node's login froze (or this node's, before a restart), read from
/// the store; one that this build cannot read is left closed and logged (its `via: session`
/// checks then decide as a login now would).
fn open_stored(sessions: &mut Sessions, snapshot: &Snapshot, tenant: &str, record: portcullis_store::SessionRecord) {
    let rights = serde_json::from_str::<FrozenRights>(&record.rights)
        .map_err(|e| e.to_string())
        .and_then(|frozen| frozen.thaw(snapshot));
    match rights {
        Ok(rights) => {
            sessions.insert(
                record.user_id.as_str().into(),
                rights,
                record.revision,
                snapshot.group_binding(),
                record.logged_in_at,
            );
        }
        Err(error) => tracing::error!(tenant, user = %record.user_id, revision = record.revision, %error, "a stored session cannot be read"),
    }
}
