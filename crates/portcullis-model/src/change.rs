//! One write to a tenant, as a value: the single write path of the model.
//!
//! Every writer — the management API, `/v1/changes`, logins, the scenario runner, imports —
//! describes its write as [`Change`]s and hands them to [`Tenant::apply`], which checks the
//! change with the model's rules (written once, in `tenant.rs` and `tenant_ops.rs`), applies
//! it, and says what it [`Touched`]. The store persists exactly the touched rows and logs the
//! change; a live view recomputes exactly the touched entities. A refused change leaves the
//! tenant as it was.
//!
//! Changes serialize to JSON (`{"change": "assignRole", ...}`) for the store's change log.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::permission::{Permission, PermissionValue};
use crate::space::{SpaceRole, SpaceRoleSet, SpaceType};
use crate::tenant::*;
use crate::tenant_ops::OpError;

/// A write to one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "camelCase", rename_all_fields = "camelCase")]
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
    /// Sets one UserDefault permission.
    SetUserDefault {
        /// The permission.
        permission: Permission,
        /// Its value.
        value: PermissionValue,
    },
    /// Replaces every UserDefault value.
    ReplaceUserDefault {
        /// Permission → value; the rest take the catalogue's default.
        values: BTreeMap<Permission, PermissionValue>,
    },
    /// A login: entitlement toggles that are on record their roles for an active user.
    RecordLogin {
        /// User id.
        user: String,
    },
    /// Adds a user.
    CreateUser {
        /// The user.
        user: User,
    },
    /// Changes a user's display name, e-mail or status.
    UpdateUser {
        /// User id.
        id: String,
        /// New display name.
        name: Option<String>,
        /// New status.
        status: Option<UserStatus>,
    },
    /// Replaces a user's directly held roles.
    ReplaceUserRoles {
        /// User id.
        id: String,
        /// Role names.
        roles: Vec<String>,
    },
    /// Deletes a user with their space assignments and shares.
    DeleteUser {
        /// User id.
        id: String,
    },
    /// Adds a group.
    CreateGroup {
        /// The group.
        group: Group,
    },
    /// Replaces a group's roles.
    ReplaceGroupRoles {
        /// Group name.
        name: String,
        /// Role names.
        roles: Vec<String>,
    },
    /// Replaces the roles of Everyone.
    ReplaceEveryoneRoles {
        /// Role names.
        roles: Vec<String>,
    },
    /// Deletes a group (a custom group only when empty).
    DeleteGroup {
        /// Group name.
        name: String,
    },
    /// Adds a custom role.
    CreateCustomRole {
        /// The role.
        role: CustomRole,
    },
    /// Changes a custom role's description or permissions.
    UpdateCustomRole {
        /// Role name.
        name: String,
        /// New description.
        description: Option<String>,
        /// New permissions (all of them).
        permissions: Option<BTreeMap<Permission, RoleSetting>>,
    },
    /// Deletes an unassigned custom role.
    DeleteCustomRole {
        /// Role name.
        name: String,
    },
    /// Adds a space (with its members).
    CreateSpace {
        /// The space.
        space: Space,
    },
    /// Renames a space or changes its owner.
    UpdateSpace {
        /// Space id.
        id: String,
        /// New name.
        name: Option<String>,
        /// New owner.
        owner: Option<String>,
    },
    /// Deletes an empty space.
    DeleteSpace {
        /// Space id.
        id: String,
    },
    /// Creates or replaces one assignee's roles in a space.
    SetSpaceMember {
        /// Space id.
        space: String,
        /// Who.
        assignee: Assignee,
        /// Their roles.
        roles: SpaceRoleSet,
    },
    /// Removes one assignee from a space.
    RemoveSpaceMember {
        /// Space id.
        space: String,
        /// Who.
        assignee: Assignee,
    },
    /// Adds an app or data connection.
    CreateContent {
        /// The item.
        item: Content,
    },
    /// Deletes an item with its shares and `uses`.
    DeleteContent {
        /// Item id.
        id: String,
    },
    /// Records that `consumer` reads `source` when it runs.
    AddUse {
        /// The reference.
        reference: Use,
    },
    /// Shares one app (or replaces the share's roles).
    CreateShare {
        /// The share.
        share: Share,
    },
    /// Removes a share.
    DeleteShare {
        /// App id.
        resource: String,
        /// Who it was shared with.
        assignee: Assignee,
    },
    /// Adds an OAuth client.
    CreateOauthClient {
        /// The client.
        client: OauthClient,
    },
    /// Changes an OAuth client's name or scopes.
    UpdateOauthClient {
        /// Client id.
        id: String,
        /// New name.
        name: Option<String>,
        /// New scopes.
        scopes: Option<Vec<String>>,
    },
    /// Deletes an OAuth client.
    DeleteOauthClient {
        /// Client id.
        id: String,
    },
}

impl Change {
    /// A short name of the change (`assign-role`, ...), for logs and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::AssignRole { .. } => "assign-role",
            Change::UnassignRole { .. } => "unassign-role",
            Change::JoinGroup { .. } => "join-group",
            Change::LeaveGroup { .. } => "leave-group",
            Change::SetSetting { .. } => "set-setting",
            Change::SetUserDefault { .. } => "set-user-default",
            Change::ReplaceUserDefault { .. } => "replace-user-default",
            Change::RecordLogin { .. } => "record-login",
            Change::CreateUser { .. } => "create-user",
            Change::UpdateUser { .. } => "update-user",
            Change::ReplaceUserRoles { .. } => "replace-user-roles",
            Change::DeleteUser { .. } => "delete-user",
            Change::CreateGroup { .. } => "create-group",
            Change::ReplaceGroupRoles { .. } => "replace-group-roles",
            Change::ReplaceEveryoneRoles { .. } => "replace-everyone-roles",
            Change::DeleteGroup { .. } => "delete-group",
            Change::CreateCustomRole { .. } => "create-custom-role",
            Change::UpdateCustomRole { .. } => "update-custom-role",
            Change::DeleteCustomRole { .. } => "delete-custom-role",
            Change::CreateSpace { .. } => "create-space",
            Change::UpdateSpace { .. } => "update-space",
            Change::DeleteSpace { .. } => "delete-space",
            Change::SetSpaceMember { .. } => "set-space-member",
            Change::RemoveSpaceMember { .. } => "remove-space-member",
            Change::CreateContent { .. } => "create-content",
            Change::DeleteContent { .. } => "delete-content",
            Change::AddUse { .. } => "add-use",
            Change::CreateShare { .. } => "create-share",
            Change::DeleteShare { .. } => "delete-share",
            Change::CreateOauthClient { .. } => "create-oauth-client",
            Change::UpdateOauthClient { .. } => "update-oauth-client",
            Change::DeleteOauthClient { .. } => "delete-oauth-client",
        }
    }
}

/// What an applied change touched: the keys of the rows whose stored form (and whose derived
/// view) must be rewritten from the tenant as it now is. A key that is no longer in the tenant
/// was deleted. Each entity owns its child rows: a user its roles and groups, a group its
/// roles, a custom role its permissions, a space its members, a content item its shares and
/// the `uses` it consumes, a client its scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// The tenant's settings.
    pub settings: bool,
    /// UserDefault's values.
    pub user_default: bool,
    /// The roles of Everyone.
    pub everyone_roles: bool,
    /// Custom roles, by name.
    pub custom_roles: BTreeSet<String>,
    /// Groups, by name.
    pub groups: BTreeSet<String>,
    /// Users, by id.
    pub users: BTreeSet<String>,
    /// OAuth clients, by id.
    pub clients: BTreeSet<String>,
    /// Spaces, by id.
    pub spaces: BTreeSet<String>,
    /// Content items, by id.
    pub content: BTreeSet<String>,
}

impl Touched {
    /// Whether nothing was touched (the change was a no-op).
    pub fn is_empty(&self) -> bool {
        *self == Touched::default()
    }

    /// Adds what `other` touched.
    pub fn merge(&mut self, other: Touched) {
        self.settings |= other.settings;
        self.user_default |= other.user_default;
        self.everyone_roles |= other.everyone_roles;
        self.custom_roles.extend(other.custom_roles);
        self.groups.extend(other.groups);
        self.users.extend(other.users);
        self.clients.extend(other.clients);
        self.spaces.extend(other.spaces);
        self.content.extend(other.content);
    }

    fn user(id: &str) -> Touched {
        Touched { users: BTreeSet::from([id.to_owned()]), ..Touched::default() }
    }

    fn group(name: &str) -> Touched {
        Touched { groups: BTreeSet::from([name.to_owned()]), ..Touched::default() }
    }

    fn space(id: &str) -> Touched {
        Touched { spaces: BTreeSet::from([id.to_owned()]), ..Touched::default() }
    }

    fn content(id: &str) -> Touched {
        Touched { content: BTreeSet::from([id.to_owned()]), ..Touched::default() }
    }

    fn client(id: &str) -> Touched {
        Touched { clients: BTreeSet::from([id.to_owned()]), ..Touched::default() }
    }

    fn custom_role(name: &str) -> Touched {
        Touched { custom_roles: BTreeSet::from([name.to_owned()]), ..Touched::default() }
    }
}

/// What [`Tenant::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The entities to rewrite.
    pub touched: Touched,
    /// For a login: the roles its toggles recorded.
    pub recorded_roles: Vec<&'static str>,
}

impl Applied {
    fn touched(touched: Touched) -> Applied {
        Applied { touched, recorded_roles: Vec::new() }
    }
}

/// The spaces with an assignment for `assignee` and the apps shared with it.
fn assignee_rows(tenant: &Tenant, assignee: &Assignee) -> Touched {
    let mut touched = Touched::default();
    for space in &tenant.spaces {
        if space.members.iter().any(|m| &m.assignee == assignee) {
            touched.spaces.insert(space.id.clone());
        }
    }
    for share in tenant.shares.iter().filter(|s| &s.assignee == assignee) {
        touched.content.insert(share.resource.clone());
    }
    touched
}

impl Tenant {
    /// Checks `change` with the model's rules and applies it; a refusal changes nothing.
    /// Steps that change nothing (unassigning a role not held on that path, leaving a group
    /// one is not in, a login with no toggle to record) succeed and touch nothing.
    pub fn apply(&mut self, change: &Change) -> Result<Applied, OpError> {
        let touched = match change {
            Change::AssignRole { role, target } => {
                let before = self.role_holders_fingerprint(target);
                self.assign_role(role, target)?;
                self.target_touched(target, before)
            }
            Change::UnassignRole { role, target } => {
                let before = self.role_holders_fingerprint(target);
                match self.unassign_role(role, target) {
                    Ok(()) => {}
                    Err(crate::ModelError::NotAssigned { .. }) => return Ok(Applied::default()),
                    Err(error) => return Err(error.into()),
                }
                self.target_touched(target, before)
            }
            Change::JoinGroup { user, group } => {
                match self.join_group(user, group) {
                    Ok(()) => {}
                    Err(crate::ModelError::AlreadyMember { .. }) => return Ok(Applied::default()),
                    Err(error) => return Err(error.into()),
                }
                Touched::user(user)
            }
            Change::LeaveGroup { user, group } => {
                match self.leave_group(user, group) {
                    Ok(()) => {}
                    Err(crate::ModelError::NotMember { .. }) => return Ok(Applied::default()),
                    Err(error) => return Err(error.into()),
                }
                Touched::user(user)
            }
            Change::SetSetting { setting, value } => {
                if self.settings.get(setting) == Some(value) {
                    return Ok(Applied::default());
                }
                self.set_setting(*setting, *value);
                Touched { settings: true, ..Touched::default() }
            }
            Change::SetUserDefault { permission, value } => {
                if self.user_default.get(permission) == Some(value) {
                    return Ok(Applied::default());
                }
                self.set_user_default(*permission, *value)?;
                Touched { user_default: true, ..Touched::default() }
            }
            Change::ReplaceUserDefault { values } => {
                self.replace_user_default(values.clone())?;
                Touched { user_default: true, ..Touched::default() }
            }
            Change::RecordLogin { user } => {
                let recorded = self.record_login(user)?;
                let touched = if recorded.is_empty() { Touched::default() } else { Touched::user(user) };
                return Ok(Applied { touched, recorded_roles: recorded });
            }
            Change::CreateUser { user } => {
                self.create_user(user.clone())?;
                Touched::user(&user.id)
            }
            Change::UpdateUser { id, name, status } => {
                if let Some(name) = name {
                    self.rename_user(id, name)?;
                }
                if let Some(status) = status {
                    self.set_user_status(id, *status)?;
                }
                if name.is_none() && status.is_none() && self.user(id).is_none() {
                    return Err(OpError::NotFound { what: "user", name: id.clone() });
                }
                Touched::user(id)
            }
            Change::ReplaceUserRoles { id, roles } => {
                self.replace_user_roles(id, roles)?;
                Touched::user(id)
            }
            Change::DeleteUser { id } => {
                let mut touched = assignee_rows(self, &Assignee::User(id.clone()));
                self.delete_user(id)?;
                touched.users.insert(id.clone());
                touched
            }
            Change::CreateGroup { group } => {
                self.create_group(group.clone())?;
                Touched::group(&group.name)
            }
            Change::ReplaceGroupRoles { name, roles } => {
                self.replace_group_roles(name, roles)?;
                Touched::group(name)
            }
            Change::ReplaceEveryoneRoles { roles } => {
                self.replace_everyone_roles(roles)?;
                Touched { everyone_roles: true, ..Touched::default() }
            }
            Change::DeleteGroup { name } => {
                let mut touched = assignee_rows(self, &Assignee::Group(name.clone()));
                touched.users = self.users.iter().filter(|u| u.groups.iter().any(|g| g == name)).map(|u| u.id.clone()).collect();
                self.delete_group(name)?;
                touched.groups.insert(name.clone());
                touched
            }
            Change::CreateCustomRole { role } => {
                self.create_custom_role(role.clone())?;
                Touched::custom_role(&role.name)
            }
            Change::UpdateCustomRole { name, description, permissions } => {
                self.update_custom_role(name, description.clone(), permissions.clone())?;
                Touched::custom_role(name)
            }
            Change::DeleteCustomRole { name } => {
                self.delete_custom_role(name)?;
                Touched::custom_role(name)
            }
            Change::CreateSpace { space } => {
                self.create_space(space.clone())?;
                Touched::space(&space.id)
            }
            Change::UpdateSpace { id, name, owner } => {
                self.update_space(id, name.as_deref(), owner.as_deref())?;
                Touched::space(id)
            }
            Change::DeleteSpace { id } => {
                self.delete_space(id)?;
                Touched::space(id)
            }
            Change::SetSpaceMember { space, assignee, roles } => {
                self.set_space_member(space, assignee.clone(), *roles)?;
                Touched::space(space)
            }
            Change::RemoveSpaceMember { space, assignee } => {
                self.remove_space_member(space, assignee)?;
                Touched::space(space)
            }
            Change::CreateContent { item } => {
                self.create_content(item.clone())?;
                Touched::content(&item.id)
            }
            Change::DeleteContent { id } => {
                let mut touched = Touched::content(id);
                touched.content.extend(self.uses.iter().filter(|u| &u.source == id).map(|u| u.consumer.clone()));
                self.delete_content(id)?;
                touched
            }
            Change::AddUse { reference } => {
                self.add_use(reference.clone())?;
                Touched::content(&reference.consumer)
            }
            Change::CreateShare { share } => {
                self.create_share(share.clone())?;
                Touched::content(&share.resource)
            }
            Change::DeleteShare { resource, assignee } => {
                self.delete_share(resource, assignee)?;
                Touched::content(resource)
            }
            Change::CreateOauthClient { client } => {
                self.create_oauth_client(client.clone())?;
                Touched::client(&client.id)
            }
            Change::UpdateOauthClient { id, name, scopes } => {
                self.update_oauth_client(id, name.clone(), scopes.clone())?;
                Touched::client(id)
            }
            Change::DeleteOauthClient { id } => {
                self.delete_oauth_client(id)?;
                Touched::client(id)
            }
        };
        Ok(Applied::touched(touched))
    }

    /// The roles held on a role target's path, to tell whether an assignment changed them.
    fn role_holders_fingerprint(&self, target: &RoleTarget) -> Option<Vec<(String, bool)>> {
        match target {
            RoleTarget::User(id) => {
                self.user(id).map(|u| u.roles.iter().map(|r| (r.role.clone(), r.origin == DirectOrigin::Assigned)).collect())
            }
            RoleTarget::Group(name) => self.group(name).map(|g| g.roles.iter().map(|r| (r.clone(), true)).collect()),
            RoleTarget::Everyone => Some(self.everyone_roles.iter().map(|r| (r.clone(), true)).collect()),
        }
    }

    fn target_touched(&self, target: &RoleTarget, before: Option<Vec<(String, bool)>>) -> Touched {
        if self.role_holders_fingerprint(target) == before {
            return Touched::default();
        }
        match target {
            RoleTarget::User(id) => Touched::user(id),
            RoleTarget::Group(name) => Touched::group(name),
            RoleTarget::Everyone => Touched { everyone_roles: true, ..Touched::default() },
        }
    }
}

// ---- JSON words for the change log: each value is written as the word files and the API use.

macro_rules! serde_words {
    ($($ty:ty => $what:literal, $to:expr, $from:expr;)*) => {
        $(
            impl Serialize for $ty {
                fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    let to: fn(&$ty) -> &'static str = $to;
                    serializer.serialize_str(to(self))
                }
            }

            impl<'de> Deserialize<'de> for $ty {
                fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$ty, D::Error> {
                    let text = String::deserialize(deserializer)?;
                    let from: fn(&str) -> Option<$ty> = $from;
                    from(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown {} `{text}`", $what)))
                }
            }
        )*
    };
}

serde_words! {
    TenantSetting => "tenant setting", |v| v.as_str(), TenantSetting::parse;
    Entitlement => "entitlement", |v| v.as_str(), Entitlement::parse;
    UserStatus => "user status", |v| v.as_str(), UserStatus::parse;
    ProviderType => "provider type", |v| v.as_str(), ProviderType::parse;
    ContentKind => "content type", |v| v.as_str(), ContentKind::parse;
    SpaceType => "space type", |v| v.as_str(), SpaceType::parse;
    SpaceRole => "space role", |v| v.as_str(), SpaceRole::parse;
    Permission => "permission", |v| v.key(), Permission::parse;
    PermissionValue => "permission value", |v| v.as_str(), PermissionValue::parse;
}

impl Serialize for SpaceRoleSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for SpaceRoleSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SpaceRoleSet, D::Error> {
        let roles = Vec::<SpaceRole>::deserialize(deserializer)?;
        Ok(SpaceRoleSet::of(&roles))
    }
}

impl Serialize for RoleSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RoleSetting::Value(value) => value.serialize(serializer),
            RoleSetting::UserDefault => serializer.serialize_str("user-default"),
        }
    }
}

impl<'de> Deserialize<'de> for RoleSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RoleSetting, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "user-default" {
            return Ok(RoleSetting::UserDefault);
        }
        PermissionValue::parse(&text).map(RoleSetting::Value).ok_or_else(|| serde::de::Error::custom(format!("unknown permission value `{text}`")))
    }
}

impl Serialize for DirectOrigin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DirectOrigin::Assigned => serializer.serialize_str("assigned"),
            DirectOrigin::Setting(setting) => setting.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for DirectOrigin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DirectOrigin, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "assigned" {
            return Ok(DirectOrigin::Assigned);
        }
        TenantSetting::parse(&text).map(DirectOrigin::Setting).ok_or_else(|| serde::de::Error::custom(format!("unknown role origin `{text}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        crate::tenant_file::load_tenant_text(
            "t.yaml",
            "groups: [ { name: crew, providerType: custom } ]\n\
             users: [ { id: ann, groups: [crew] }, { id: bob } ]\n\
             spaces: [ { id: s1, type: shared, owner: ann, members: [ { group: crew, roles: [consumer] }, { user: bob, roles: [producer] } ] } ]\n\
             content: [ { id: a1, type: app, space: s1, owner: ann }, { id: d1, type: data-connection, space: s1, owner: ann } ]\n\
             uses: [ { consumer: a1, source: d1 } ]\n\
             shares: [ { resource: a1, user: bob, roles: [consumer] } ]\n",
        )
        .unwrap()
    }

    #[test]
    fn no_op_steps_touch_nothing_and_refusals_change_nothing() {
        let mut t = tenant();
        let before = t.clone();
        let noop = [
            Change::UnassignRole { role: "Steward".into(), target: RoleTarget::User("bob".into()) },
            Change::LeaveGroup { user: "bob".into(), group: "crew".into() },
            Change::JoinGroup { user: "ann".into(), group: "crew".into() },
            Change::AssignRole { role: "Steward".into(), target: RoleTarget::Everyone },
            Change::AssignRole { role: "Steward".into(), target: RoleTarget::Everyone },
        ];
        for (i, change) in noop.iter().enumerate() {
            let applied = t.apply(change).unwrap();
            assert_eq!(applied.touched.is_empty(), i != 3, "{change:?}");
        }
        t.apply(&Change::UnassignRole { role: "Steward".into(), target: RoleTarget::Everyone }).unwrap();
        assert_eq!(t, before);
        assert!(t.apply(&Change::DeleteGroup { name: "crew".into() }).is_err());
        assert!(t.apply(&Change::AssignRole { role: "Nope".into(), target: RoleTarget::Everyone }).is_err());
        assert_eq!(t, before);
    }

    #[test]
    fn deletions_touch_every_row_they_cascade_to() {
        let mut t = tenant();
        let applied = t.apply(&Change::DeleteUser { id: "bob".into() }).unwrap();
        assert_eq!(applied.touched.users, BTreeSet::from(["bob".to_owned()]));
        assert_eq!(applied.touched.spaces, BTreeSet::from(["s1".to_owned()]));
        assert_eq!(applied.touched.content, BTreeSet::from(["a1".to_owned()]));
        let applied = t.apply(&Change::DeleteContent { id: "d1".into() }).unwrap();
        assert_eq!(applied.touched.content, BTreeSet::from(["a1".to_owned(), "d1".to_owned()]));
        assert!(t.uses.is_empty());
    }

    #[test]
    fn changes_round_trip_through_json() {
        let changes = vec![
            Change::AssignRole { role: "Steward".into(), target: RoleTarget::Group("crew".into()) },
            Change::SetSpaceMember { space: "s1".into(), assignee: Assignee::User("bob".into()), roles: SpaceRoleSet::of(&[SpaceRole::Consumer, SpaceRole::Producer]) },
            Change::SetSetting { setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole, value: true },
            Change::CreateUser { user: tenant().user("ann").unwrap().clone() },
            Change::UpdateCustomRole { name: "r".into(), description: None, permissions: Some(BTreeMap::from([(Permission::parse("in-app-content-download").unwrap(), RoleSetting::UserDefault)])) },
        ];
        for change in changes {
            let json = serde_json::to_string(&change).unwrap();
            assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), change, "{json}");
        }
        let text = serde_json::to_string(&Change::JoinGroup { user: "u".into(), group: "g".into() }).unwrap();
        assert_eq!(text, r#"{"change":"joinGroup","user":"u","group":"g"}"#);
    }
}
