//! The audit trail's pure core (no IO, no clock): what an event holds, how each tenant's
//! events are chained by hashes (keyed with the audit key when one is held) so that an
//! altered or removed event is found, the signed checkpoints that pin a chain from outside
//! the database, which decisions are logged, and how events are filtered for queries.
//!
//! The store persists events in the same transaction as the change they record and calls
//! [`chain::seal_with`] to fill in the hashes; `portcullis audit verify` calls
//! [`AuditChain::verify`] and [`checkpoint::check_checkpoints`].
#![warn(missing_docs)]

pub mod chain;
pub mod checkpoint;
pub mod draft;
pub mod event;
pub mod key;
pub mod policy;
pub mod query;

pub use chain::{AuditChain, ChainBreak, GENESIS, IndexColumns, Position, SealedEvent, check_event, seal, seal_with, verify};
pub use checkpoint::{Checkpoint, CheckpointBreak, TenantCheckpoints};
pub use draft::{AuditSettings, Author, EventDraft, change_event, rfc3339_millis};
pub use event::{Actor, EventBody, EventType, ResourceRef};
pub use key::{AuditKey, KeyError, Keyring};
pub use policy::{DecisionLogMode, DecisionLogPolicy};
pub use query::{AuditOrder, AuditQuery};
