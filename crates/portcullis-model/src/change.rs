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

use crate::meta::{Meta, MetaTarget};
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
    /// Marks a space so that data leaves its items only through one of `roles` (custom roles;
    /// empty: through none), or takes the mark off (`roles` absent or null). Portcullis's own
    /// extension beyond Qlik's model (`docs/export-control.md`).
    SetExportOnlyThrough {
        /// Space id.
        space: String,
        /// The custom roles data may leave through; `None`: no mark (Qlik's behaviour).
        #[serde(default)]
        roles: Option<Vec<String>>,
    },
    /// Names an app's or data connection's owner (Qlik's `PUT /apps/{id}/owner`).
    SetContentOwner {
        /// Content id.
        id: String,
        /// The new owner's user id.
        owner: String,
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
    /// Moves an item to another space (`None`: its owner's personal space).
    MoveContent {
        /// Item id.
        id: String,
        /// The space it moves to.
        space: Option<String>,
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
    /// Changes an OAuth client's name, scopes or whether it may impersonate users.
    UpdateOauthClient {
        /// Client id.
        id: String,
        /// New name.
        name: Option<String>,
        /// New scopes.
        scopes: Option<Vec<String>>,
        /// Allow (or stop) the user-impersonation grant (absent in change-log rows written
        /// before the flag existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impersonation: Option<bool>,
    },
    /// Deletes an OAuth client.
    DeleteOauthClient {
        /// Client id.
        id: String,
    },
    /// Replaces the API's extra fields of a user, group, custom role, client or space
    /// (timestamps, profile, description, a stable API id: [`Meta`]).
    SetMeta {
        /// Whose.
        target: MetaTarget,
        /// The fields, all of them.
        meta: Meta,
    },
    /// Renames a group; members, space assignments and shares follow.
    RenameGroup {
        /// Group name.
        name: String,
        /// Its new name.
        new_name: String,
    },
    /// Renames a custom role; its holders hold it under the new name.
    RenameCustomRole {
        /// Role name.
        name: String,
        /// Its new name.
        new_name: String,
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
            Change::SetExportOnlyThrough { .. } => "set-export-only-through",
            Change::DeleteSpace { .. } => "delete-space",
            Change::SetSpaceMember { .. } => "set-space-member",
            Change::RemoveSpaceMember { .. } => "remove-space-member",
            Change::CreateContent { .. } => "create-content",
            Change::MoveContent { .. } => "move-content",
            Change::SetContentOwner { .. } => "set-content-owner",
            Change::DeleteContent { .. } => "delete-content",
            Change::AddUse { .. } => "add-use",
            Change::CreateShare { .. } => "create-share",
            Change::DeleteShare { .. } => "delete-share",
            Change::CreateOauthClient { .. } => "create-oauth-client",
            Change::UpdateOauthClient { .. } => "update-oauth-client",
            Change::DeleteOauthClient { .. } => "delete-oauth-client",
            Change::SetMeta { .. } => "set-meta",
            Change::RenameGroup { .. } => "rename-group",
            Change::RenameCustomRole { .. } => "rename-custom-role",
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
        Touched {
            users: BTreeSet::from([id.to_owned()]),
            ..Touched::default()
        }
    }

    fn group(name: &str) -> Touched {
        Touched {
            groups: BTreeSet::from([name.to_owned()]),
            ..Touched::default()
        }
    }

    fn space(id: &str) -> Touched {
        Touched {
            spaces: BTreeSet::from([id.to_owned()]),
            ..Touched::default()
        }
    }

    fn content(id: &str) -> Touched {
        Touched {
            content: BTreeSet::from([id.to_owned()]),
            ..Touched::default()
        }
    }

    fn client(id: &str) -> Touched {
        Touched {
            clients: BTreeSet::from([id.to_owned()]),
            ..Touched::default()
        }
    }

    fn custom_role(name: &str) -> Touched {
        Touched {
            custom_roles: BTreeSet::from([name.to_owned()]),
            ..Touched::default()
        }
    }
}

/// What [`Tenant::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The entities whose rows differ now.
    pub touched: Touched,
    /// For a login: the roles its toggles recorded.
    pub recorded_roles: Vec<&'static str>,
    /// The rows as they were, to put back with [`Tenant::undo`].
    pub undo: Undo,
}

/// The pre-images of the rows a change could touch: enough to undo it in O(touched). It
/// serializes (JSON, in the change log beside its change) so that access history can rewind
/// the live tenant to an earlier revision with the very rows `apply` saw, not with an inverse
/// written by hand that could drift from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Undo {
    settings: Option<BTreeMap<TenantSetting, bool>>,
    user_default: Option<BTreeMap<Permission, PermissionValue>>,
    everyone_roles: Option<Vec<String>>,
    custom_roles: Vec<(String, Option<CustomRole>)>,
    groups: Vec<(String, Option<Group>)>,
    users: Vec<(String, Option<User>)>,
    clients: Vec<(String, Option<OauthClient>)>,
    spaces: Vec<(String, Option<Space>)>,
    /// Per item: the item, its shares and the `uses` it consumes.
    content: Vec<ContentImage>,
}

/// An item as it was before a write: its id, the item (`None`: it did not exist), its shares and
/// the `uses` it consumes.
type ContentImage = (String, Option<Content>, Vec<Share>, Vec<Use>);

/// The spaces with an assignment for `assignee` and the apps shared with it.
fn assignee_rows(tenant: &Tenant, assignee: &Assignee) -> Touched {
    let mut touched = Touched::default();
    for space in &tenant.spaces {
        if space.members.iter().any(|m| &m.assignee == assignee) {
            touched.spaces.insert(space.id.clone());
        }
    }
    for share in tenant.shares.of_other(assignee) {
        touched.content.insert(share.resource.clone());
    }
    touched
}

fn saved<T: Clone + crate::table::Keyed>(table: &crate::table::Table<T>, keys: &BTreeSet<String>) -> Vec<(String, Option<T>)> {
    keys.iter().map(|key| (key.clone(), table.get(key).cloned())).collect()
}

fn changed<T: PartialEq + crate::table::Keyed>(table: &crate::table::Table<T>, saved: &[(String, Option<T>)]) -> BTreeSet<String> {
    saved
        .iter()
        .filter(|(key, before)| table.get(key) != before.as_ref())
        .map(|(key, _)| key.clone())
        .collect()
}

fn restore<T: crate::table::Keyed>(table: &mut crate::table::Table<T>, saved: Vec<(String, Option<T>)>) {
    for (key, before) in saved {
        match before {
            Some(row) => table.upsert(row),
            None => {
                table.remove(&key);
            }
        }
    }
}

impl Tenant {
    /// Checks `change` with the model's rules and applies it; a refusal changes nothing.
    /// Steps that change nothing (unassigning a role not held on that path, leaving a group
    /// one is not in, a login with no toggle to record) succeed and touch nothing.
    pub fn apply(&mut self, change: &Change) -> Result<Applied, OpError> {
        let undo = self.save(&self.plan(change));
        let recorded_roles = self.run(change)?;
        let touched = self.changed_since(&undo);
        for (id, before) in undo.users.iter().filter(|(id, _)| touched.users.contains(id)) {
            self.refs.replace_user(before.as_ref(), self.users.get(id));
        }
        for (id, before) in undo.spaces.iter().filter(|(id, _)| touched.spaces.contains(id)) {
            self.refs.replace_space(before.as_ref(), self.spaces.get(id));
        }
        for (id, before, shares, _) in undo.content.iter().filter(|(id, ..)| touched.content.contains(id)) {
            let after = self.content.get(id).map(|item| (item, self.shares.of(id).next().is_some()));
            self.refs.replace_item(before.as_ref().map(|item| (item, !shares.is_empty())), after);
        }
        Ok(Applied {
            touched,
            recorded_roles,
            undo,
        })
    }

    /// Applies changes in order, all or none: when one is refused, those before it are undone
    /// and the refusal comes back with its position.
    pub fn apply_all(&mut self, changes: &[Change]) -> Result<Vec<Applied>, (usize, OpError)> {
        let mut done: Vec<Applied> = Vec::with_capacity(changes.len());
        for (i, change) in changes.iter().enumerate() {
            match self.apply(change) {
                Ok(applied) => done.push(applied),
                Err(error) => {
                    for applied in done.into_iter().rev() {
                        self.undo(applied.undo);
                    }
                    return Err((i, error));
                }
            }
        }
        Ok(done)
    }

    /// Puts back the rows an applied change replaced (changes after it must be undone first).
    pub fn undo(&mut self, undo: Undo) {
        if let Some(settings) = undo.settings {
            self.settings = settings;
        }
        if let Some(user_default) = undo.user_default {
            self.user_default = user_default;
        }
        if let Some(roles) = undo.everyone_roles {
            self.everyone_roles = roles;
        }
        restore(&mut self.custom_roles, undo.custom_roles);
        restore(&mut self.groups, undo.groups);
        for (id, before) in &undo.users {
            self.refs.replace_user(self.users.get(id), before.as_ref());
        }
        restore(&mut self.users, undo.users);
        restore(&mut self.oauth_clients, undo.clients);
        for (id, before) in &undo.spaces {
            self.refs.replace_space(self.spaces.get(id), before.as_ref());
        }
        restore(&mut self.spaces, undo.spaces);
        for (id, before, shares, _) in &undo.content {
            let now = self.content.get(id).map(|item| (item, self.shares.of(id).next().is_some()));
            self.refs.replace_item(now, before.as_ref().map(|item| (item, !shares.is_empty())));
        }
        for (id, item, shares, uses) in undo.content {
            match item {
                Some(item) => self.content.upsert(item),
                None => {
                    self.content.remove(&id);
                }
            }
            self.shares.remove_of(&id);
            self.shares.extend(shares);
            self.uses.remove_of(&id);
            self.uses.extend(uses);
        }
    }

    /// The rows `change` may touch: a superset, known before it runs.
    fn plan(&self, change: &Change) -> Touched {
        match change {
            Change::AssignRole { target, .. } | Change::UnassignRole { target, .. } => match target {
                RoleTarget::User(id) => Touched::user(id),
                RoleTarget::Group(name) => Touched::group(name),
                RoleTarget::Everyone => Touched {
                    everyone_roles: true,
                    ..Touched::default()
                },
            },
            Change::JoinGroup { user, .. } | Change::LeaveGroup { user, .. } | Change::RecordLogin { user } => Touched::user(user),
            Change::SetSetting { .. } => Touched {
                settings: true,
                ..Touched::default()
            },
            Change::SetUserDefault { .. } | Change::ReplaceUserDefault { .. } => Touched {
                user_default: true,
                ..Touched::default()
            },
            Change::CreateUser { user } => Touched::user(&user.id),
            Change::UpdateUser { id, .. } | Change::ReplaceUserRoles { id, .. } => Touched::user(id),
            Change::DeleteUser { id } => {
                let mut touched = assignee_rows(self, &Assignee::User(id.clone()));
                touched.users.insert(id.clone());
                // What the user owns is left without an owner.
                let owned = self.refs().owned_by(id);
                touched.spaces.extend(owned.spaces.iter().cloned());
                touched.content.extend(owned.items.iter().cloned());
                touched
            }
            Change::CreateGroup { group } => Touched::group(&group.name),
            Change::ReplaceGroupRoles { name, .. } => Touched::group(name),
            Change::ReplaceEveryoneRoles { .. } => Touched {
                everyone_roles: true,
                ..Touched::default()
            },
            Change::DeleteGroup { name } => {
                let mut touched = assignee_rows(self, &Assignee::Group(name.clone()));
                touched.users = self.refs().members_of(name).map(str::to_owned).collect();
                touched.groups.insert(name.clone());
                touched
            }
            Change::CreateCustomRole { role } => Touched::custom_role(&role.name),
            Change::UpdateCustomRole { name, .. } | Change::DeleteCustomRole { name } => Touched::custom_role(name),
            Change::CreateSpace { space } => Touched::space(&space.id),
            Change::UpdateSpace { id, .. } | Change::DeleteSpace { id } => Touched::space(id),
            Change::SetExportOnlyThrough { space, .. } => Touched::space(space),
            Change::SetSpaceMember { space, .. } | Change::RemoveSpaceMember { space, .. } => Touched::space(space),
            Change::CreateContent { item } => Touched::content(&item.id),
            Change::MoveContent { id, .. } | Change::SetContentOwner { id, .. } => Touched::content(id),
            Change::DeleteContent { id } => {
                let mut touched = Touched::content(id);
                touched.content.extend(self.uses.of_other(id).map(|u| u.consumer.clone()));
                touched
            }
            Change::AddUse { reference } => Touched::content(&reference.consumer),
            Change::CreateShare { share } => Touched::content(&share.resource),
            Change::DeleteShare { resource, .. } => Touched::content(resource),
            Change::CreateOauthClient { client } => Touched::client(&client.id),
            Change::UpdateOauthClient { id, .. } | Change::DeleteOauthClient { id } => Touched::client(id),
            Change::SetMeta { target, .. } => match target {
                MetaTarget::User(id) => Touched::user(id),
                MetaTarget::Group(name) => Touched::group(name),
                MetaTarget::CustomRole(name) => Touched::custom_role(name),
                MetaTarget::Client(id) => Touched::client(id),
                MetaTarget::Space(id) => Touched::space(id),
            },
            Change::RenameGroup { name, new_name } => {
                let mut touched = assignee_rows(self, &Assignee::Group(name.clone()));
                touched.users = self.refs().members_of(name).map(str::to_owned).collect();
                touched.groups.extend([name.clone(), new_name.clone()]);
                touched
            }
            Change::RenameCustomRole { name, new_name } => {
                let (users, groups) = self.role_holders(name);
                Touched {
                    everyone_roles: true,
                    custom_roles: BTreeSet::from([name.clone(), new_name.clone()]),
                    users: users.into_iter().collect(),
                    groups: groups.into_iter().collect(),
                    spaces: self.spaces_exporting_through(name).into_iter().collect(),
                    ..Touched::default()
                }
            }
        }
    }

    fn save(&self, planned: &Touched) -> Undo {
        Undo {
            settings: planned.settings.then(|| self.settings.clone()),
            user_default: planned.user_default.then(|| self.user_default.clone()),
            everyone_roles: planned.everyone_roles.then(|| self.everyone_roles.clone()),
            custom_roles: saved(&self.custom_roles, &planned.custom_roles),
            groups: saved(&self.groups, &planned.groups),
            users: saved(&self.users, &planned.users),
            clients: saved(&self.oauth_clients, &planned.clients),
            spaces: saved(&self.spaces, &planned.spaces),
            content: planned
                .content
                .iter()
                .map(|id| {
                    let shares = self.shares.of(id).cloned().collect();
                    let uses = self.uses.of(id).cloned().collect();
                    (id.clone(), self.content.get(id).cloned(), shares, uses)
                })
                .collect(),
        }
    }

    /// What differs from the saved rows.
    fn changed_since(&self, undo: &Undo) -> Touched {
        Touched {
            settings: undo.settings.as_ref().is_some_and(|s| *s != self.settings),
            user_default: undo.user_default.as_ref().is_some_and(|v| *v != self.user_default),
            everyone_roles: undo.everyone_roles.as_ref().is_some_and(|r| *r != self.everyone_roles),
            custom_roles: changed(&self.custom_roles, &undo.custom_roles),
            groups: changed(&self.groups, &undo.groups),
            users: changed(&self.users, &undo.users),
            clients: changed(&self.oauth_clients, &undo.clients),
            spaces: changed(&self.spaces, &undo.spaces),
            content: undo
                .content
                .iter()
                .filter(|(id, item, shares, uses)| {
                    self.content.get(id) != item.as_ref() || !same_rows(self.shares.of(id), shares) || !same_rows(self.uses.of(id), uses)
                })
                .map(|(id, ..)| id.clone())
                .collect(),
        }
    }

    /// Runs the model operation behind `change`; no-op steps succeed.
    fn run(&mut self, change: &Change) -> Result<Vec<&'static str>, OpError> {
        match change {
            Change::AssignRole { role, target } => self.assign_role(role, target)?,
            Change::UnassignRole { role, target } => self.unassign_role(role, target)?,
            Change::JoinGroup { user, group } => self.join_group(user, group)?,
            Change::LeaveGroup { user, group } => self.leave_group(user, group)?,
            Change::SetSetting { setting, value } => self.set_setting(*setting, *value),
            Change::SetUserDefault { permission, value } => self.set_user_default(*permission, *value)?,
            Change::ReplaceUserDefault { values } => self.replace_user_default(values.clone())?,
            Change::RecordLogin { user } => return Ok(self.record_login(user)?),
            Change::CreateUser { user } => self.create_user(user.clone())?,
            Change::UpdateUser { id, name, status } => {
                if self.user(id).is_none() {
                    return Err(OpError::NotFound {
                        what: "user",
                        name: id.clone(),
                    });
                }
                if let Some(name) = name {
                    self.rename_user(id, name)?;
                }
                if let Some(status) = status {
                    self.set_user_status(id, *status)?;
                }
            }
            Change::ReplaceUserRoles { id, roles } => self.replace_user_roles(id, roles)?,
            Change::DeleteUser { id } => self.delete_user(id)?,
            Change::CreateGroup { group } => self.create_group(group.clone())?,
            Change::ReplaceGroupRoles { name, roles } => self.replace_group_roles(name, roles)?,
            Change::ReplaceEveryoneRoles { roles } => self.replace_everyone_roles(roles)?,
            Change::DeleteGroup { name } => self.delete_group(name)?,
            Change::CreateCustomRole { role } => self.create_custom_role(role.clone())?,
            Change::UpdateCustomRole {
                name,
                description,
                permissions,
            } => self.update_custom_role(name, description.clone(), permissions.clone())?,
            Change::DeleteCustomRole { name } => self.delete_custom_role(name)?,
            Change::CreateSpace { space } => self.create_space(space.clone())?,
            Change::UpdateSpace { id, name, owner } => self.update_space(id, name.as_deref(), owner.as_deref())?,
            Change::DeleteSpace { id } => self.delete_space(id)?,
            Change::SetExportOnlyThrough { space, roles } => self.set_export_only_through(space, roles.as_deref())?,
            Change::SetSpaceMember { space, assignee, roles } => self.set_space_member(space, assignee.clone(), *roles)?,
            Change::RemoveSpaceMember { space, assignee } => self.remove_space_member(space, assignee)?,
            Change::CreateContent { item } => self.create_content(item.clone())?,
            Change::MoveContent { id, space } => self.move_content(id, space.as_deref())?,
            Change::SetContentOwner { id, owner } => self.set_content_owner(id, owner)?,
            Change::DeleteContent { id } => self.delete_content(id)?,
            Change::AddUse { reference } => self.add_use(reference.clone())?,
            Change::CreateShare { share } => self.create_share(share.clone())?,
            Change::DeleteShare { resource, assignee } => self.delete_share(resource, assignee)?,
            Change::CreateOauthClient { client } => self.create_oauth_client(client.clone())?,
            Change::UpdateOauthClient {
                id,
                name,
                scopes,
                impersonation,
            } => self.update_oauth_client(id, name.clone(), scopes.clone(), *impersonation)?,
            Change::DeleteOauthClient { id } => self.delete_oauth_client(id)?,
            Change::SetMeta { target, meta } => self.set_meta(target, meta.clone())?,
            Change::RenameGroup { name, new_name } => self.rename_group(name, new_name)?,
            Change::RenameCustomRole { name, new_name } => self.rename_custom_role(name, new_name)?,
        }
        Ok(Vec::new())
    }
}

/// Whether two lists hold the same rows, in any order.
fn same_rows<'a, T: PartialEq + 'a>(now: impl Iterator<Item = &'a T>, before: &[T]) -> bool {
    let now: Vec<&T> = now.collect();
    now.len() == before.len() && now.iter().all(|row| before.contains(row))
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
        serializer.serialize_str(&self.word())
    }
}

impl<'de> Deserialize<'de> for RoleSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RoleSetting, D::Error> {
        let text = String::deserialize(deserializer)?;
        RoleSetting::parse_word(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown permission value `{text}`")))
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
        TenantSetting::parse(&text)
            .map(DirectOrigin::Setting)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown role origin `{text}`")))
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
            Change::UnassignRole {
                role: "Steward".into(),
                target: RoleTarget::User("bob".into()),
            },
            Change::LeaveGroup {
                user: "bob".into(),
                group: "crew".into(),
            },
            Change::AssignRole {
                role: "Steward".into(),
                target: RoleTarget::Everyone,
            },
            Change::AssignRole {
                role: "Steward".into(),
                target: RoleTarget::Everyone,
            },
        ];
        for (i, change) in noop.iter().enumerate() {
            let applied = t.apply(change).unwrap();
            assert_eq!(applied.touched.is_empty(), i != 2, "{change:?}");
        }
        t.apply(&Change::UnassignRole {
            role: "Steward".into(),
            target: RoleTarget::Everyone,
        })
        .unwrap();
        assert_eq!(t, before);
        assert!(t.apply(&Change::DeleteGroup { name: "crew".into() }).is_err());
        assert!(
            t.apply(&Change::JoinGroup {
                user: "ann".into(),
                group: "crew".into()
            })
            .is_err(),
            "joining twice is refused (spec §5.3)"
        );
        assert!(
            t.apply(&Change::AssignRole {
                role: "Nope".into(),
                target: RoleTarget::Everyone
            })
            .is_err()
        );
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
    fn a_batch_is_all_or_nothing_and_undo_restores_every_row() {
        let mut t = tenant();
        let before = t.clone();
        let batch = [
            Change::DeleteContent { id: "d1".into() },
            Change::DeleteUser { id: "bob".into() },
            Change::SetSetting {
                setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole,
                value: true,
            },
            Change::DeleteSpace { id: "nope".into() },
        ];
        // The counts are kept from here on, and must follow every write and every undo.
        let counted = t.refs().clone();
        assert_eq!((counted.items_in("s1"), counted.shared_items_in("s1").count()), (2, 1));
        let (at, _) = t.apply_all(&batch).unwrap_err();
        assert_eq!(at, 3);
        assert_eq!(t, before);
        assert_eq!(*t.refs(), counted);
        let applied = t.apply_all(&batch[..3]).unwrap();
        assert_ne!(t, before);
        assert_eq!(*t.refs(), crate::Refs::build(&t));
        assert_eq!((t.refs().items_in("s1"), t.refs().shared_items_in("s1").count()), (1, 0));
        for applied in applied.into_iter().rev() {
            t.undo(applied.undo);
        }
        assert_eq!(t, before);
        assert_eq!(*t.refs(), counted);
    }

    #[test]
    fn an_undo_read_back_from_json_restores_every_row() {
        // As access history does: the undos kept as the change log keeps them, put back newest first.
        let mut t = tenant();
        let before = t.clone();
        let changes = [
            Change::DeleteUser { id: "bob".into() },
            Change::DeleteContent { id: "d1".into() },
            Change::SetSetting {
                setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole,
                value: true,
            },
            Change::AssignRole {
                role: "Steward".into(),
                target: RoleTarget::Everyone,
            },
        ];
        let logged: Vec<String> = changes
            .iter()
            .map(|change| serde_json::to_string(&t.apply(change).unwrap().undo).unwrap())
            .collect();
        for text in logged.iter().rev() {
            t.undo(serde_json::from_str(text).unwrap());
        }
        assert_eq!(t, before);
        assert_eq!(*t.refs(), crate::Refs::build(&t));
    }

    #[test]
    fn changes_round_trip_through_json() {
        let changes = vec![
            Change::AssignRole {
                role: "Steward".into(),
                target: RoleTarget::Group("crew".into()),
            },
            Change::SetSpaceMember {
                space: "s1".into(),
                assignee: Assignee::User("bob".into()),
                roles: SpaceRoleSet::of(&[SpaceRole::Consumer, SpaceRole::Producer]),
            },
            Change::SetSetting {
                setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole,
                value: true,
            },
            Change::CreateUser {
                user: tenant().user("ann").unwrap().clone(),
            },
            Change::UpdateCustomRole {
                name: "r".into(),
                description: None,
                permissions: Some(BTreeMap::from([(
                    Permission::parse("in-app-content-download").unwrap(),
                    RoleSetting::UserDefault,
                )])),
            },
        ];
        for change in changes {
            let json = serde_json::to_string(&change).unwrap();
            assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), change, "{json}");
        }
        let text = serde_json::to_string(&Change::JoinGroup {
            user: "u".into(),
            group: "g".into(),
        })
        .unwrap();
        assert_eq!(text, r#"{"change":"joinGroup","user":"u","group":"g"}"#);
    }
}
