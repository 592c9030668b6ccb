//! Following the other nodes on one database: their writes reach this node through the
//! change feed (PostgreSQL `LISTEN/NOTIFY`, `portcullis_store::feed`) and, as a safety net
//! for a notice that never came, through the poll of every tenant's revision. Either way the
//! node reads the change-log rows after the revision it holds and applies them through
//! `Tenant::apply` and the same incremental `Snapshot::apply` its own writes use; it reads a
//! tenant whole only when the log cannot bring it (an import replaced the tenant, the rows are
//! no longer logged, a logged change does not apply here), and counts it
//! (`portcullis_tenant_reloads_total`).
//!
//! Revocations travel the same way: a notice that a tenant's credentials moved drops the
//! tenant's cached credentials on the spot, as does the poll when it sees the credentials
//! revision move. Audit settings, rule sites (only the sites written since the rule-sites
//! revision this node holds are read again) and tenant deletions are notices too.

use std::collections::BTreeMap;
use std::time::Instant;

use portcullis_store::{FeedEvent, LogPage, NoticeKind};

use super::*;

/// Revisions read from the change log per query while catching up.
const CATCH_UP_PAGE: u64 = 1_000;

/// How long a read with `minRevision` waits for this node to reach it when the store cannot
/// be asked (its answer is then a 409 with the revision this node has).
pub const MIN_REVISION_WAIT: Duration = Duration::from_secs(2);

/// What a burst of notices asks of one tenant.
#[derive(Debug, Default)]
struct Wanted {
    /// The highest model revision announced.
    revision: u64,
    /// The highest credentials revision announced, if any.
    credentials: Option<u64>,
    /// The highest rule-sites revision announced.
    rule_sites: u64,
    audit_settings: bool,
    deleted: bool,
}

impl AppState {
    /// Follows the other nodes forever: the change feed when the store has one, and a poll of
    /// every tenant's revision every `every` (the safety net for missed notices; with a feed it
    /// finds nothing to do unless a notice was lost).
    pub async fn follow_store(self, every: Duration) {
        tokio::spawn(self.clone().follow_feed());
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.follow_once().await;
        }
    }

    /// Follows the store's change feed until the store goes away; returns at once when the
    /// store has none (SQLite). A burst of notices is taken at once: one catch-up per tenant.
    pub async fn follow_feed(self) {
        let Some(mut feed) = self.0.store.subscribe() else { return };
        let _ = self.0.feed.set(feed.listening());
        while let Some(first) = feed.next().await {
            let mut events = vec![first];
            while let Some(event) = feed.try_next() {
                events.push(event);
            }
            self.on_feed(events).await;
        }
    }

    /// Whether this node listens to the change feed now: `None` when it follows none.
    pub fn feed_listening(&self) -> Option<bool> {
        self.0.feed.get().map(portcullis_store::feed::Listening::get)
    }

    /// Whether this node listens to the change feed now, and for how long it has (or has
    /// not): `None` when it follows none.
    pub fn feed_state(&self) -> Option<(bool, Duration)> {
        self.0.feed.get().map(|feed| (feed.get(), feed.for_how_long()))
    }

    async fn on_feed(&self, events: Vec<FeedEvent>) {
        let mut wanted: BTreeMap<TenantId, Wanted> = BTreeMap::new();
        let mut resync = false;
        for event in events {
            let notice = match event {
                FeedEvent::Resync => {
                    resync = true;
                    continue;
                }
                FeedEvent::Notice(notice) => notice,
            };
            let entry = wanted.entry(notice.tenant).or_default();
            match notice.kind {
                NoticeKind::Model => entry.revision = entry.revision.max(notice.revision),
                NoticeKind::Credentials => entry.credentials = entry.credentials.max(Some(notice.credentials_revision)),
                NoticeKind::AuditSettings => entry.audit_settings = true,
                NoticeKind::TenantDeleted => entry.deleted = true,
                NoticeKind::RuleSites => entry.rule_sites = entry.rule_sites.max(notice.rule_sites_revision),
            }
        }
        // Credentials first: a view brought forward below must not meet a revoked credential
        // still cached.
        for (id, wanted) in &wanted {
            if let Some(credentials) = wanted.credentials {
                self.saw_credentials(*id, credentials);
            }
        }
        if resync {
            self.follow_once().await;
            for tenant in self.tenants() {
                self.follow_audit_settings(&tenant).await;
            }
            return;
        }
        let mut catch_ups = tokio::task::JoinSet::new();
        for (id, wanted) in wanted {
            if wanted.deleted {
                self.forget_tenant(id);
                continue;
            }
            // A tenant not loaded here is loaded when first asked for.
            let Some(tenant) = self.tenants_read().get(&id).cloned() else { continue };
            if wanted.audit_settings {
                self.follow_audit_settings(&tenant).await;
            }
            if wanted.rule_sites > tenant.rule_sites.revision() {
                let state = self.clone();
                let tenant = tenant.clone();
                catch_ups.spawn(async move { state.follow_rule_sites(&tenant).await });
            }
            if wanted.revision > tenant.view().snapshot.revision {
                let state = self.clone();
                catch_ups.spawn(async move {
                    if let Err(error) = state.refresh_to(&tenant, wanted.revision).await {
                        tracing::warn!(tenant = %tenant.name, %error, "cannot follow the tenant's changes");
                    }
                });
            }
        }
        catch_ups.join_all().await;
    }

    /// Takes a tenant's credentials revision from a notice: its cached credentials are
    /// dropped unless this revision was seen already.
    fn saw_credentials(&self, tenant: TenantId, revision: u64) {
        let moved = match self.0.credentials_seen.lock() {
            Ok(mut seen) => seen.insert(tenant, revision) != Some(revision),
            Err(_) => true,
        };
        if moved {
            self.forget_tenant_credentials(tenant);
        }
    }

    async fn follow_audit_settings(&self, tenant: &TenantState) {
        match self.0.store.audit_settings(tenant.id).await {
            Ok(settings) => tenant.set_audit_policy(settings.policy),
            Err(error) => tracing::warn!(tenant = %tenant.name, %error, "cannot read the tenant's audit settings"),
        }
    }

    /// Reads again the rule sites another node wrote (only those).
    async fn follow_rule_sites(&self, tenant: &TenantState) {
        if let Err(error) = tenant.rule_sites.follow(self.0.store.as_ref(), tenant.id).await {
            tracing::warn!(tenant = %tenant.name, %error, "cannot follow the tenant's rule sites");
        }
    }

    /// Forgets a tenant deleted by another node: its view, rule sites and cached credentials.
    fn forget_tenant(&self, id: TenantId) {
        let gone = {
            let mut tenants = match self.0.tenants.write() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            tenants.remove(&id)
        };
        if let Some(gone) = gone {
            gone.rule_sites.clear();
        }
        self.forget_tenant_credentials(id);
        self.0.audit_integrity.forget(id);
    }

    /// One poll of [`AppState::follow_store`]: drops the cached credentials of tenants whose
    /// credentials moved, catches up with other nodes' writes, and forgets deleted tenants.
    pub async fn follow_once(&self) {
        let Ok(records) = self.0.store.tenants().await else { return };
        // Credentials first: a view refreshed below must not meet a revoked credential
        // still cached.
        self.follow_credentials(&records);
        for record in records {
            let held = self.tenants_read().get(&record.id).cloned();
            if let Some(tenant) = held
                && tenant.rule_sites.revision() < record.rule_sites_revision
            {
                self.follow_rule_sites(&tenant).await;
            }
            match self.tenant(record.id).await {
                Ok(Some(tenant)) if tenant.view().snapshot.revision < record.revision => {
                    if let Err(error) = self.refresh_to(&tenant, record.revision).await {
                        tracing::warn!(tenant = %record.name, %error, "cannot refresh the tenant");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(tenant = %record.name, %error, "cannot load the tenant"),
            }
        }
        let known: Vec<TenantId> = self.tenants().iter().map(|t| t.id).collect();
        if let Ok(records) = self.0.store.tenants().await {
            for id in known {
                if !records.iter().any(|r| r.id == id) {
                    self.forget_tenant(id);
                }
            }
        }
    }

    /// Brings a tenant to `revision` at least, or to the store's revision when that is lower:
    /// a reader that got here first did the work for everyone waiting on the live model.
    pub(super) async fn refresh_to(&self, tenant: &TenantState, revision: u64) -> Result<Arc<View>, StoreError> {
        let mut live = tenant.live.write().await;
        if live.revision < revision {
            self.catch_up(tenant, &mut live).await?;
        }
        Ok(tenant.view())
    }

    /// Brings the live model and the view up to the store's revision (callers hold the live
    /// model's lock): change by change from the log, or by reading the tenant whole when the
    /// log cannot bring it there.
    pub(super) async fn catch_up(&self, tenant: &TenantState, live: &mut Live) -> Result<(), StoreError> {
        loop {
            match self.0.store.changes_after(tenant.id, live.revision, CATCH_UP_PAGE).await? {
                LogPage::Changes { through, revision, changes } => {
                    // The sessions the page's logins froze, read before the view moves, so no
                    // reader sees a login's revision without its session.
                    let users: Vec<String> = changes
                        .iter()
                        .filter_map(|(_, change)| match change {
                            Change::RecordLogin { user } => Some(user.clone()),
                            _ => None,
                        })
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    let logins = if users.is_empty() {
                        Vec::new()
                    } else {
                        self.0.store.sessions(tenant.id, Some(&users)).await?
                    };
                    if through > live.revision && !self.replay(tenant, live, through, &changes, logins) {
                        return self.reload(tenant, live).await;
                    }
                    if through >= revision {
                        return Ok(());
                    }
                }
                LogPage::Missing { .. } => return self.reload(tenant, live).await,
            }
        }
    }

    /// Applies logged changes (every revision after the live model's through `through`) to
    /// the live model and derives the next view from what they touched, opening the sessions
    /// the logins among them froze (`logins`, read from the store: the rights of the login's
    /// revision, whatever later changes of the page do); false (the model as it was) when one
    /// does not apply, which means this node's model is not the store's.
    fn replay(
        &self,
        tenant: &TenantState,
        live: &mut Live,
        through: u64,
        changes: &[(u64, Change)],
        logins: Vec<portcullis_store::SessionRecord>,
    ) -> bool {
        let base_revision = live.revision;
        let mut touched = Touched::default();
        let mut undo = Vec::with_capacity(changes.len());
        for (revision, change) in changes {
            match live.tenant.apply(change) {
                Ok(applied) => {
                    touched.merge(applied.touched);
                    undo.push(applied.undo);
                }
                Err(error) => {
                    tracing::warn!(tenant = %tenant.name, revision, %error, "a logged change does not apply here; reading the tenant whole");
                    for one in undo.into_iter().rev() {
                        live.tenant.undo(one);
                    }
                    return false;
                }
            }
        }
        live.revision = through;
        self.forget_retired_credentials(tenant.id, &live.tenant, &touched);
        next_view(
            tenant,
            live,
            base_revision,
            &touched,
            None,
            logins.into_iter().map(Login::Stored).collect(),
        );
        self.0.metrics.record_followed(changes.len() as u64);
        true
    }

    /// Reads a tenant whole from the store (its sessions too) and counts it.
    async fn reload(&self, tenant: &TenantState, live: &mut Live) -> Result<(), StoreError> {
        let (fresh, view) = load_live(&self.0.store, tenant.id, self.0.config.session_timeouts).await?;
        *live = fresh;
        tenant.swap(view);
        self.0.metrics.record_reload();
        tracing::info!(tenant = %tenant.name, revision = live.revision, "read the tenant whole to catch up");
        Ok(())
    }

    /// The view of a tenant at `min_revision` or later. A node behind reads the change log
    /// at once (a revision handed out by any node is committed, so the store has it); when
    /// the store cannot be asked it waits, at most [`MIN_REVISION_WAIT`], for the revision to
    /// arrive. A revision the store has not reached, or one that did not arrive in time, is
    /// a 409 naming the revision this node has.
    pub async fn view_at_least(&self, tenant: &TenantState, min_revision: Option<u64>) -> Result<Arc<View>, ApiError> {
        let view = tenant.view();
        let Some(min) = min_revision else { return Ok(view) };
        if view.snapshot.revision >= min {
            return Ok(view);
        }
        let deadline = Instant::now() + MIN_REVISION_WAIT;
        let mut seen = tenant.revisions();
        loop {
            match self.refresh_to(tenant, min).await {
                Ok(view) if view.snapshot.revision >= min => return Ok(view),
                // The store itself is behind: no node has that revision.
                Ok(view) => return Err(revision_not_reached(view.snapshot.revision, min)),
                Err(error) => tracing::warn!(tenant = %tenant.name, %error, "cannot catch up for minRevision"),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(revision_not_reached(tenant.view().snapshot.revision, min));
            }
            let retry = (deadline - now).min(Duration::from_millis(100));
            if let Ok(Ok(_)) = tokio::time::timeout(retry, seen.wait_for(|revision| *revision >= min)).await {
                return Ok(tenant.view());
            }
        }
    }
}

/// The 409 of a read whose `minRevision` this node has not reached.
pub(super) fn revision_not_reached(revision: u64, min: u64) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "revision_not_reached",
        format!("the tenant is at revision {revision}, before the requested minRevision {min}"),
    )
    .hint("pass a revision returned by a write, or leave minRevision out")
    .field("minRevision")
}
