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
    /// A scope no permission a custom role may set stands for (an OAuth-only scope such as
    /// `admin_classic`, a built-in role's scope, or an unknown word).
    #[error("scope `{scope}` cannot be held by a custom role; the scopes a custom role can hold are {known}")]
    ScopeNotInCustomRoles {
        /// The scope given.
        scope: String,
        /// Every scope a custom role can hold.
        known: String,
    },
    /// A custom role's scope setting outside its permission, or empty.
    #[error("custom role setting `{setting}` is not a set of the scopes of permission `{permission}` ({known})")]
    BadScopeSetting {
        /// The permission key.
        permission: &'static str,
        /// The setting in words.
        setting: String,
        /// The permission's scopes.
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

/// Input refused because it is longer, deeper or larger than its parser reads. Parsers check
/// these before the input can cost stack or memory; each message names the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// More bytes than the parser reads.
    #[error("{what} is longer than {limit} bytes")]
    TooLong {
        /// What was too long (`filter`, `condition`, ...).
        what: &'static str,
        /// The limit, in bytes.
        limit: usize,
    },
    /// Nested deeper than the parser follows.
    #[error("{what} nests deeper than {limit} levels")]
    TooDeep {
        /// What was too deep.
        what: &'static str,
        /// The limit, in levels.
        limit: usize,
    },
    /// More parts of one kind than allowed.
    #[error("{what} has more than {limit} {parts}")]
    TooMany {
        /// What has too many parts (`path`, ...).
        what: &'static str,
        /// The limit.
        limit: usize,
        /// The parts, in words (`steps`).
        parts: &'static str,
    },
    /// YAML aliases whose expansion would add more nodes than allowed (a "billion laughs").
    #[error("aliases expand to more than {limit} nodes")]
    AliasExpansion {
        /// The limit, in nodes added by aliases.
        limit: u64,
    },
}

impl LimitError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            LimitError::TooLong { what, .. } => format!("shorten the {what}, or split it into several"),
            LimitError::TooDeep { .. } => "nest less: drop grouping that changes nothing, or split it into several".to_owned(),
            LimitError::TooMany { what, parts, .. } => format!("use fewer {parts} in the {what}"),
            LimitError::AliasExpansion { .. } => "write repeated values out, or alias smaller parts".to_owned(),
        }
    }
}
