//! The Qlik Cloud access decision: `decide(snapshot, request) -> Decision`.
//!
//! A pure function over an immutable [`Snapshot`] built from a validated tenant. No IO, no
//! async, no locks; a decision without explanation allocates nothing. Default deny: a
//! decision is an allow only when a grant path of the spec is found, and every deny says
//! why in its [`Explanation`].
#![warn(missing_docs)]

pub mod cow;
pub mod decide;
pub mod err;
pub mod explain;
pub mod id_map;
pub mod list;
pub mod request;
pub mod session;
pub mod snapshot;
pub mod tables;
pub mod whatif;

pub use decide::{Decision, admin_scope, allows, decide, tenant_caps, user_scope};
pub use err::RequestError;
pub use explain::{Explanation, Reason, Via};
pub use list::{candidate_users, permitted_content};
pub use portcullis_model::Channel;
pub use request::{RawRequest, Request, Resolved, Resource, resolve, resolve_resource};
pub use session::{FrozenRights, FrozenRole, FrozenVia, SessionTimeouts, Sessions};
pub use snapshot::{ClientIdx, ContentHot, ContentIdx, GroupBinding, GroupIdx, Snapshot, SpaceIdx, TenantRights, UserIdx};
pub use whatif::{AccessChange, AccessDiff, AccessGroup, WhatIfCost, WhatIfError, diff, propose, what_if};
