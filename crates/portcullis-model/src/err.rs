//! Errors of model mutations: each names the thing and, where it can, what is known instead.

use crate::space::SpaceType;

/// A mutation that would break the tenant's consistency; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No such user.
    #[error("unknown user `{id}` (the tenant has {n_known} users)")]
    UnknownUser {
        /// The id asked for.
        id: String,
        /// How many users exist.
        n_known: usize,
    },
    /// No such group.
    #[error("unknown group `{name}`")]
    UnknownGroup {
        /// The name asked for.
        name: String,
    },
    /// No such role.
    #[error("unknown role `{name}`; known roles: {known}")]
    UnknownRole {
        /// The name asked for.
        name: String,
        /// Every known role.
        known: String,
    },
    /// UserDefault is held by everyone and cannot be assigned.
    #[error("`UserDefault` is every user's baseline and cannot be assigned or removed")]
    UserDefaultNotAssignable,
    /// Joining a group twice.
    #[error("user `{user}` is already a member of group `{group}`")]
    AlreadyMember {
        /// The user.
        user: String,
        /// The group.
        group: String,
    },
    /// A permission UserDefault cannot hold.
    #[error("permission `{permission}` cannot be set in UserDefault (custom roles only)")]
    NotInUserDefault {
        /// The permission key.
        permission: &'static str,
    },
    /// A value the permission does not take.
    #[error("permission `{permission}` does not take the value `{value}`; its values are {known}")]
    BadPermissionValue {
        /// The permission key.
        permission: &'static str,
        /// The value given.
        value: String,
        /// Its values.
        known: String,
    },
    /// An app placed in a data space: apps cannot live there (spec §8.1, §8.4; README).
    #[error("app `{app}` cannot be in data space `{space}`: a data space holds no apps")]
    AppInDataSpace {
        /// The app.
        app: String,
        /// The data space.
        space: String,
    },
    /// A space role outside the type's assignable roles.
    #[error("space role `{role}` is not assignable in a {space_type} space; assignable roles: {assignable}")]
    RoleNotAssignableInSpace {
        /// The role.
        role: &'static str,
        /// The space type.
        space_type: SpaceType,
        /// What is assignable.
        assignable: String,
    },
}
