//! Interactive sessions: a user's tenant-level rights frozen at login (spec §5.4).
//!
//! API keys and tokens read the snapshot's current rights; a session keeps the rights of
//! its login until the next one. When a new snapshot replaces the old, [`Sessions::rebind`]
//! re-resolves the frozen groups by name so space roles are still read live through them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::snapshot::{Snapshot, TenantRights, UserIdx};

/// The open sessions of one tenant, by user id.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    by_user: HashMap<Arc<str>, TenantRights>,
}

impl Sessions {
    /// Logs a user in: freezes their current rights. Returns false for an unknown user.
    pub fn login(&mut self, snapshot: &Snapshot, user: UserIdx) -> bool {
        let Some(info) = snapshot.users.get(user.0 as usize) else { return false };
        self.by_user.insert(info.id.clone(), info.rights.clone());
        true
    }

    /// The frozen rights of a user's session, if logged in.
    pub fn rights(&self, user_id: &str) -> Option<&TenantRights> {
        self.by_user.get(user_id)
    }

    /// Re-resolves every session's groups against a newer snapshot.
    pub fn rebind(&mut self, snapshot: &Snapshot) {
        for rights in self.by_user.values_mut() {
            rights.rebind(snapshot);
        }
    }
}
