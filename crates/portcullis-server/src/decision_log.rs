//! Decision logging. A decision that the tenant's policy logs (data-leaving actions always,
//! allowed or denied; the rest by mode and sampling) becomes an [`EventDraft`] with the
//! explanation as it was at that moment. One background task appends the events in batches,
//! one transaction per tenant and batch.
//!
//! INVARIANT: a data-leaving decision is answered only after its event is committed
//! ([`DecisionLog::store`] waits for it): every acknowledged download is in the trail, even if
//! the process is killed the next moment. The writer commits as soon as such an event is
//! waiting, taking everything queued meanwhile into the same transaction (group commit), so
//! throughput comes from batching, not from answering early. Other logged decisions are queued
//! ([`DecisionLog::record`]) and committed within [`MAX_WAIT`]. A full queue makes the deciding
//! request wait (back-pressure), never drops an event. [`DecisionLog::flush`] returns once
//! everything queued before it is stored; graceful shutdown calls it. A change's own event is
//! not queued here: the store writes it in the change's transaction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use portcullis_engine::{Decision, Snapshot};
use portcullis_store::{Author, EventDraft, EventType, ResourceRef, Store, StoreError, TenantId};
use tokio::sync::{mpsc, oneshot};

use crate::dto::ExplanationBody;

/// Events past which the writer commits what it has without taking more.
pub const MAX_BATCH: usize = 1000;
/// Longest a queued (not waited-for) event waits before its batch is appended.
pub const MAX_WAIT: Duration = Duration::from_millis(50);
/// Queue length, in messages: past it, deciding requests wait.
pub const QUEUE: usize = 10_000;

/// Why events that had to be stored before the answer were not.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the decision log could not store the events: {0}")]
pub struct NotLogged(String);

type Ack = oneshot::Sender<Result<(), NotLogged>>;

enum Message {
    Events {
        tenant: TenantId,
        drafts: Vec<EventDraft>,
        ack: Option<Ack>,
    },
    Flush(oneshot::Sender<()>),
}

/// The sending side of the decision log. Cheap to clone.
#[derive(Clone)]
pub struct DecisionLog {
    sender: mpsc::Sender<Message>,
}

impl DecisionLog {
    /// Starts the background writer on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> DecisionLog {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, receiver));
        DecisionLog { sender }
    }

    /// Queues an event, waiting while the queue is full; it is committed within [`MAX_WAIT`].
    pub async fn record(&self, tenant: TenantId, draft: EventDraft) {
        let message = Message::Events {
            tenant,
            drafts: vec![draft],
            ack: None,
        };
        if self.sender.send(message).await.is_err() {
            tracing::error!(tenant = %tenant, "the decision log writer has stopped; an event could not be queued");
        }
    }

    /// Stores events and returns once they are committed (in one transaction with whatever
    /// else is waiting).
    pub async fn store(&self, tenant: TenantId, drafts: Vec<EventDraft>) -> Result<(), NotLogged> {
        if drafts.is_empty() {
            return Ok(());
        }
        let (ack, stored) = oneshot::channel();
        let stopped = || NotLogged("the decision log writer has stopped".to_owned());
        self.sender
            .send(Message::Events {
                tenant,
                drafts,
                ack: Some(ack),
            })
            .await
            .map_err(|_| stopped())?;
        stored.await.map_err(|_| stopped())?
    }

    /// Waits until every event queued before this call is stored.
    pub async fn flush(&self) {
        let (done, stored) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

/// The events of one request's decisions: the data-leaving ones are stored before the request
/// is answered, the rest are queued.
#[derive(Default)]
pub struct DecisionEvents {
    durable: Vec<EventDraft>,
    queued: Vec<EventDraft>,
}

impl DecisionEvents {
    /// Adds the event of a decision; `data_leaving` ones must be stored before the answer.
    pub fn push(&mut self, draft: EventDraft, data_leaving: bool) {
        if data_leaving {
            self.durable.push(draft);
        } else {
            self.queued.push(draft);
        }
    }

    /// Queues the ordinary events and stores the data-leaving ones, returning once those are
    /// committed.
    pub async fn store(self, log: &DecisionLog, tenant: TenantId) -> Result<(), NotLogged> {
        for draft in self.queued {
            log.record(tenant, draft).await;
        }
        log.store(tenant, self.durable).await
    }
}

/// One tenant's part of a batch: its events, and who waits for them.
#[derive(Default)]
struct TenantBatch {
    drafts: Vec<EventDraft>,
    acks: Vec<Ack>,
}

async fn write_batches(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Message>) {
    while let Some(first) = receiver.recv().await {
        let mut batch: BTreeMap<TenantId, TenantBatch> = BTreeMap::new();
        let mut flushes = Vec::new();
        let mut n = 0;
        // Someone waits for an event of this batch: commit what is here, do not wait for more.
        let mut waited_for = false;
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Events { tenant, drafts, ack } => {
                    n += drafts.len();
                    let part = batch.entry(tenant).or_default();
                    part.drafts.extend(drafts);
                    if let Some(ack) = ack {
                        part.acks.push(ack);
                        waited_for = true;
                    }
                }
                Message::Flush(done) => {
                    flushes.push(done);
                    break;
                }
            }
            if n >= MAX_BATCH {
                break;
            }
            next = if waited_for {
                receiver.try_recv().ok()
            } else {
                tokio::time::timeout_at(deadline, receiver.recv()).await.ok().flatten()
            };
        }
        for (tenant, part) in batch {
            let result = append_with_retries(&store, tenant, &part.drafts).await;
            for ack in part.acks {
                let _ = ack.send(result.clone());
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn append_with_retries(store: &Arc<dyn Store>, tenant: TenantId, drafts: &[EventDraft]) -> Result<(), NotLogged> {
    let mut delay = Duration::from_millis(20);
    let mut attempt = 1;
    loop {
        match store.append_events(tenant, drafts).await {
            Ok(_) => return Ok(()),
            Err(StoreError::NotFound(what)) => return Err(NotLogged(format!("the tenant is gone ({what})"))),
            Err(error) if attempt < 5 => {
                tracing::warn!(tenant = %tenant, %error, attempt, "appending decision events failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(error) => {
                tracing::error!(tenant = %tenant, %error, n_events = drafts.len(), "decision events could not be stored");
                return Err(NotLogged(error.to_string()));
            }
        }
    }
}

/// A well-mixed number for deterministic sampling (FNV-1a).
pub fn sample_key(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash ^ (hash >> 29)
}

/// What the log records of one decision.
pub struct Decided<'a> {
    /// Who asked (the credential's owner).
    pub author: Author,
    /// The user the decision is about.
    pub user: &'a str,
    /// The channel the decision was made for.
    pub via: &'a portcullis_model::Channel,
    /// The action.
    pub action: &'a str,
    /// The resource id.
    pub resource: Option<&'a str>,
}

/// The event of a decision, with its resource's space and owner at that moment.
pub fn decision_event(snapshot: &Snapshot, decided: &Decided<'_>, decision: &Decision) -> EventDraft {
    let resource = decided.resource.map(|id| match snapshot.content_idx(id) {
        Some(idx) => {
            let item = snapshot.content_item(idx);
            ResourceRef {
                kind: item.kind.as_str().to_owned(),
                id: id.to_owned(),
                space: item.space.map(|s| snapshot.space(s).id.to_string()),
                owner: item.owner.map(|owner| snapshot.user(owner).id.to_string()),
            }
        }
        None => ResourceRef {
            kind: "space".to_owned(),
            id: id.to_owned(),
            space: Some(id.to_owned()),
            owner: None,
        },
    });
    let mut author = decided.author.clone();
    // The event is about the decided user; the asker is kept when it is someone else.
    let asker = author.actor.user.replace(decided.user.to_owned());
    let explanation = serde_json::to_value(ExplanationBody::from_explanation(&decision.explanation)).ok();
    EventDraft {
        event_type: EventType::for_decision(decided.action),
        author,
        action: decided.action.to_owned(),
        resource,
        decision: Some(decision.verdict().to_owned()),
        explanation,
        data: serde_json::json!({ "via": decided.via.to_string(), "askedBy": asker }),
        event_time: Some(portcullis_store::rfc3339_now()),
    }
}
