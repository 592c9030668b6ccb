//! The audit trail's integrity on a running node. When a tenant is loaded (at start, or when
//! another node created it) its chain's anchor and last [`TAIL_EVENTS`] events are checked —
//! links, keyed hashes, indexed columns, the head — and so is the event of its latest
//! checkpoint in the checkpoint file when one is configured. That costs the same for a chain
//! of a hundred events and of a hundred million: the whole chain is `portcullis audit
//! verify`'s job. A mismatch is logged as an error and shown as a metric; the node still
//! serves (refusing to start would hand whoever can write to the database a way to stop it).
//!
//! With a checkpoint file, [`AppState::write_checkpoints`] appends a signed checkpoint per
//! tenant whose head moved by `every_events` events, or moved at all within `every`,
//! after verifying the events since the last point this node verified; so a checkpoint never
//! certifies a chain this node has not checked.
//!
//! What this module does not do: re-hash a whole chain, or check events outside the tail
//! (reads check each event on its own, see `audits.rs`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use portcullis_store::checkpoint::{Checkpoint, check_keyed_after, parse_checkpoints};
use portcullis_store::{AuditQuery, Store, TenantId};

use crate::state::AppState;

/// How many of a chain's last events are checked when a tenant is loaded.
pub const TAIL_EVENTS: u64 = 1000;

/// Where and how often this node writes checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// The file checkpoints are appended to (JSON lines), and read at start.
    pub path: PathBuf,
    /// A tenant whose chain grew by this many events gets a checkpoint at the next tick.
    pub every_events: u64,
    /// A tenant whose chain grew at all gets one at least this often.
    pub every: Duration,
}

/// What this node knows of one tenant's chain.
#[derive(Debug, Clone)]
struct ChainState {
    /// The tenant's name.
    tenant: String,
    /// Why the chain is not trusted (`None`: it checked out).
    problem: Option<String>,
    /// The furthest (sequence number, hash) this node has verified the chain up to.
    trusted: Option<(u64, String)>,
    /// The latest checkpoint of the tenant in the file (read at start or written since).
    last_checkpoint: Option<Checkpoint>,
    /// When this node last wrote one for the tenant.
    last_written: Option<Instant>,
}

/// The checkpoint file and every tenant's chain state on this node.
#[derive(Debug, Default)]
pub struct AuditIntegrity {
    checkpoints: Option<CheckpointConfig>,
    /// Per tenant (name, store id) in the file at start: its latest checkpoint, and whether it
    /// has a tombstone. Only these are kept, so a file of years of checkpoints costs memory in
    /// proportion to its tenants.
    from_file: BTreeMap<(String, i64), (Checkpoint, bool)>,
    /// Per tenant store id.
    chains: Mutex<BTreeMap<i64, ChainState>>,
    /// Serializes appends to the file.
    append: tokio::sync::Mutex<()>,
}

/// What checking a tenant's chain found.
#[derive(Debug, Clone)]
pub struct TenantCheck {
    /// Why the chain is not trusted (`None`: it checked out).
    pub problem: Option<String>,
    /// The first sequence number from which every event must be keyed on reads (`None`: no
    /// such rule, this node holds no key).
    pub keyed_from: Option<u64>,
}

impl AuditIntegrity {
    /// Reads the checkpoint file (a missing file is an empty one). A file that is not a
    /// checkpoint file is an error: it is the operator's, and damage to it must be seen.
    pub fn open(checkpoints: Option<CheckpointConfig>) -> Result<AuditIntegrity, String> {
        let mut from_file: BTreeMap<(String, i64), (Checkpoint, bool)> = BTreeMap::new();
        if let Some(config) = &checkpoints {
            let shown = config.path.display();
            let file = match std::fs::File::open(&config.path) {
                Ok(file) => Some(file),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(error) => return Err(format!("cannot read the checkpoint file `{shown}`: {error}")),
            };
            // Line by line: only each tenant's latest checkpoint is kept.
            for (index, line) in file
                .into_iter()
                .flat_map(|f| std::io::BufRead::lines(std::io::BufReader::new(f)))
                .enumerate()
            {
                let line = line.map_err(|e| format!("cannot read the checkpoint file `{shown}`: {e}"))?;
                let parsed = parse_checkpoints(&line).map_err(|e| format!("the checkpoint file `{shown}`, line {}: {e}", index + 1))?;
                for checkpoint in parsed {
                    let entry = from_file
                        .entry((checkpoint.tenant.clone(), checkpoint.tenant_id))
                        .or_insert_with(|| (checkpoint.clone(), false));
                    entry.1 |= checkpoint.deleted;
                    if checkpoint.seq >= entry.0.seq {
                        entry.0 = checkpoint;
                    }
                }
            }
        }
        Ok(AuditIntegrity {
            checkpoints,
            from_file,
            ..AuditIntegrity::default()
        })
    }

    /// Whether checkpoints are written.
    pub fn config(&self) -> Option<&CheckpointConfig> {
        self.checkpoints.as_ref()
    }

    fn chains(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, ChainState>> {
        self.chains.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Each known chain's tenant and whether it checked out, by tenant name (a name that two
    /// store ids had, a tenant deleted and created again, is one series: broken if either is).
    pub fn statuses(&self) -> Vec<(String, bool)> {
        let mut by_name: BTreeMap<String, bool> = BTreeMap::new();
        for chain in self.chains().values() {
            *by_name.entry(chain.tenant.clone()).or_insert(true) &= chain.problem.is_none();
        }
        by_name.into_iter().collect()
    }

    /// How many chains did not check out.
    pub fn n_broken(&self) -> usize {
        self.chains().values().filter(|c| c.problem.is_some()).count()
    }

    /// Why a tenant's chain is not trusted, if it is not.
    pub fn problem(&self, tenant: TenantId) -> Option<String> {
        self.chains().get(&tenant.0).and_then(|c| c.problem.clone())
    }

    fn mark_broken(&self, tenant: TenantId, name: &str, problem: String) {
        tracing::error!(tenant = %name, problem = %problem, "the audit trail does not check out; run `portcullis audit verify`");
        let mut chains = self.chains();
        let state = chains.entry(tenant.0).or_insert_with(|| ChainState {
            tenant: name.to_owned(),
            problem: None,
            trusted: None,
            last_checkpoint: None,
            last_written: None,
        });
        state.problem = Some(problem);
        state.trusted = None;
    }

    /// The tenant's latest checkpoint in the file as read at start.
    fn latest_in_file(&self, tenant: TenantId, name: &str) -> Option<Checkpoint> {
        self.from_file.get(&(name.to_owned(), tenant.0)).map(|(latest, _)| latest.clone())
    }

    /// Checks a tenant's chain (anchor, tail, latest checkpoint) and records what was found.
    pub async fn check_tenant(&self, store: &dyn Store, tenant: TenantId, name: &str) -> TenantCheck {
        let checkpoint = self.latest_in_file(tenant, name);
        let started = Instant::now();
        let (result, keyed_from) = match store.audit_tail(tenant, TAIL_EVENTS).await {
            Ok(tail) => {
                let keyed_from = store.audit_keys().sealing().map(|_| tail.first_keyed_seq().unwrap_or(tail.head_seq + 1));
                (check_tail(store, tenant, &tail, checkpoint.as_ref()).await, keyed_from)
            }
            Err(error) => (Err(format!("cannot read the audit trail: {error}")), None),
        };
        tracing::debug!(tenant = %name, elapsed_ms = started.elapsed().as_millis() as u64, "audit chain checked");
        let problem = result.as_ref().err().cloned();
        match result {
            Ok(trusted) => {
                let mut chains = self.chains();
                chains.insert(
                    tenant.0,
                    ChainState {
                        tenant: name.to_owned(),
                        problem: None,
                        trusted: Some(trusted),
                        last_checkpoint: checkpoint,
                        last_written: None,
                    },
                );
            }
            Err(problem) => self.mark_broken(tenant, name, problem),
        }
        TenantCheck { problem, keyed_from }
    }

    /// Tenants with checkpoints in the file that are not in the store and were not deleted
    /// through a server (no tombstone): marked broken, since their trail vanished.
    pub fn check_gone(&self, stored: &[(TenantId, String)]) {
        for ((tenant, tenant_id), (latest, tombstoned)) in &self.from_file {
            let present = stored.iter().any(|(id, name)| id.0 == *tenant_id && name == tenant);
            if present || *tombstoned {
                continue;
            }
            let problem = format!(
                "tenant `{tenant}` (store id {tenant_id}) has checkpoints (the latest at {}, event {}) but is not in the database: it was deleted",
                latest.time, latest.seq
            );
            self.mark_broken(TenantId(*tenant_id), tenant, problem);
        }
    }

    /// Forgets a tenant deleted (through this node, or another one).
    pub fn forget(&self, tenant: TenantId) {
        self.chains().remove(&tenant.0);
    }

    /// Appends a checkpoint line and flushes it to disk.
    pub async fn append(&self, checkpoint: &Checkpoint) -> Result<(), String> {
        let Some(config) = &self.checkpoints else { return Ok(()) };
        let _guard = self.append.lock().await;
        let path = config.path.clone();
        let line = format!("{}\n", checkpoint.to_line());
        tokio::task::spawn_blocking(move || {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            file.write_all(line.as_bytes())?;
            file.sync_data()
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot append to the checkpoint file `{}`: {e}", config.path.display()))
    }
}

/// The tail check: the tail verifies, ends at the anchor's head, and agrees with the latest
/// checkpoint (whose event is fetched when it is older than the tail). Returns the head.
async fn check_tail(
    store: &dyn Store,
    tenant: TenantId,
    tail: &portcullis_store::AuditChain,
    checkpoint: Option<&Checkpoint>,
) -> Result<(u64, String), String> {
    tail.verify().map_err(|e| e.to_string())?;
    if let Some(checkpoint) = checkpoint {
        checkpoint.check_signature(store.audit_keys()).map_err(|e| e.to_string())?;
        if let Some(seq) = checkpoint.check_chain(tail).map_err(|e| e.to_string())? {
            let event = store.audit_event(tenant, seq).await.map_err(|e| e.to_string())?;
            checkpoint
                .check_event(event.as_ref().map(|(sealed, _)| sealed))
                .map_err(|e| e.to_string())?;
        }
        check_keyed_after(tail, checkpoint).map_err(|e| e.to_string())?;
    }
    Ok((tail.head_seq, tail.head_hash.clone()))
}

impl AppState {
    /// Appends checkpoints to the configured file, forever: every second, each tenant whose
    /// chain head moved by the configured number of events, or moved at all within the
    /// configured time, is verified from the last point this node verified to its new head,
    /// and checkpointed. A chain that no longer agrees is marked broken and not checkpointed.
    pub async fn write_checkpoints(self) {
        let Some(config) = self.audit_integrity().config().cloned() else {
            return;
        };
        let mut ticker = tokio::time::interval(Duration::from_secs(1).min(config.every.max(Duration::from_millis(10))));
        loop {
            ticker.tick().await;
            self.checkpoint_once(&config).await;
        }
    }

    /// One round of [`AppState::write_checkpoints`]; returns how many checkpoints were written.
    pub async fn checkpoint_once(&self, config: &CheckpointConfig) -> usize {
        let store = self.store().clone();
        let Some(key) = store.audit_keys().sealing().cloned() else { return 0 };
        let heads = match store.audit_heads().await {
            Ok(heads) => heads,
            Err(error) => {
                tracing::warn!(%error, "cannot read the audit chains' heads");
                return 0;
            }
        };
        let mut written = 0;
        for (id, head_seq, head_hash) in heads {
            // A tenant not loaded here yet (created by another node) is loaded and checked.
            if !self.audit_integrity().chains().contains_key(&id.0) {
                match self.tenant(id).await {
                    Ok(Some(_)) => {}
                    _ => continue,
                }
            }
            let Some(state) = self.audit_integrity().chains().get(&id.0).cloned() else {
                continue;
            };
            if state.problem.is_some() {
                continue;
            }
            let last_seq = state.last_checkpoint.as_ref().map(|c| c.seq);
            let moved = last_seq != Some(head_seq) || state.last_checkpoint.as_ref().is_some_and(|c| c.head != head_hash);
            if !moved {
                continue;
            }
            let due = match (last_seq, state.last_written) {
                (None, _) | (_, None) => true,
                (Some(last), Some(at)) => head_seq >= last.saturating_add(config.every_events.max(1)) || at.elapsed() >= config.every,
            };
            if !due {
                continue;
            }
            let trusted = match self.extend_trusted(id, &state, head_seq, &head_hash).await {
                Ok(trusted) => trusted,
                Err(problem) => {
                    self.audit_integrity().mark_broken(id, &state.tenant, problem);
                    continue;
                }
            };
            let checkpoint = Checkpoint::sign(&key, &state.tenant, id.0, trusted.0, &trusted.1, &portcullis_store::rfc3339_now());
            if let Err(error) = self.audit_integrity().append(&checkpoint).await {
                tracing::error!(tenant = %state.tenant, %error, "cannot write an audit checkpoint");
                continue;
            }
            self.metrics().record_checkpoint();
            written += 1;
            if let Some(chain) = self.audit_integrity().chains().get_mut(&id.0) {
                chain.trusted = Some(trusted);
                chain.last_checkpoint = Some(checkpoint);
                chain.last_written = Some(Instant::now());
            }
        }
        written
    }

    /// Verifies a tenant's chain from the last point this node verified to `head`: the events
    /// in between link to it and to each other, each checks on its own, and the last is the
    /// head. When they cannot be read from there (archived meanwhile), the tail is checked
    /// again instead.
    async fn extend_trusted(&self, tenant: TenantId, state: &ChainState, head_seq: u64, head_hash: &str) -> Result<(u64, String), String> {
        let store = self.store();
        let Some((trusted_seq, trusted_hash)) = state.trusted.clone() else {
            return Err("the chain was not verified on this node".to_owned());
        };
        if head_seq < trusted_seq {
            return Err(format!(
                "the chain now ends at event {head_seq}, but this node verified it up to event {trusted_seq}: its last events were removed"
            ));
        }
        if head_seq == trusted_seq {
            return if head_hash == trusted_hash {
                Ok((trusted_seq, trusted_hash))
            } else {
                Err(format!("event {head_seq} is not the one this node verified: the chain was rewritten"))
            };
        }
        let query = AuditQuery {
            after_seq: Some(trusted_seq),
            before_seq: Some(head_seq + 1),
            ..AuditQuery::default()
        };
        let events = store.audit_events(tenant, &query).await.map_err(|e| e.to_string())?;
        if events.first().is_none_or(|(first, _)| first.seq != trusted_seq + 1) {
            let tail = store.audit_tail(tenant, TAIL_EVENTS).await.map_err(|e| e.to_string())?;
            return check_tail(store.as_ref(), tenant, &tail, state.last_checkpoint.as_ref()).await;
        }
        let sealed: Vec<_> = events.into_iter().map(|(sealed, _)| sealed).collect();
        portcullis_store::verify(&sealed, &trusted_hash, store.audit_keys()).map_err(|e| e.to_string())?;
        match sealed.last() {
            Some(last) if last.seq == head_seq && last.hash == head_hash => Ok((head_seq, head_hash.to_owned())),
            _ => Err(format!("the events after {trusted_seq} do not end at the chain's head, event {head_seq}")),
        }
    }

    /// After a tenant was deleted through this node: its tombstone checkpoint, so that its
    /// absence from the database is known to be on purpose.
    pub(crate) async fn write_tombstone(&self, tenant: TenantId, name: &str, head: Option<(u64, String)>) {
        let integrity = self.audit_integrity();
        integrity.forget(tenant);
        let (Some(_), Some(key)) = (integrity.config(), self.store().audit_keys().sealing()) else {
            return;
        };
        let (seq, hash) = head.unwrap_or((0, portcullis_store::GENESIS.to_owned()));
        let tombstone = Checkpoint::tombstone(key, name, tenant.0, seq, &hash, &portcullis_store::rfc3339_now());
        if let Err(error) = integrity.append(&tombstone).await {
            tracing::error!(tenant = %name, %error, "cannot write the deleted tenant's checkpoint");
        }
    }
}
