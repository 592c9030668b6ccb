//! The actions a request can ask about, and the kind of resource each one targets.
//!
//! The v1 vocabulary of the conformance README, plus the administrative actions the
//! server's own API needs (`user:manage`, `audit:read`, `audit:manage`, `tenant:manage`, ...). Actions are a closed enum so
//! that the engine can index tables by them without hashing.

use std::fmt;

/// What an action applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// No resource: a tenant-level capability.
    Tenant,
    /// A space, by id.
    Space,
    /// An app, by id.
    App,
    /// A data connection, by id.
    DataConnection,
}

impl ResourceKind {
    /// The word used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Tenant => "tenant",
            ResourceKind::Space => "space",
            ResourceKind::App => "app",
            ResourceKind::DataConnection => "data connection",
        }
    }

    /// The type as the APIs name it (`tenant`, `space`, `app`, `data-connection`): an item's
    /// type is its [`crate::ContentKind`] word.
    pub fn type_name(self) -> &'static str {
        match self {
            ResourceKind::Tenant => "tenant",
            ResourceKind::Space => "space",
            ResourceKind::App => crate::ContentKind::App.as_str(),
            ResourceKind::DataConnection => crate::ContentKind::DataConnection.as_str(),
        }
    }
}

macro_rules! actions {
    ($( $variant:ident = $name:literal : $kind:ident ),* $(,)?) => {
        /// An action a user may be allowed to take.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Action {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The action's name, e.g. `app:exportdata`.
            pub fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $name),* }
            }

            /// What the action applies to.
            pub fn resource_kind(self) -> ResourceKind {
                match self { $(Action::$variant => ResourceKind::$kind),* }
            }
        }
    };
}

actions! {
    SpaceCreateShared = "space:create-shared": Tenant,
    SpaceCreateManaged = "space:create-managed": Tenant,
    SpaceCreateData = "space:create-data": Tenant,
    ContentCreatePrivate = "content:create-private": Tenant,
    AutomationCreatePrivate = "automation:create-private": Tenant,
    GlossaryCreate = "glossary:create": Tenant,
    ApiKeyCreate = "api-key:create": Tenant,
    DataIntegrationAccess = "data-integration:access": Tenant,
    ManagementConsoleAccess = "management-console:access": Tenant,
    RoleCreate = "role:create": Tenant,
    RoleRead = "role:read": Tenant,
    UserManage = "user:manage": Tenant,
    GroupManage = "group:manage": Tenant,
    OauthClientManage = "oauth-client:manage": Tenant,
    AuditRead = "audit:read": Tenant,
    AuditManage = "audit:manage": Tenant,
    TenantManage = "tenant:manage": Tenant,
    DecisionAskOthers = "decision:ask-others": Tenant,
    SpaceRead = "space:read": Space,
    SpaceUpdate = "space:update": Space,
    SpaceDelete = "space:delete": Space,
    SpaceManageMembers = "space:manage-members": Space,
    SpaceChangeOwner = "space:change_owner": Space,
    SpaceCreateApp = "space:create-app": Space,
    SpacePublishApp = "space:publish-app": Space,
    SpaceCreateDataConnection = "space:create-data-connection": Space,
    AppRead = "app:read": App,
    AppUpdate = "app:update": App,
    AppDelete = "app:delete": App,
    AppReload = "app:reload": App,
    AppEditScript = "app:edit-script": App,
    AppDuplicate = "app:duplicate": App,
    AppExport = "app:export": App,
    AppExportData = "app:exportdata": App,
    AppExportImage = "app:exportimage": App,
    AppPublish = "app:publish": App,
    AppShare = "app:share": App,
    AppChangeOwner = "app:change_owner": App,
    DataConnectionRead = "data-connection:read": DataConnection,
    DataConnectionUse = "data-connection:use": DataConnection,
    DataConnectionUpdate = "data-connection:update": DataConnection,
    DataConnectionDelete = "data-connection:delete": DataConnection,
}

impl Action {
    /// Parses an action name (exact, as in the README's vocabulary).
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == name)
    }

    /// True for actions that let data or content leave the platform; these are always audited.
    pub fn is_data_leaving(self) -> bool {
        matches!(self, Action::AppExport | Action::AppExportData | Action::AppExportImage)
    }

    /// The action's index, for tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The names of every action, for hints in error messages.
    pub fn known_names() -> String {
        Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_parses_back_from_its_name() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(*action));
        }
        assert_eq!(Action::parse("app:fly"), None);
        assert_eq!(Action::parse("app:exportdata").map(Action::resource_kind), Some(ResourceKind::App));
    }
}
