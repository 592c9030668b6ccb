//! A tenant's whole state as owned, validated data: the thing a tenant file loads into, the
//! store persists and the engine snapshots. Mutations here keep every reference valid;
//! each returns a [`ModelError`] instead of leaving the tenant half-changed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::capability::{CapSet, Capability};
use crate::err::ModelError;
use crate::links::{Link, LinkTable};
use crate::meta::Meta;
use crate::permission::{Permission, PermissionValue};
use crate::refs::{Refs, RefsCell};
use crate::role::{self, BuiltinRole, USER_DEFAULT};
use crate::space::{SpaceRole, SpaceRoleSet, SpaceType};
use crate::table::{Keyed, Table};

macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $( $variant:ident = $word:literal ),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                #[doc = concat!("`", $word, "`")]
                $variant,
            )*
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The word used in files and the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),* }
            }

            /// Parses the word.
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == text)
            }

            /// Every word, for hints.
            pub fn known() -> String {
                $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum! {
    /// How the tenant is licensed (spec §6).
    Subscription { UserBased = "user-based", CapacityBased = "capacity-based" }
}

word_enum! {
    /// A user's licence (spec §6).
    Entitlement {
        Professional = "professional",
        Analyzer = "analyzer",
        AnalyzerCapacity = "analyzer-capacity",
        Full = "full",
        Basic = "basic",
    }
}

impl Entitlement {
    /// Whether the entitlement may create and edit apps (Professional / Full).
    pub fn creates_content(self) -> bool {
        matches!(self, Entitlement::Professional | Entitlement::Full)
    }

    /// Whether the entitlement exists on the subscription.
    pub fn fits(self, subscription: Subscription) -> bool {
        match subscription {
            Subscription::UserBased => {
                matches!(self, Entitlement::Professional | Entitlement::Analyzer | Entitlement::AnalyzerCapacity)
            }
            Subscription::CapacityBased => matches!(self, Entitlement::Full | Entitlement::Basic),
        }
    }
}

word_enum! {
    /// A user's status; only `active` users are granted anything.
    UserStatus {
        Active = "active",
        Invited = "invited",
        Disabled = "disabled",
        Deleted = "deleted",
        Provisioned = "provisioned",
    }
}

word_enum! {
    /// Where a group comes from.
    ProviderType { Idp = "idp", Custom = "custom" }
}

word_enum! {
    /// The tenant booleans: every Qlik one of spec §2 by its exact name (the three entitlement
    /// toggles, and `enableAnalyticCreation`, deprecated by Qlik: accepted and kept, with no
    /// effect), Qlik's `enableAppOpeningFeedback` (kept, no effect on decisions), then
    /// Portcullis's own switches. Any other name is refused.
    TenantSetting {
        AutoAssignCreateSharedSpacesRoleToProfessionals = "autoAssignCreateSharedSpacesRoleToProfessionals",
        AutoAssignPrivateAnalyticsContentCreatorRoleToProfessionals = "autoAssignPrivateAnalyticsContentCreatorRoleToProfessionals",
        AutoAssignDataServicesContributorRoleToProfessionals = "autoAssignDataServicesContributorRoleToProfessionals",
        EnableAnalyticCreation = "enableAnalyticCreation",
        EnableAppOpeningFeedback = "enableAppOpeningFeedback",
        AdminsCanOpenAppsWithoutSpaceRole = "adminsCanOpenAppsWithoutSpaceRole",
        CapacityUserTypesUnified = "capacityUserTypesUnified",
    }
}

impl TenantSetting {
    /// For an entitlement toggle, the role it gives at login.
    pub fn toggle_role(self) -> Option<&'static str> {
        match self {
            TenantSetting::AutoAssignCreateSharedSpacesRoleToProfessionals => Some("SharedSpaceCreator"),
            TenantSetting::AutoAssignPrivateAnalyticsContentCreatorRoleToProfessionals => Some("PrivateAnalyticsContentCreator"),
            TenantSetting::AutoAssignDataServicesContributorRoleToProfessionals => Some("DataServicesContributor"),
            _ => None,
        }
    }
}

word_enum! {
    /// What a content item is.
    ContentKind { App = "app", DataConnection = "data-connection" }
}

impl ContentKind {
    /// The kind of resource an action on such an item takes.
    pub fn resource_kind(self) -> crate::ResourceKind {
        match self {
            ContentKind::App => crate::ResourceKind::App,
            ContentKind::DataConnection => crate::ResourceKind::DataConnection,
        }
    }
}

/// A custom role's setting for one permission: a value, "follow UserDefault", or some of the
/// permission's scopes that no value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSetting {
    /// An explicit value (never `not-allowed`).
    Value(PermissionValue),
    /// `user-default`: whatever UserDefault says now.
    UserDefault,
    /// Exactly these of the permission's capabilities (each one scope), a non-empty set that
    /// none of its values grants: Qlik's custom roles hold scopes, so a role may hold
    /// `apps.data:export` without `apps.image:export`, which no value of In-app content
    /// download stands for.
    Scopes(CapSet),
}

impl RoleSetting {
    /// The setting in words, as tenant files and the store write it: the value's key,
    /// `user-default`, or the scopes separated by spaces (no scope is spelled like a value).
    pub fn word(self) -> Cow<'static, str> {
        match self {
            RoleSetting::Value(value) => Cow::Borrowed(value.as_str()),
            RoleSetting::UserDefault => Cow::Borrowed("user-default"),
            RoleSetting::Scopes(caps) => Cow::Owned(caps.iter().map(Capability::scope).collect::<Vec<_>>().join(" ")),
        }
    }

    /// Reads [`RoleSetting::word`]; `None` for a word that is neither a value, `user-default`,
    /// nor a list of known scopes. Whether the permission takes it is
    /// [`Tenant::apply`]'s check (and the tenant file's).
    pub fn parse_word(word: &str) -> Option<RoleSetting> {
        if word == "user-default" {
            return Some(RoleSetting::UserDefault);
        }
        if let Some(value) = PermissionValue::parse(word) {
            return Some(RoleSetting::Value(value));
        }
        let mut caps = CapSet::EMPTY;
        for scope in word.split(' ') {
            caps |= Capability::from_scope(scope)?.bit();
        }
        Some(RoleSetting::Scopes(caps))
    }
}

/// A custom role.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomRole {
    /// Unique name in the tenant.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The permissions it sets.
    pub permissions: BTreeMap<Permission, RoleSetting>,
    /// What the API shows beyond the model (`crate::meta`); no decision reads it.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

/// A reference to a role the tenant knows.
#[derive(Debug, Clone, Copy)]
pub enum RoleRef<'a> {
    /// A built-in security role.
    Builtin(&'static BuiltinRole),
    /// A custom role of this tenant.
    Custom(&'a CustomRole),
}

/// Why a user holds a role directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectOrigin {
    /// Assigned to the user.
    Assigned,
    /// Recorded at login by an entitlement toggle; kept until unassigned.
    Setting(TenantSetting),
}

/// A role held by a user directly.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectRole {
    /// Role name.
    pub role: String,
    /// How it came.
    pub origin: DirectOrigin,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The identity provider's subject (the tenant file's `id`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Licence.
    pub entitlement: Entitlement,
    /// Status.
    pub status: UserStatus,
    /// Directly held roles (one entry per role).
    pub roles: Vec<DirectRole>,
    /// Group names the user belongs to.
    pub groups: Vec<String>,
    /// What the API shows beyond the model (`crate::meta`); no decision reads it.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Name (unique per provider type).
    pub name: String,
    /// IdP or custom.
    pub provider_type: ProviderType,
    /// Roles every member gets.
    pub roles: Vec<String>,
    /// What the API shows beyond the model (`crate::meta`); no decision reads it.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

/// An OAuth client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OauthClient {
    /// Client id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Whether the client may mint tokens for any user of the tenant (the user-impersonation
    /// grant). Off unless asked for: such a client's secret is as strong as every user's login.
    #[serde(default)]
    pub impersonation: bool,
    /// What the API shows beyond the model (`crate::meta`); no decision reads it.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

/// Who a space assignment or a share is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Assignee {
    /// A user, by id.
    User(String),
    /// A group, by name.
    Group(String),
}

impl fmt::Display for Assignee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Assignee::User(id) => write!(f, "user `{id}`"),
            Assignee::Group(name) => write!(f, "group `{name}`"),
        }
    }
}

/// One space assignment: an assignee and its roles (non-empty).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceMember {
    /// Who.
    pub assignee: Assignee,
    /// Their roles.
    pub roles: SpaceRoleSet,
}

/// A shared, managed or data space.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Space {
    /// Id (unique).
    pub id: String,
    /// Name (unique).
    pub name: String,
    /// Type.
    pub space_type: SpaceType,
    /// Owner's user id; `None` once its owner was deleted, until an admin names another.
    pub owner: Option<String>,
    /// Assignments; the owner has none.
    pub members: Vec<SpaceMember>,
    /// Portcullis's export mark, beyond Qlik's model (`docs/export-control.md`): when set, the
    /// data-leaving actions on the space's items are allowed only to users holding one of
    /// these custom roles, on top of everything else they need (an empty list: to no one).
    /// `None`, the default, is Qlik's behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_only_through: Option<Vec<String>>,
    /// What the API shows beyond the model (`crate::meta`); no decision reads it.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

/// An app or data connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Id (unique across content).
    pub id: String,
    /// Display name.
    pub name: String,
    /// App or data connection.
    pub kind: ContentKind,
    /// Its space; `None` = the owner's personal space.
    pub space: Option<String>,
    /// Owner's user id; `None` once its owner was deleted, until an admin names another.
    pub owner: Option<String>,
}

/// A design-time reference: `consumer` reads `source` when it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Use {
    /// The consuming content id.
    pub consumer: String,
    /// The consumed content id.
    pub source: String,
}

/// A fine-grained share of one app.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    /// The app id.
    pub resource: String,
    /// Who it is shared with.
    pub assignee: Assignee,
    /// Roles on the share.
    pub roles: SpaceRoleSet,
}

/// A tenant's whole state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's name.
    pub name: String,
    /// Licensing model.
    pub subscription: Subscription,
    /// Tenant booleans that are on.
    pub settings: BTreeMap<TenantSetting, bool>,
    /// UserDefault's explicit values (the rest take the catalogue default).
    pub user_default: BTreeMap<Permission, PermissionValue>,
    /// Custom roles.
    pub custom_roles: Table<CustomRole>,
    /// Groups (not Everyone).
    pub groups: Table<Group>,
    /// Roles on the system group Everyone.
    pub everyone_roles: Vec<String>,
    /// Users.
    pub users: Table<User>,
    /// OAuth clients.
    pub oauth_clients: Table<OauthClient>,
    /// Spaces.
    pub spaces: Table<Space>,
    /// Apps and data connections.
    pub content: Table<Content>,
    /// Design-time references, by consumer ([`Link::key`]) and by source.
    pub uses: LinkTable<Use>,
    /// Fine-grained shares, by app ([`Link::key`]) and by assignee.
    pub shares: LinkTable<Share>,
    /// Counts the write rules ask for (who owns what, what a space holds, space names).
    pub(crate) refs: RefsCell,
}

macro_rules! keyed {
    ($($row:ty => $field:ident),* $(,)?) => {
        $(impl Keyed for $row {
            fn key(&self) -> &str {
                &self.$field
            }
        })*
    };
}

keyed!(CustomRole => name, User => id, Group => name, OauthClient => id, Space => id, Content => id);

/// A `uses` row belongs to its consumer: the store keeps it with the consuming item.
impl Link for Use {
    type Key = str;
    type Other = str;
    fn key(&self) -> &str {
        &self.consumer
    }
    fn other(&self) -> &str {
        &self.source
    }
}

/// A share belongs to its app.
impl Link for Share {
    type Key = str;
    type Other = Assignee;
    fn key(&self) -> &str {
        &self.resource
    }
    fn other(&self) -> &Assignee {
        &self.assignee
    }
}

/// Where a role assignment goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoleTarget {
    /// One user, by id.
    User(String),
    /// A group, by name.
    Group(String),
    /// The system group Everyone.
    Everyone,
}

impl Tenant {
    /// An empty user-based tenant.
    pub fn new(name: impl Into<String>) -> Self {
        Tenant {
            name: name.into(),
            subscription: Subscription::UserBased,
            settings: BTreeMap::new(),
            user_default: BTreeMap::new(),
            custom_roles: Table::new(),
            groups: Table::new(),
            everyone_roles: Vec::new(),
            users: Table::new(),
            oauth_clients: Table::new(),
            spaces: Table::new(),
            content: Table::new(),
            uses: LinkTable::new(),
            shares: LinkTable::new(),
            refs: RefsCell::default(),
        }
    }

    /// A setting's value (default false).
    pub fn setting(&self, setting: TenantSetting) -> bool {
        self.settings.get(&setting).copied().unwrap_or(false)
    }

    /// UserDefault's current value for a permission that UserDefault holds.
    pub fn user_default_value(&self, permission: Permission) -> Option<PermissionValue> {
        self.user_default.get(&permission).copied().or(permission.def().default)
    }

    /// What a custom role's setting of a permission grants now (a `user-default` setting
    /// follows UserDefault).
    pub fn custom_setting_grants(&self, permission: Permission, setting: RoleSetting) -> CapSet {
        match setting {
            RoleSetting::Value(value) => permission.def().grants(value),
            RoleSetting::UserDefault => self.user_default_value(permission).map_or(CapSet::EMPTY, |v| permission.def().grants(v)),
            RoleSetting::Scopes(caps) => caps,
        }
    }

    /// Resolves a role name (built-in API name or custom name).
    pub fn role(&self, name: &str) -> Option<RoleRef<'_>> {
        role::builtin_role(name)
            .map(RoleRef::Builtin)
            .or_else(|| self.custom_roles.get(name).map(RoleRef::Custom))
    }

    /// Every assignable role name, for hints.
    pub fn known_role_names(&self) -> String {
        let builtin = role::builtin_role_names().map(str::to_owned);
        builtin
            .chain(self.custom_roles.iter().map(|r| r.name.clone()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    fn user_mut(&mut self, id: &str) -> Result<&mut User, ModelError> {
        let known = self.users.len();
        self.users.get_mut(id).ok_or_else(|| ModelError::UnknownUser {
            id: id.to_owned(),
            n_known: known,
        })
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// A space by id.
    pub fn space(&self, id: &str) -> Option<&Space> {
        self.spaces.get(id)
    }

    /// A content item by id.
    pub fn content_item(&self, id: &str) -> Option<&Content> {
        self.content.get(id)
    }

    /// The counts the write rules ask for, counted from the rows on the first call.
    pub fn refs(&self) -> &Refs {
        self.refs.get(self)
    }

    /// An OAuth client by id.
    pub fn oauth_client(&self, id: &str) -> Option<&OauthClient> {
        self.oauth_clients.get(id)
    }

    fn check_assignable(&self, role_name: &str) -> Result<(), ModelError> {
        if role_name == USER_DEFAULT {
            return Err(ModelError::UserDefaultNotAssignable);
        }
        if self.role(role_name).is_none() {
            return Err(ModelError::UnknownRole {
                name: role_name.to_owned(),
                known: self.known_role_names(),
            });
        }
        Ok(())
    }

    /// Assigns a role to a user, a group or Everyone. Assigning a role already held on the
    /// same path changes nothing.
    pub fn assign_role(&mut self, role_name: &str, target: &RoleTarget) -> Result<(), ModelError> {
        self.check_assignable(role_name)?;
        let roles = match target {
            RoleTarget::User(id) => {
                let user = self.user_mut(id)?;
                match user.roles.iter_mut().find(|r| r.role == role_name) {
                    // An explicit assignment supersedes a toggle's record; both are removed by unassign.
                    Some(existing) => existing.origin = DirectOrigin::Assigned,
                    None => user.roles.push(DirectRole {
                        role: role_name.to_owned(),
                        origin: DirectOrigin::Assigned,
                    }),
                }
                return Ok(());
            }
            RoleTarget::Group(name) => {
                &mut self
                    .groups
                    .get_mut(name)
                    .ok_or_else(|| ModelError::UnknownGroup { name: name.clone() })?
                    .roles
            }
            RoleTarget::Everyone => &mut self.everyone_roles,
        };
        if !roles.iter().any(|r| r == role_name) {
            roles.push(role_name.to_owned());
        }
        Ok(())
    }

    /// Removes a role from one path. Other paths to the same role stay in force. A role the
    /// target does not hold on that path is no error: nothing changes (README; Qlik's PATCH
    /// replaces whole lists, spec §5.1). Unknown roles, users and groups are refused.
    pub fn unassign_role(&mut self, role_name: &str, target: &RoleTarget) -> Result<(), ModelError> {
        self.check_assignable(role_name)?;
        match target {
            RoleTarget::User(id) => self.user_mut(id)?.roles.retain(|r| r.role != role_name),
            RoleTarget::Group(name) => self
                .groups
                .get_mut(name)
                .ok_or_else(|| ModelError::UnknownGroup { name: name.clone() })?
                .roles
                .retain(|r| r != role_name),
            RoleTarget::Everyone => self.everyone_roles.retain(|r| r != role_name),
        }
        Ok(())
    }

    /// Adds a user to a group (an IdP claim or a custom-group change).
    pub fn join_group(&mut self, user_id: &str, group_name: &str) -> Result<(), ModelError> {
        if self.group(group_name).is_none() {
            return Err(ModelError::UnknownGroup { name: group_name.to_owned() });
        }
        let user = self.user_mut(user_id)?;
        if user.groups.iter().any(|g| g == group_name) {
            return Err(ModelError::AlreadyMember {
                user: user_id.to_owned(),
                group: group_name.to_owned(),
            });
        }
        user.groups.push(group_name.to_owned());
        Ok(())
    }

    /// Removes a user from a group. Leaving a group the user is not in changes nothing and is
    /// no error (README); an unknown user or group is refused.
    pub fn leave_group(&mut self, user_id: &str, group_name: &str) -> Result<(), ModelError> {
        if self.group(group_name).is_none() {
            return Err(ModelError::UnknownGroup { name: group_name.to_owned() });
        }
        self.user_mut(user_id)?.groups.retain(|g| g != group_name);
        Ok(())
    }

    /// Turns a tenant setting on or off. Turning a toggle off removes nothing already recorded.
    pub fn set_setting(&mut self, setting: TenantSetting, value: bool) {
        self.settings.insert(setting, value);
    }

    /// Sets a UserDefault permission.
    pub fn set_user_default(&mut self, permission: Permission, value: PermissionValue) -> Result<(), ModelError> {
        let def = permission.def();
        if !def.in_user_default {
            return Err(ModelError::NotInUserDefault { permission: def.key });
        }
        if !def.values.contains(&value) {
            return Err(ModelError::BadPermissionValue {
                permission: def.key,
                value: value.as_str().to_owned(),
                known: def.value_names(),
            });
        }
        self.user_default.insert(permission, value);
        Ok(())
    }

    /// The entitlement that the entitlement toggles apply to on this tenant.
    pub fn toggle_entitlement(&self) -> Entitlement {
        match self.subscription {
            Subscription::UserBased => Entitlement::Professional,
            Subscription::CapacityBased => Entitlement::Full,
        }
    }

    /// A login: every entitlement toggle that is on records its role for a matching user,
    /// kept until unassigned (conformance README). Returns the roles recorded now.
    pub fn record_login(&mut self, user_id: &str) -> Result<Vec<&'static str>, ModelError> {
        let toggles: Vec<TenantSetting> = TenantSetting::ALL
            .iter()
            .copied()
            .filter(|s| s.toggle_role().is_some() && self.setting(*s))
            .collect();
        let entitlement = self.toggle_entitlement();
        let user = self.user_mut(user_id)?;
        let mut recorded = Vec::new();
        if user.entitlement != entitlement || user.status != UserStatus::Active {
            return Ok(recorded);
        }
        for toggle in toggles {
            let Some(role_name) = toggle.toggle_role() else { continue };
            if !user.roles.iter().any(|r| r.role == role_name) {
                user.roles.push(DirectRole {
                    role: role_name.to_owned(),
                    origin: DirectOrigin::Setting(toggle),
                });
                recorded.push(role_name);
            }
        }
        Ok(recorded)
    }

    /// The roles a space member holds, for `assignee`, if any.
    pub fn space_member_roles(space: &Space, assignee: &Assignee) -> Option<SpaceRoleSet> {
        space.members.iter().find(|m| &m.assignee == assignee).map(|m| m.roles)
    }

    /// The names of space roles, validated against the space type.
    pub fn check_space_roles(space_type: SpaceType, roles: &[SpaceRole]) -> Result<SpaceRoleSet, ModelError> {
        let assignable = space_type.assignable_roles();
        let mut set = SpaceRoleSet::EMPTY;
        for role in roles {
            if !assignable.contains(*role) {
                return Err(ModelError::RoleNotAssignableInSpace {
                    role: role.as_str(),
                    space_type,
                    assignable: assignable.names(),
                });
            }
            set.insert(*role);
        }
        Ok(set)
    }
}
