//! One write to a tenant's access model, as a value: the store applies it in one
//! transaction with the same rules as the model's own mutations (`Tenant::assign_role`, ...),
//! and refuses it with the model's error when they would refuse it.

use portcullis_model::tenant::RoleTarget;
use portcullis_model::{Permission, PermissionValue, TenantSetting};

/// A write to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Assigns a role to a user, a group or Everyone (no change when already held on that path).
    AssignRole {
        /// Role name.
        role: String,
        /// Where.
        target: RoleTarget,
    },
    /// Removes a role from one path (no change when not held on that path).
    UnassignRole {
        /// Role name.
        role: String,
        /// Where.
        target: RoleTarget,
    },
    /// Adds a user to a group.
    JoinGroup {
        /// User id.
        user: String,
        /// Group name.
        group: String,
    },
    /// Removes a user from a group (no change when not a member).
    LeaveGroup {
        /// User id.
        user: String,
        /// Group name.
        group: String,
    },
    /// Turns a tenant setting on or off.
    SetSetting {
        /// The setting.
        setting: TenantSetting,
        /// On or off.
        value: bool,
    },
    /// Sets a UserDefault permission.
    SetUserDefault {
        /// The permission.
        permission: Permission,
        /// Its value.
        value: PermissionValue,
    },
    /// A login: entitlement toggles that are on record their roles for the user.
    RecordLogin {
        /// User id.
        user: String,
    },
}

impl Change {
    /// A short name of the change, kept in the revision log.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::AssignRole { .. } => "assign-role",
            Change::UnassignRole { .. } => "unassign-role",
            Change::JoinGroup { .. } => "join-group",
            Change::LeaveGroup { .. } => "leave-group",
            Change::SetSetting { .. } => "set-setting",
            Change::SetUserDefault { .. } => "set-user-default",
            Change::RecordLogin { .. } => "record-login",
        }
    }
}
