//! The audit trail's pure core (no IO, no clock): what an event holds, how each tenant's
//! events are chained by hashes so that an altered or removed event is found, which
//! decisions are logged, and how events are filtered for queries.
//!
//! The store persists events in the same transaction as the change they record and calls
//! [`chain::seal`] to fill in the hashes; `portcullis audit verify` calls [`chain::verify`].
#![warn(missing_docs)]

pub mod chain;
pub mod event;
pub mod policy;
pub mod query;

pub use chain::{ChainBreak, GENESIS, SealedEvent, seal, verify};
pub use event::{Actor, EventBody, EventType, ResourceRef};
pub use policy::{DecisionLogMode, DecisionLogPolicy};
pub use query::AuditQuery;
