//! Interactive sessions: a user's tenant-level rights frozen at login (spec §5.4).
//!
//! API keys and tokens read the snapshot's current rights; a session keeps the rights of
//! its login until the next one. The frozen groups are held by index and by name, so space
//! roles are still read live through them: when a newer snapshot numbers groups differently
//! (groups were created or deleted, or it was built from scratch), [`Sessions::rebind`]
//! re-resolves them by name. Carrying sessions to the next snapshot is O(1) otherwise: the map
//! is persistent, so cloning it copies nothing.

use std::sync::Arc;

use rustc_hash::FxBuildHasher;

use crate::snapshot::{GroupBinding, Snapshot, TenantRights, UserIdx};

/// The open sessions of one tenant, by user id.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    by_user: imbl::GenericHashMap<Arc<str>, TenantRights, FxBuildHasher, imbl::shared_ptr::DefaultSharedPtr>,
    /// The snapshot numbering every session's groups are resolved against (`None`: unknown).
    bound: Option<GroupBinding>,
}

impl Sessions {
    /// Logs a user in: freezes their current rights. Returns false for an unknown user.
    pub fn login(&mut self, snapshot: &Snapshot, user: UserIdx) -> bool {
        let Some(info) = snapshot.users.get(user.0 as usize) else { return false };
        self.by_user.insert(info.id.clone(), info.rights.clone());
        if self.by_user.len() == 1 {
            self.bound = Some(snapshot.group_binding());
        } else if self.bound != Some(snapshot.group_binding()) {
            self.bound = None;
        }
        true
    }

    /// The frozen rights of a user's session, if logged in.
    pub fn rights(&self, user_id: &str) -> Option<&TenantRights> {
        self.by_user.get(user_id)
    }

    /// The number of open sessions.
    pub fn len(&self) -> usize {
        self.by_user.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }

    /// Re-resolves every session's groups against a newer snapshot; nothing to do (O(1)) when
    /// that snapshot numbers groups as the one they were resolved against.
    pub fn rebind(&mut self, snapshot: &Snapshot) {
        let binding = snapshot.group_binding();
        if self.bound == Some(binding) {
            return;
        }
        for (_, rights) in self.by_user.iter_mut() {
            rights.rebind(snapshot);
        }
        self.bound = Some(binding);
    }
}
