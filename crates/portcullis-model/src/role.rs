//! The built-in security roles (spec §4) with what each grants, by API name.

use crate::capability::{CapSet, Capability as C};

/// A role's level: admin roles are reachable through OAuth only with `admin_classic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleLevel {
    /// `admin`
    Admin,
    /// `user`
    User,
}

impl RoleLevel {
    /// The API word.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleLevel::Admin => "admin",
            RoleLevel::User => "user",
        }
    }
}

/// A built-in security role.
#[derive(Debug)]
pub struct BuiltinRole {
    /// The API name (case-sensitive, no spaces).
    pub name: &'static str,
    /// The UI name.
    pub label: &'static str,
    /// Admin or user.
    pub level: RoleLevel,
    /// What it grants at tenant level.
    pub grants: CapSet,
    /// Whether holding it promotes a capacity Basic user to Full (`userEntitlementType: fullUser`).
    pub promotes_basic: bool,
    /// A short description.
    pub description: &'static str,
}

macro_rules! role {
    ($name:literal, $label:literal, $level:ident, [$($cap:ident),*], $promotes:literal, $desc:literal) => {
        BuiltinRole {
            name: $name,
            label: $label,
            level: RoleLevel::$level,
            grants: CapSet::of(&[$(C::$cap),*]),
            promotes_basic: $promotes,
            description: $desc,
        }
    };
}

/// The name of the baseline role every user holds.
pub const USER_DEFAULT: &str = "UserDefault";

/// Every built-in role except UserDefault, whose grants come from the permission catalogue.
pub static BUILTIN_ROLES: &[BuiltinRole] = &[
    role!(
        "TenantAdmin",
        "Tenant Admin",
        Admin,
        [
            ManagementConsole,
            ManageRoles,
            ManageUsers,
            ManageGroups,
            ManageOauthClients,
            ReadAudit,
            ManageAudit,
            ManageTenant,
            AskForOthers,
            CreateSharedSpace,
            CreateManagedSpace,
            CreateDataSpace,
            AdminAnalyticsSpaces,
            AdminDataSpaces
        ],
        true,
        "Full rights to manage the tenant; no space roles"
    ),
    role!(
        "AnalyticsAdmin",
        "Analytics Admin",
        Admin,
        [ManagementConsole, CreateSharedSpace, CreateManagedSpace, AdminAnalyticsSpaces],
        true,
        "Limited admin over analytics content; admin rights in shared and managed spaces"
    ),
    role!(
        "AuditAdmin",
        "Audit Admin",
        Admin,
        [ManagementConsole, ReadAudit],
        true,
        "Limited admin: events and audits"
    ),
    role!(
        "DataAdmin",
        "Data Admin",
        Admin,
        [ManagementConsole, CreateDataSpace, AdminDataSpaces],
        true,
        "Limited admin: manages data spaces"
    ),
    role!(
        "DataSpaceCreator",
        "Data Space Creator",
        User,
        [CreateDataSpace],
        true,
        "Create data spaces"
    ),
    role!(
        "ManagedSpaceCreator",
        "Managed Space Creator",
        User,
        [CreateManagedSpace],
        true,
        "Create managed spaces"
    ),
    role!(
        "SharedSpaceCreator",
        "Shared Space Creator",
        User,
        [CreateSharedSpace],
        true,
        "Create shared spaces"
    ),
    role!(
        "DataServicesContributor",
        "Data Services Contributor",
        User,
        [DataIntegration],
        true,
        "Access to the data integration services"
    ),
    role!(
        "PrivateAnalyticsContentCreator",
        "Private Analytics Content Creator",
        User,
        [CreatePrivateContent],
        true,
        "Create private analytics content in the personal space"
    ),
    role!(
        "AutomationCreator",
        "Automation Creator",
        User,
        [CreatePrivateAutomation],
        true,
        "Create private automations (deprecated)"
    ),
    role!(
        "CollaborationPlatformUser",
        "Collaboration Platform User",
        User,
        [],
        false,
        "Talk to Qlik Cloud from collaboration platforms; does not promote a Basic user"
    ),
    role!(
        "Steward",
        "Steward",
        User,
        [ManageGlossaries],
        true,
        "Create, update and delete glossaries and terms"
    ),
    role!(
        "EmbeddedAnalyticsUser",
        "Embedded Analytics User",
        User,
        [],
        true,
        "Restrictive, UI only: API access is not limited"
    ),
    role!(
        "AutomlExperimentContributor",
        "Automl Experiment Contributor",
        User,
        [],
        true,
        "ML experiments"
    ),
    role!(
        "AutomlDeploymentContributor",
        "Automl Deployment Contributor",
        User,
        [],
        true,
        "ML deployments"
    ),
    role!("DataProductManager", "Data Product Manager", User, [], true, "Data product management"),
    role!("Developer", "Developer", User, [ManageApiKeys], true, "Generate API keys (legacy)"),
];

/// Looks a built-in role up by its exact API name.
pub fn builtin_role(name: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.name == name)
}

/// The API names of the built-in roles, for hints.
pub fn builtin_role_names() -> impl Iterator<Item = &'static str> {
    BUILTIN_ROLES.iter().map(|r| r.name)
}

/// Custom roles per tenant, at most (spec §2).
pub const MAX_CUSTOM_ROLES: usize = 500;
