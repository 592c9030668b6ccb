//! The vocabulary of the Qlik Cloud access model (spec `cloud-model.md`), and the tenant
//! file format. Pure data: no IO, no async, no decisions (those are the engine's).
#![warn(missing_docs)]

pub mod action;
pub mod capability;
pub mod change;
pub mod channel;
pub mod err;
pub mod links;
pub mod meta;
pub mod permission;
pub mod refs;
pub mod role;
pub mod scope;
pub mod source;
pub mod space;
pub mod step;
pub mod table;
pub mod tenant;
pub mod tenant_file;
pub mod tenant_ops;

pub use action::{Action, ResourceKind};
pub use capability::{CapSet, Capability};
pub use change::{Applied, Change, Touched, Undo};
pub use channel::{Channel, UnknownChannel};
pub use err::{LimitError, ModelError};
pub use links::{Link, LinkTable};
pub use meta::{ClientProfile, Meta, MetaTarget};
pub use permission::{Permission, PermissionValue};
pub use refs::{Owned, Refs};
pub use space::{SpaceRole, SpaceRoleSet, SpaceType};
pub use table::{Keyed, Table};
pub use tenant::*;

/// The word for a decision in every answer, event and report: `allow` or `deny`.
pub fn verdict(allowed: bool) -> &'static str {
    if allowed { "allow" } else { "deny" }
}

#[cfg(test)]
mod tests;
