//! Decision logging off the hot path. A decision that the tenant's policy logs (data-leaving
//! actions always, allowed or denied; the rest by mode and sampling) becomes an
//! [`EventDraft`] with the explanation as it was at that moment, sent to a bounded queue; one
//! background task appends the queue in batches (up to [`MAX_BATCH`] events or every
//! [`MAX_WAIT`]), one transaction per tenant and batch.
//!
//! INVARIANT: a full queue makes the deciding request wait (`send().await`): back-pressure,
//! never a dropped event. [`DecisionLog::flush`] returns once everything queued before it is
//! stored; graceful shutdown calls it. A change's own event is not queued here: the store
//! writes it in the change's transaction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use portcullis_engine::{Decision, Snapshot};
use portcullis_store::{Author, EventDraft, EventType, ResourceRef, Store, TenantId};
use tokio::sync::{mpsc, oneshot};

use crate::dto::ExplanationBody;

/// Most events appended in one transaction.
pub const MAX_BATCH: usize = 1000;
/// Longest an event waits in the queue before its batch is appended.
pub const MAX_WAIT: Duration = Duration::from_millis(50);
/// Queue length: past it, deciding requests wait.
pub const QUEUE: usize = 10_000;

enum Message {
    Event(TenantId, Box<EventDraft>),
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

    /// Queues an event, waiting while the queue is full.
    pub async fn record(&self, tenant: TenantId, draft: EventDraft) {
        if self.sender.send(Message::Event(tenant, Box::new(draft))).await.is_err() {
            tracing::error!(tenant = %tenant, "the decision log writer has stopped; an event could not be queued");
        }
    }

    /// Waits until every event queued before this call is stored.
    pub async fn flush(&self) {
        let (done, stored) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Message>) {
    while let Some(first) = receiver.recv().await {
        let mut batch: BTreeMap<TenantId, Vec<EventDraft>> = BTreeMap::new();
        let mut flushes = Vec::new();
        let mut n = 0;
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Message::Event(tenant, draft)) => {
                    batch.entry(tenant).or_default().push(*draft);
                    n += 1;
                }
                Some(Message::Flush(done)) => {
                    flushes.push(done);
                    break;
                }
                None => {}
            }
            if n >= MAX_BATCH {
                break;
            }
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(message)) => next = Some(message),
                Ok(None) | Err(_) => break,
            }
        }
        for (tenant, drafts) in batch {
            append_with_retries(&store, tenant, &drafts).await;
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn append_with_retries(store: &Arc<dyn Store>, tenant: TenantId, drafts: &[EventDraft]) {
    let mut delay = Duration::from_millis(20);
    for attempt in 1..=5 {
        match store.append_events(tenant, drafts).await {
            Ok(_) => return,
            Err(portcullis_store::StoreError::NotFound(_)) => return,
            Err(error) if attempt < 5 => {
                tracing::warn!(tenant = %tenant, %error, attempt, "appending decision events failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(error) => tracing::error!(tenant = %tenant, %error, n_events = drafts.len(), "decision events could not be stored"),
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
    pub via: &'a str,
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
                kind: if item.kind == portcullis_model::ContentKind::App {
                    "app"
                } else {
                    "data-connection"
                }
                .to_owned(),
                id: id.to_owned(),
                space: item.space.map(|s| snapshot.space(s).id.to_string()),
                owner: Some(snapshot.user(item.owner).id.to_string()),
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
        decision: Some(if decision.allowed { "allow" } else { "deny" }.to_owned()),
        explanation,
        data: serde_json::json!({ "via": decided.via, "askedBy": asker }),
        event_time: Some(portcullis_store::rfc3339_now()),
    }
}
